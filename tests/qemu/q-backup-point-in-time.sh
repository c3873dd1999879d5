#!/bin/bash
# A backup is the disk at the instant its job began: guest writes made while
# a file is open do not show in it, nor in the files of the same directory
# opened later (they share the job).
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm
D=$MNT/vm
img=$(disk_image vm vda) || fail "no image of vda"
guest_write vm vda 0x5a 4M 128k
backup_mount backup_linger=1

exec 3<"$D/vda.qcow2"
sock=$(backup_socket "$D/vda.qcow2") || fail "no user.checkpointfs.nbd on the open vda.qcow2"
# The disk as the job saw it (no guest writes since the open).
qemu-img convert -U -f qcow2 -O raw "$img" "$SCRATCH/then.raw" || fail "qemu-img convert"
guest_write vm vda 0x77 4M 64k
guest_write vm vda 0x77 12M 64k
! qemu-img compare -q -U -f raw -F qcow2 "$SCRATCH/then.raw" "$img" ||
    fail "the later writes did not change the disk"

cat <&3 >"$SCRATCH/copy.qcow2" || fail "reading the open vda.qcow2"
exec 4<"$D/vda.raw"
[ "$(backup_socket "$D/vda.raw")" = "$sock" ] || fail "vda.raw opened later runs another job"
cp --sparse=always "$D/vda.raw" "$SCRATCH/copy.raw" || fail "cp vda.raw"
cp "$D/vda.qcow2" "$SCRATCH/copy2.qcow2" || fail "cp vda.qcow2"
exec 3<&- 4<&-

# bytes_at FILE OFFSET: the distinct byte values of the 64 KiB at OFFSET.
bytes_at() {
    dd if="$1" bs=64k skip=$(( $2 / 65536 )) count=1 status=none | od -An -v -tx1 |
        tr -s ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' '
}
qemu-img convert -f qcow2 -O raw "$SCRATCH/copy.qcow2" "$SCRATCH/copy-qcow2.raw" ||
    fail "the copy of vda.qcow2 is no qcow2"
for f in copy-qcow2.raw copy.raw; do
    [ "$(bytes_at "$SCRATCH/$f" $((4 << 20)))" = "5a " ] ||
        fail "$f has [$(bytes_at "$SCRATCH/$f" $((4 << 20)))] at 4M, not the 0x5a of before"
    [ "$(bytes_at "$SCRATCH/$f" $((12 << 20)))" = "00 " ] ||
        fail "$f has [$(bytes_at "$SCRATCH/$f" $((12 << 20)))] at 12M, written after the open"
done
for f in copy.qcow2 copy2.qcow2; do
    qemu-img compare -q -f qcow2 -F raw "$SCRATCH/$f" "$SCRATCH/then.raw" ||
        fail "$f differs from the disk at the open: $(qemu-img compare "$SCRATCH/$f" "$SCRATCH/then.raw" 2>&1)"
done
qemu-img compare -q -f raw -F raw "$SCRATCH/copy.raw" "$SCRATCH/then.raw" ||
    fail "the copy of vda.raw differs from the disk at the open"
pass "the open file and the same directory's files opened later show the disk at the first open"

# Once the job ended, a new open shows the later writes.
wait_until 10 backup_ended vm || fail "the job did not end"
cp "$D/vda.qcow2" "$SCRATCH/now.qcow2" || fail "cp vda.qcow2 again"
qemu-img compare -q -U -f qcow2 -F qcow2 "$SCRATCH/now.qcow2" "$img" ||
    fail "a new job's vda.qcow2 differs from the disk now"
pass "a new job shows the disk as it is now"
cpfs_umount
