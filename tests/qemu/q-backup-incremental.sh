#!/bin/bash
# Incremental backups: c1/vda.qcow2 holds exactly the clusters changed since
# c1 (zeroed ones as zero clusters), and a full copy with the increments
# rebased on it (qemu-img rebase -u) equals the disk.  The disks of one
# directory come from one job: one instant.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm --disks 2
D=$MNT/vm
out=$SCRATCH/out
mkdir "$out" "$out/full" "$out/inc1" "$out/inc2"

# Before the full backup: W0.
guest_write vm vda 0x10 0 256k
guest_write vm vda 0x10 8M 128k
guest_write vm vdb 0x10 2M 64k
backup_mount backup_files=visible,backup_linger=1
cp "$D/vda.qcow2" "$D/vdb.qcow2" "$out/full/" || fail "cp of the full images"
wait_until 10 backup_ended vm || fail "the full backup's job did not end"
mkdir "$D/c1" || fail "mkdir c1"

# Since c1: A, partly over W0.
guest_write vm vda 0x20 64k 128k
guest_write vm vda 0x20 20M 64k
guest_write vm vdb 0x20 6M 192k
mkdir "$D/c1/c2" || fail "mkdir c1/c2"
exec 3<"$D/c1/vda.qcow2" 4<"$D/c1/vdb.qcow2"
sock_a=$(backup_socket "$D/c1/vda.qcow2") && sock_b=$(backup_socket "$D/c1/vdb.qcow2") ||
    fail "no user.checkpointfs.nbd on the open c1 files"
[ "$sock_a" = "$sock_b" ] || fail "c1's vda and vdb come from two jobs: $sock_a, $sock_b"
cp "$D"/c1/*.qcow2 "$out/inc1/" || fail "cp c1/*.qcow2"
exec 3<&- 4<&-
[ "$(ls "$out/inc1" | tr '\n' ' ')" = "vda.qcow2 vdb.qcow2 " ] ||
    fail "cp c1/*.qcow2 copied [$(ls "$out/inc1")]"
got=$(qcow2_runs "$out/inc1/vda.qcow2") || fail "qemu-img map inc1/vda.qcow2"
want=$(ranges 64k:128k 20M:64k)
[ "$got" = "$want" ] || fail "c1/vda.qcow2 holds [$(echo $got)], expected A's clusters [$(echo $want)]"
got=$(qcow2_runs "$out/inc1/vdb.qcow2") || fail "qemu-img map inc1/vdb.qcow2"
[ "$got" = "$(ranges 6M:192k)" ] || fail "c1/vdb.qcow2 holds [$(echo $got)], expected 6M:192k"
pass "c1's files hold exactly the clusters changed since c1, both disks from one job"
wait_until 10 backup_ended vm || fail "c1's job did not end"

# Since c2: B, with zeroes over W0 and A.
guest_write vm vda 0x30 30M 64k
guest_zero vm vda 0 128k
guest_zero vm vdb 2M 64k
cp "$D"/c1/c2/*.qcow2 "$out/inc2/" || fail "cp c1/c2/*.qcow2"
got=$(qcow2_runs "$out/inc2/vda.qcow2") || fail "qemu-img map inc2/vda.qcow2"
want=$(ranges 0:128k 30M:64k)
[ "$got" = "$want" ] || fail "c2/vda.qcow2 holds [$(echo $got)], expected B's clusters [$(echo $want)]"
got=$(qcow2_runs "$out/inc2/vdb.qcow2") || fail "qemu-img map inc2/vdb.qcow2"
[ "$got" = "$(ranges 2M:64k)" ] || fail "c2/vdb.qcow2 holds [$(echo $got)], expected 2M:64k"

for disk in vda vdb; do
    for f in full/$disk inc1/$disk inc2/$disk; do
        check=$(qemu-img check "$out/$f.qcow2" 2>&1) || fail "qemu-img check $f.qcow2: $check"
    done
    qemu-img rebase -u -F qcow2 -b "$out/full/$disk.qcow2" "$out/inc1/$disk.qcow2" ||
        fail "rebase inc1/$disk"
    qemu-img rebase -u -F qcow2 -b "$out/inc1/$disk.qcow2" "$out/inc2/$disk.qcow2" ||
        fail "rebase inc2/$disk"
    img=$(disk_image vm $disk) || fail "no image of $disk"
    qemu-img compare -q -U -f qcow2 -F qcow2 "$out/inc2/$disk.qcow2" "$img" ||
        fail "full + inc1 + inc2 of $disk differ from the disk: $(qemu-img compare -U "$out/inc2/$disk.qcow2" "$img" 2>&1)"
done
pass "full + c1 + c2 rebased on each other equal both disks (zeroed clusters included)"
wait_until 10 backup_ended vm || fail "c2's job did not end"
cpfs_umount
