#!/bin/sh
# A user who is not root (uid 65534) mounts their own libvirt,
# qemu:///session as they would write it, on a directory they own, through
# fusermount3: checkpoints made and deleted there are real (virsh and
# QEMU's dirty bitmaps agree), the tree is theirs, and they unmount it.
. "$TESTS_SRC/lib-user.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
[ "$LV_USER_ID" = "$USER_ID" ] || fail "lib-qemu's daemon user is not lib-user's user"
qemu_start_libvirtd
qemu_define vm1

# The user's session: libvirt finds the daemon's socket under XDG_RUNTIME_DIR.
USER_ENV="HOME=$LV_DIR XDG_RUNTIME_DIR=$LV_DIR/run XDG_CONFIG_HOME=$LV_DIR/config XDG_CACHE_HOME=$LV_DIR/cache"
user_mount qemu:///session
src=$(awk -v p="$MNT" '$5 == p { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 2); exit } }' \
    /proc/self/mountinfo)
[ "$src" = qemu:///session ] || fail "mount source is '$src', expected qemu:///session"
grep -F " $MNT " /proc/self/mountinfo | grep -q "user_id=$USER_ID" || fail "the mount is not the user's"
[ "$(as_user ls "$MNT")" = vm1 ] || fail "the user's mount lists '$(as_user ls "$MNT")', expected vm1"

as_user mkdir "$MNT/vm1/mon" || fail "mkdir vm1/mon failed"
as_user mkdir "$MNT/vm1/mon/tue" || fail "mkdir vm1/mon/tue failed"
[ "$(virsh_checkpoints vm1 | tr '\n' ' ')" = "mon tue " ] ||
    fail "virsh lists '$(virsh_checkpoints vm1 | tr '\n' ' ')', expected 'mon tue'"
[ "$(virsh_parent vm1 tue)" = mon ] || fail "virsh gives tue the parent $(virsh_parent vm1 tue)"
[ "$(qemu_bitmaps vm1 | awk '{ print $2 }' | tr '\n' ' ')" = "mon tue " ] ||
    fail "QEMU's bitmaps are '$(qemu_bitmaps vm1)', expected mon and tue"
as_user grep -q '<name>tue</name>' "$MNT/vm1/mon/tue/xml" || fail "tue's xml is wrong"
owner=$(as_user stat -c %u:%g "$MNT/vm1" "$MNT/vm1/mon" "$MNT/vm1/mon/tue/xml" | sort -u)
[ "$owner" = "$USER_ID:$USER_ID" ] || fail "the tree belongs to '$owner', not to the user"
got=$(errno_of stat "$MNT/vm1")
[ "$got" = EACCES ] || fail "root got $got in the user's mount, expected EACCES"

as_user rmdir "$MNT/vm1/mon" || fail "rmdir vm1/mon failed"
[ "$(virsh_checkpoints vm1)" = tue ] || fail "virsh lists '$(virsh_checkpoints vm1)' after rmdir"
[ "$(virsh_parent vm1 tue)" = - ] || fail "tue did not become a root in libvirt"
[ -n "$(as_user ls -d "$MNT/vm1/tue")" ] || fail "tue did not move up in the mount"
user_umount
pass "uid $USER_ID mounts its qemu:///session through fusermount3: mkdir, rmdir, unmount"
