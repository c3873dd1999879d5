#!/bin/sh
echo "FAIL: test cmdline not written yet"
exit 1
