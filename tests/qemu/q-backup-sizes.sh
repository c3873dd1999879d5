#!/bin/bash
# File sizes: vda.raw is the disk's size; an unopened checkpoint's
# vda.qcow2 is estimated from libvirt's changed bytes (within 1 MiB plus
# metadata); once open, fstat gives the exact size, the bytes a read gets.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm --disks 2
backup_mount backup_linger=1
D=$MNT/vm
mkdir "$D/c1" || fail "mkdir c1"
guest_write vm vda 0x5a 1M 1M
guest_write vm vda 0x5b 8M 2M
guest_write vm vda 0x5c 30M 64k
guest_write vm vda 0x5d 50M 960k
guest_write vm vdb 0x5e 0 64k

size=$(stat -c %s "$D/vda.raw") || fail "stat vda.raw"
[ "$size" -eq $((64 << 20)) ] || fail "vda.raw has size $size, the disk 64 MiB"
pass "vda.raw's size is the disk's"

virsh_lv checkpoint-dumpxml vm c1 --size >"$SCRATCH/c1.xml" || fail "virsh checkpoint-dumpxml --size"
changed=$("$PYTHON" "$HELPERS/checkpoint_xml.py" disk-size "$SCRATCH/c1.xml" vda) ||
    fail "no size for vda in $(cat "$SCRATCH/c1.xml")"
[ "$changed" -eq $((4 << 20)) ] || fail "libvirt counts $changed changed bytes, 4 MiB were written"
estimate=$(stat -c %s "$D/c1/vda.qcow2") || fail "stat c1/vda.qcow2"
backup_ended vm || fail "stat began a backup job"
# 1 MiB of slack, and metadata: header, tables, refcounts (a few clusters).
[ "$estimate" -ge $((changed - (1 << 20))) ] && [ "$estimate" -le $((changed + (3 << 19))) ] ||
    fail "unopened c1/vda.qcow2 has size $estimate, libvirt counts $changed changed bytes"
pass "unopened c1/vda.qcow2: $estimate bytes for libvirt's $changed changed bytes"

exec 3<"$D/c1/vda.qcow2"
exact=$(fd_size 3) || fail "fstat of the open c1/vda.qcow2"
got=$(wc -c <&3)
exec 3<&-
[ "$exact" -eq "$got" ] || fail "fstat of the open file says $exact bytes, a read got $got"
[ "$got" -ge "$changed" ] || fail "a read got $got bytes for $changed changed bytes"
pass "open c1/vda.qcow2: fstat says $exact bytes, exactly what a read gets"
wait_until 10 backup_ended vm || fail "the job did not end"
cpfs_umount
