#!/bin/bash
# The tier's own tools for the backup tests, checked against libvirt alone:
# guest_write and guest_zero dirty the bitmaps and reach the image file; a
# pull-mode job's export (virsh backup-begin) shows them; a failed qemu-io
# fails the test.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm --disks 2

virsh_lv checkpoint-create-as vm c1 >/dev/null || fail "virsh checkpoint-create-as vm c1"
guest_write vm vda 0x5a 8M 64k
guest_write vm vda 0x11 1M 192k
guest_zero vm vda 1088k 64k
guest_write vm vdb 0x22 4M 128k
pass "guest_write and guest_zero report success"

# A pull-mode job of our own, on a socket in a folder QEMU's user may write.
qemu_backup_begin vm c1 vda vdb
job=$QEMU_JOB
backup_running vm || fail "no backup job after backup-begin"
uri="nbd+unix:///vda?socket=$job/nbd.sock"
dirty=$(nbdinfo --map=qemu:dirty-bitmap:backup-vda "$uri" |
    "$PYTHON" "$HELPERS/extent_maps.py" nbd-dirty) || fail "nbdinfo --map of the bitmap"
want=$(ranges 8M:64k 1M:192k)
[ "$dirty" = "$want" ] || fail "vda's dirty runs are [$(echo $dirty)], expected [$(echo $want)]"
data=$(nbd_data_runs "$uri") || fail "nbdinfo --map $uri"
want=$(ranges 8M:64k 1M:64k 1152k:64k)
[ "$data" = "$want" ] || fail "vda's data runs are [$(echo $data)], expected [$(echo $want)]"
dirty=$(nbdinfo --map=qemu:dirty-bitmap:backup-vdb "nbd+unix:///vdb?socket=$job/nbd.sock" |
    "$PYTHON" "$HELPERS/extent_maps.py" nbd-dirty) || fail "nbdinfo --map of vdb's bitmap"
[ "$dirty" = "$(ranges 4M:128k)" ] || fail "vdb's dirty runs are [$(echo $dirty)]"
pass "the job's export shows the writes as dirty and the zeroed range as a hole"

nbdcopy "$uri" "$SCRATCH/vda.raw" || fail "nbdcopy $uri"
img=$(disk_image vm vda) || fail "no image of vda"
[ "$img" = "$LV_DIR/images/vm-vda.qcow2" ] || fail "disk_image vm vda is $img"
qemu-img compare -q -U -f raw -F qcow2 "$SCRATCH/vda.raw" "$img" ||
    fail "the export differs from vda's image file"
virsh_lv domjobabort vm || fail "virsh domjobabort"
wait_until 10 backup_ended vm || fail "the job did not end"
allocated=$(qcow2_runs "$img") || fail "qemu-img map $img"
[ "$allocated" = "$(ranges 8M:64k 1M:192k)" ] ||
    fail "qcow2_runs of vda's image: [$(echo $allocated)] (its zero cluster counts as allocated)"
node=$(qemu_block_node vm vda) || fail "no node of vda"
# QMP finds bitmap c1 on that node (and fails on a node without it).
virsh_lv qemu-monitor-command vm "{\"execute\":\"x-debug-block-dirty-bitmap-sha256\",
    \"arguments\":{\"node\":\"$node\",\"name\":\"c1\"}}" >/dev/null ||
    fail "QMP finds no bitmap c1 on node $node"
pass "the export equals the image file (flushed); disk_image, qcow2_runs and qemu_block_node agree"

# A failed qemu-io must fail the test: past the end of the 64 MiB disk, and
# on a disk the domain lacks.
( guest_write vm vda 0x33 80M 64k ) 2>"$SCRATCH/err" && fail "a write past the end passed"
grep -q "qemu-io reported: write failed" "$SCRATCH/err" ||
    fail "a write past the end failed without qemu-io's report: $(cat "$SCRATCH/err")"
( guest_write vm vdz 0x33 0 64k ) 2>/dev/null && fail "a write to a missing disk passed"
# A read-back that finds other bytes is a failure too (the check is real).
( qemu_io vm vda 8M 64k "write -P 0x44 8M 64k" "read -P 0x45 8M 64k" ) 2>"$SCRATCH/err" &&
    fail "a read-back of other bytes passed"
grep -q "Pattern verification failed" "$SCRATCH/err" || fail "no pattern failure reported: $(cat "$SCRATCH/err")"
pass "failed writes and read-backs fail the test"
