#!/bin/bash
# kill -9 of checkpointfs loses nothing: libvirt holds all state.  The dead
# mount is cleared with fusermount3 -uz and mounted again.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
cpfs_mount "$LV_URI"
mkdir "$MNT/vm1/a" "$MNT/vm1/a/b" "$MNT/vm1/a/b/c"
before=$(tree_of_virsh vm1) || fail "virsh cannot list the checkpoints"
[ "$before" = "$(printf 'a -\nb a\nc b')" ] || fail "virsh shows [$before] after mkdir a/b/c"

kill -9 "$CPFS_PID"
wait "$CPFS_PID" 2>/dev/null || true
CPFS_PID=
got=$(errno_of stat "$MNT/vm1")
[ "$got" = ENOTCONN ] || fail "a dead mount gave $got, expected ENOTCONN"
[ "$(tree_of_virsh vm1)" = "$before" ] || fail "killing the daemon changed libvirt's checkpoints"
fusermount3 -uz "$MNT" || fail "fusermount3 -uz failed"

cpfs_mount "$LV_URI"
[ "$(tree_of_mount vm1)" = "$before" ] || fail "the remounted tree differs"
pass "kill -9 of the daemon lost nothing; remounted after fusermount3 -uz"
cpfs_umount
