#!/bin/sh
echo "FAIL: test many-clients not written yet"
exit 1
