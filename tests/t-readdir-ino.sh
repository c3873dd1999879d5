#!/bin/sh
# readdir's d_ino is the number lstat gives, also for entries never looked up (issue 8, fault 8).
. "$TESTS_SRC/lib.sh"

cpfs_mount test:///default
mkdir "$MNT/test/d1" || fail "mkdir d1 failed"
"$PYTHON" "$HELPERS/fs_checks.py" dino "$MNT/test" || fail "dino: see FAIL lines above"
pass "dino"
cpfs_umount
