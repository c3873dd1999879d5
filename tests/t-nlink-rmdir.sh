#!/bin/sh
# fstat of an open xml after rmdir of its checkpoint gives nlink 0 (issue 8, fault 8).
. "$TESTS_SRC/lib.sh"

# A long attribute timeout: a stale link count cannot expire during the check.
cpfs_mount -o cache_timeout=20 test:///default
"$PYTHON" "$HELPERS/fs_checks.py" nlink "$MNT/test" || fail "nlink: see FAIL lines above"
pass "nlink"
cpfs_umount
