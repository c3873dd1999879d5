#!/bin/sh
# mkdirat through the fd of a checkpoint deleted and made again under its name gives ENOENT (issue 8, fault 7).
. "$TESTS_SRC/lib.sh"

cpfs_mount test:///default
"$PYTHON" "$HELPERS/fs_checks.py" mkdirat-stale "$MNT/test" || fail "mkdirat-stale: see FAIL lines above"
pass "mkdirat-stale"
cpfs_umount
