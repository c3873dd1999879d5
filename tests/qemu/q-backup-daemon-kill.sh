#!/bin/bash
# checkpointfs killed (kill -9) during a backup: the job stays in libvirt
# (only the daemon could end it); mounted again, opening a file of the
# domain ends that left job and begins a new one, which copies the disk.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm
guest_write vm vda 0x5a 1M 256k
backup_mount backup_linger=1
D=$MNT/vm

exec 3<"$D/vda.qcow2"
old=$(backup_socket "$D/vda.qcow2") || fail "no user.checkpointfs.nbd on the open vda.qcow2"
pids=$(daemon_pids "$MNT")
[ "$pids" = "$CPFS_PID" ] || fail "daemon pids for $MNT: [$pids], expected $CPFS_PID"
kill -9 "$CPFS_PID"
wait "$CPFS_PID" 2>/dev/null || true
CPFS_PID=
exec 3<&-
backup_running vm || fail "the job went with the daemon"
virsh_lv backup-dumpxml vm | grep -qF "socket='$old'" || fail "the running job is not the daemon's"
fusermount3 -uz "$MNT" || fail "fusermount3 -uz failed"
pass "daemon killed: its job stays in libvirt"

backup_mount backup_linger=1
exec 3<"$D/vda.qcow2" || fail "opening vda.qcow2 after the remount"
new=$(backup_socket "$D/vda.qcow2") || fail "no user.checkpointfs.nbd after the remount"
[ "$new" != "$old" ] || fail "the remounted daemon serves the dead one's job"
virsh_lv backup-dumpxml vm | grep -qF "socket='$new'" || fail "libvirt's job is not the new one"
cat <&3 >"$SCRATCH/vda.qcow2" || fail "reading vda.qcow2 after the remount"
exec 3<&-
qemu-img compare -q -U -f qcow2 -F qcow2 "$SCRATCH/vda.qcow2" "$(disk_image vm vda)" ||
    fail "the copy after the remount differs from the disk"
wait_until 10 backup_ended vm || fail "the new job did not end"
wait_until 5 test -z "$(scratch_files)" || fail "scratch files remain: $(scratch_files)"
pass "remounted: the left job was ended, a new one copies the disk; no scratch file left"
cpfs_umount
