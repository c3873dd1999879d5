#!/bin/sh
# Other users: without allow_other only the mounting user sees the tree (the
# kernel's rule); with allow_other, default_permissions is forced on, so
# another user can list and read but gets EACCES on mkdir and rmdir.
. "$TESTS_SRC/lib.sh"
command -v setpriv >/dev/null || skip "no setpriv"
[ "$(id -u)" = 0 ] || skip "needs root to act as another user"
other=65534
as_other() { setpriv --reuid=$other --regid=$other --clear-groups "$@"; }
chmod 755 "$SCRATCH"

cpfs_mount test:///default
mkdir "$MNT/test/a"
got=$(as_other "$PYTHON" "$HELPERS/errno_of.py" stat "$MNT/test")
[ "$got" = EACCES ] || fail "without allow_other another user got $got, expected EACCES"
got=$(as_other "$PYTHON" "$HELPERS/errno_of.py" opendir "$MNT")
[ "$got" = EACCES ] || fail "without allow_other another user listed the root: $got"
pass "without allow_other only the mounting user gets in"
cpfs_umount

cpfs_mount -o allow_other test:///default
mkdir "$MNT/test/a"
grep -F " $MNT " /proc/self/mounts | grep -q default_permissions ||
    fail "allow_other did not turn default_permissions on"
[ "$(as_other ls "$MNT/test")" = "$(printf 'a\nxml')" ] || fail "another user cannot list"
as_other cat "$MNT/test/a/xml" | grep -q '<name>a</name>' || fail "another user cannot read xml"
got=$(as_other "$PYTHON" "$HELPERS/errno_of.py" mkdir "$MNT/test/a/b")
[ "$got" = EACCES ] || fail "another user's mkdir gave $got, expected EACCES"
got=$(as_other "$PYTHON" "$HELPERS/errno_of.py" rmdir "$MNT/test/a")
[ "$got" = EACCES ] || fail "another user's rmdir gave $got, expected EACCES"
[ -d "$MNT/test/a" ] && [ ! -e "$MNT/test/a/b" ] || fail "another user changed the tree"
mkdir "$MNT/test/a/b" || fail "the mounting user cannot mkdir with allow_other"
pass "with allow_other another user reads but cannot change anything"
cpfs_umount
