#!/bin/bash
# A checkpoint's file open while checkpoints change: mkdir below it and
# rmdir of it both work, and the open file still reads to its end as the
# valid incremental image it was when opened.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm
backup_mount backup_linger=1
D=$MNT/vm
mkdir "$D/c1" || fail "mkdir c1"
guest_write vm vda 0x5a 2M 192k
guest_write vm vda 0x5b 9M 64k

exec 3<"$D/c1/vda.qcow2"
size=$(fd_size 3) || fail "fstat of the open file"
mkdir "$D/c1/c2" || fail "mkdir c1/c2 while c1/vda.qcow2 is open"
rmdir "$D/c1" || fail "rmdir c1 while c1/vda.qcow2 is open"
[ -d "$D/c2" ] || fail "c2 did not move up: $(cd "$D" && find . -type d)"
names=$(virsh_checkpoints vm) || fail "virsh cannot list the checkpoints"
[ "$names" = c2 ] || fail "virsh lists [$(echo $names)] after rmdir c1, expected c2"
pass "mkdir below and rmdir of the checkpoint whose file is open both work"

after=$(fd_size 3) || fail "fstat of the open file after rmdir c1"
[ "$after" -eq "$size" ] || fail "fstat of the open file said $size bytes, after rmdir c1 $after"
cat <&3 >"$SCRATCH/c1.qcow2" || fail "reading the open c1/vda.qcow2 after rmdir c1"
exec 3<&-
[ "$(stat -c %s "$SCRATCH/c1.qcow2")" -eq "$size" ] ||
    fail "read $(stat -c %s "$SCRATCH/c1.qcow2") bytes, fstat said $size"
check=$(qemu-img check "$SCRATCH/c1.qcow2" 2>&1) || fail "qemu-img check of the copy: $check"
got=$(qcow2_runs "$SCRATCH/c1.qcow2") || fail "qemu-img map of the copy"
want=$(ranges 2M:192k 9M:64k)
[ "$got" = "$want" ] || fail "the copy holds [$(echo $got)], expected [$(echo $want)]"
pass "the open file read to its end: a clean qcow2 of the clusters changed since c1"

wait_until 10 backup_ended vm || fail "the job did not end"
bitmaps=$(qemu_bitmaps vm) || fail "cannot read qemu's bitmaps"
[ "$bitmaps" = "vm-vda.qcow2 c2" ] || fail "qemu's bitmaps after the job: [$(echo $bitmaps)]"
pass "the job ended leaving only c2's bitmap"
cpfs_umount
