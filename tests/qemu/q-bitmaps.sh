#!/bin/sh
echo "FAIL: test bitmaps not written yet"
exit 1
