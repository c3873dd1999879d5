#!/bin/sh
echo "FAIL: test xml-read not written yet"
exit 1
