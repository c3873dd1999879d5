#!/bin/sh
echo "FAIL: test other-ops not written yet"
exit 1
