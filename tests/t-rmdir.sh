#!/bin/sh
echo "FAIL: test rmdir not written yet"
exit 1
