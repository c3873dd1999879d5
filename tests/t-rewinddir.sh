#!/bin/sh
# rewinddir (lseek 0 on a directory fd) shows the directory as it is now (issue 8, fault 4).
. "$TESTS_SRC/lib.sh"

cpfs_mount test:///default
"$PYTHON" "$HELPERS/fs_checks.py" rewinddir "$MNT/test" || fail "rewinddir: see FAIL lines above"
pass "rewinddir"
cpfs_umount
