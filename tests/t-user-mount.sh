#!/bin/sh
# A user who is not root mounts through fusermount3, on a directory they
# own: the tree works and belongs to them, they unmount it themselves, and
# -o allow_other without user_allow_other in /etc/fuse.conf is a one-line
# startup error naming that file, given before libvirt is called.
# (tests/qemu/q-session-user.sh does the same on their own qemu:///session.)
. "$TESTS_SRC/lib-user.sh"

ERR=$SCRATCH/err

# --- a plain user mount -------------------------------------------------------
user_mount test:///default
[ "$(as_user ls "$MNT")" = test ] || fail "the user's mount does not list domain test"
as_user mkdir "$MNT/test/mine" || fail "the user's mkdir failed"
as_user grep -q '<name>mine</name>' "$MNT/test/mine/xml" || fail "the new checkpoint's xml is wrong"
owner=$(as_user stat -c %u:%g "$MNT/test/mine" "$MNT/test/mine/xml" | sort -u)
[ "$owner" = "$USER_ID:$USER_ID" ] || fail "the tree belongs to '$owner', not to the user"
grep -F " $MNT " /proc/self/mountinfo | grep -q "user_id=$USER_ID" ||
    fail "the mount is not the user's: $(grep -F " $MNT " /proc/self/mountinfo)"
# Without allow_other nobody else gets in, root included (the kernel's rule).
got=$(errno_of stat "$MNT/test")
[ "$got" = EACCES ] || fail "root got $got in the user's mount, expected EACCES"
as_user rmdir "$MNT/test/mine" || fail "the user's rmdir failed"
user_umount
! mounted "$MNT" || fail "fusermount3 -u left the user's mount"
pass "uid $USER_ID mounts test:///default on its own directory, mkdir/rmdir, unmounts"

# --- allow_other and /etc/fuse.conf -------------------------------------------
# allow_other_fails WHAT URI: the user's -o allow_other mount exits 1 with one
# line naming /etc/fuse.conf and user_allow_other, and mounts nothing.
allow_other_fails() {
    rc=0
    as_user "$CHECKPOINTFS" -o allow_other "$2" "$MNT" >/dev/null 2>"$ERR" </dev/null || rc=$?
    [ "$rc" -eq 1 ] || fail "$1: exit status $rc, expected 1 (stderr: $(cat "$ERR"))"
    [ "$(wc -l <"$ERR")" -eq 1 ] || fail "$1: expected one line on stderr, got: $(cat "$ERR")"
    grep -qE '^checkpointfs: .*/etc/fuse\.conf.*user_allow_other' "$ERR" ||
        fail "$1: the error does not name /etc/fuse.conf and user_allow_other: $(cat "$ERR")"
    ! mounted "$MNT" || fail "$1: something is mounted"
    pass "$1: $(cat "$ERR")"
}
for conf in '#user_allow_other' '' 'user_allow_other_not' 'mount_max = 10'; do
    set_fuse_conf "$conf"
    allow_other_fails "allow_other with fuse.conf '$conf'" test:///default
done
# Checked before connecting: an unreachable libvirt is not what it reports.
allow_other_fails "allow_other, libvirt unreachable" "qemu+unix:///system?socket=$SCRATCH/nosock"

# A user with CAP_SYS_ADMIN mounts by itself, without fusermount3 and its
# rules: allow_other works then without user_allow_other.
if setpriv --help 2>&1 | grep -q ambient-caps; then
    setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups \
        --inh-caps=+sys_admin --ambient-caps=+sys_admin \
        "$CHECKPOINTFS" -f -o allow_other test:///default "$MNT" >"$LOG" 2>&1 &
    CPFS_PID=$!
    wait_until 20 mounted "$MNT" || fail "uid $USER_ID with CAP_SYS_ADMIN could not mount with allow_other"
    [ "$(ls "$MNT")" = test ] || fail "root cannot list the allow_other mount"
    user_umount
    pass "uid $USER_ID with CAP_SYS_ADMIN: allow_other needs no user_allow_other"
fi

# With user_allow_other (spaces and a comment around it, as fusermount3
# accepts) the user's allow_other mount works, and root gets in.
set_fuse_conf "# allow it
  user_allow_other   # for checkpointfs"
user_mount -o allow_other test:///default
[ "$(ls "$MNT")" = test ] || fail "root cannot list the user's allow_other mount"
grep -q '<name>test</name>' "$MNT/test/xml" || fail "root cannot read the user's allow_other mount"
user_umount
pass "with user_allow_other in /etc/fuse.conf the user's allow_other mount lets root in"
