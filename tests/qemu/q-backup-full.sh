#!/bin/bash
# A domain directory's vda.qcow2 and vda.raw copy to exactly the disk
# (qemu-img compare against its image): the qcow2 is a clean standalone
# image of the allocated clusters, the raw copy sparse, and vda.raw's
# SEEK_DATA/SEEK_HOLE extents are the allocation map of the job's export.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm --disks 2
guest_write vm vda 0x5a 0 64k
guest_write vm vda 0x11 3M 192k
guest_write vm vda 0x22 17M 64k
guest_write vm vda 0x33 40M 1M
guest_zero vm vda 41216k 64k
guest_write vm vdb 0x44 5M 128k
img_a=$(disk_image vm vda) && img_b=$(disk_image vm vdb) || fail "no disk images"
D=$MNT/vm
out=$SCRATCH/out
mkdir "$out"

backup_mount backup_linger=1
cp "$D/vda.qcow2" "$D/vdb.qcow2" "$out/" || fail "cp vda.qcow2 vdb.qcow2"
cp --sparse=always "$D/vda.raw" "$out/" || fail "cp vda.raw"
for disk in vda vdb; do
    check=$(qemu-img check "$out/$disk.qcow2" 2>&1) || fail "qemu-img check $disk.qcow2: $check"
done
qemu-img compare -q -U -f qcow2 -F qcow2 "$out/vda.qcow2" "$img_a" ||
    fail "vda.qcow2 differs from vda's image: $(qemu-img compare -U "$out/vda.qcow2" "$img_a" 2>&1)"
qemu-img compare -q -U -f qcow2 -F qcow2 "$out/vdb.qcow2" "$img_b" ||
    fail "vdb.qcow2 differs from vdb's image: $(qemu-img compare -U "$out/vdb.qcow2" "$img_b" 2>&1)"
qemu-img compare -q -U -f raw -F qcow2 "$out/vda.raw" "$img_a" ||
    fail "vda.raw differs from vda's image: $(qemu-img compare -U "$out/vda.raw" "$img_a" 2>&1)"
pass "the copies of vda.qcow2, vdb.qcow2 and vda.raw equal the disks; the qcow2s are clean"

size=$(stat -c %s "$out/vda.raw")
[ "$size" -eq $((64 << 20)) ] || fail "the raw copy has $size bytes, not the disk's 64 MiB"
used=$(( $(stat -c %b "$out/vda.raw") * $(stat -c %B "$out/vda.raw") ))
[ "$used" -lt $((4 << 20)) ] || fail "the raw copy uses $used bytes on disk (1.4 MiB written)"
qsize=$(stat -c %s "$out/vda.qcow2")
[ "$qsize" -lt $((4 << 20)) ] || fail "vda.qcow2 has $qsize bytes for 1.4 MiB of clusters"
pass "the raw copy is sparse ($used of $size bytes used); vda.qcow2 has $qsize bytes"

# qemu-img reads the mounted image itself, many requests in flight (-m 16)
# on one open file: the daemon's read-ahead serves concurrent readers.
qemu-img convert -m 16 -f qcow2 -O raw "$D/vda.qcow2" "$out/converted.raw" ||
    fail "qemu-img convert of the mounted vda.qcow2"
qemu-img compare -q -U -f raw -F qcow2 "$out/converted.raw" "$img_a" ||
    fail "qemu-img convert of the mounted vda.qcow2 differs from vda's image"
pass "qemu-img convert of the mounted vda.qcow2 (16 requests in flight) equals the disk"

exec 3<"$D/vda.raw" || fail "cannot open vda.raw"
uri=$(backup_uri "$D/vda.raw") || fail "no user.checkpointfs.nbd on the open vda.raw"
seek=$(data_runs "$D/vda.raw") || fail "lseek on vda.raw"
nbd=$(nbd_data_runs "$uri") || fail "nbdinfo --map $uri"
[ "$seek" = "$nbd" ] || fail "SEEK_DATA/SEEK_HOLE give [$(echo $seek)], the export [$(echo $nbd)]"
want=$(ranges 0:64k 3M:192k 17M:64k 40M:256k 41280k:704k)
[ "$seek" = "$want" ] || fail "vda.raw's data runs are [$(echo $seek)], expected [$(echo $want)]"
exec 3<&-
pass "vda.raw's SEEK_DATA/SEEK_HOLE extents are the export's map ($(echo "$seek" | wc -l) runs)"

wait_until 10 backup_ended vm || fail "the job did not end after the files were closed"
cpfs_umount
