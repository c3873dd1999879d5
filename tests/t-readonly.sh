#!/bin/sh
echo "FAIL: test readonly not written yet"
exit 1
