#!/bin/sh
echo "FAIL: test inactive-raw not written yet"
exit 1
