#!/bin/sh
echo "FAIL: test mkdir not written yet"
exit 1
