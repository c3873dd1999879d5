#!/bin/bash
# The connection breaks right after libvirt created a checkpoint, before the
# daemon read it back (issue 8, fault 2: mkdir said EIO for a checkpoint
# that existed, and logged no "outcome unknown").  The daemon waits for the
# reconnection, finds the checkpoint, checks its place: mkdir succeeds.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
proxy_sock=$SCRATCH/proxy.sock
cut=$SCRATCH/cut
"$PYTHON" "$HELPERS/rpc_cut_proxy.py" "$proxy_sock" "$LV_SOCK" "<name>c2</name>" "$cut" &
wait_until 10 test -S "$proxy_sock" || fail "the proxy did not start"
cpfs_mount -o cache_timeout=0.5 "qemu+unix:///session?socket=$proxy_sock"
mkdir "$MNT/vm1/c1" || fail "mkdir c1"

got=$(errno_of mkdir "$MNT/vm1/c1/c2")
[ -e "$cut" ] || fail "the proxy never cut the connection (mkdir gave $got)"
log_has "lost the connection to libvirt"
virsh_checkpoints vm1 | grep -qx c2 || fail "libvirt has no checkpoint c2 (mkdir gave $got)"
[ "$got" = OK ] || fail "mkdir c2 gave $got, but libvirt made the checkpoint"
[ "$(virsh_parent vm1 c2)" = c1 ] || fail "c2's parent is not c1"
log_has "create checkpoint 'c2' was cut off; after reconnecting the checkpoint exists"
wait_until 10 test -d "$MNT/vm1/c1/c2" || fail "c2 does not show in the mount"
pass "a create cut off before its read-back: mkdir learnt the outcome and succeeded"
cpfs_umount
