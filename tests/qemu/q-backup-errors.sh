#!/bin/bash
# The errors of opening a backup file: EACCES for writing, ENOENT for no
# such disk, EBUSY while another directory's files of the domain are open or
# another tool's job runs (which stays untouched), ENOTSUP on a stopped
# domain, ESTALE when the checkpoint's bitmap is gone; libvirt's message in
# the log where libvirt refused.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm --disks 2
qemu_define off --off
backup_mount backup_linger=1
D=$MNT/vm
mkdir "$D/c1" || fail "mkdir c1"

for f in vda.raw vda.qcow2 c1/vda.qcow2; do
    expect_errno EACCES open_w "$D/$f"
    expect_errno EACCES open_rw "$D/$f"
    expect_errno EACCES open_trunc "$D/$f"
done
backup_ended vm || fail "an open for writing began a backup job"
pass "opening for writing: EACCES, and no job"

for f in vdz.raw vdz.qcow2 c1/vdz.qcow2 c1/vda.raw; do
    expect_errno ENOENT open_r "$D/$f"
done
pass "no such disk: ENOENT"

exec 3<"$D/c1/vda.qcow2"
expect_errno EBUSY open_r "$D/vda.raw"
expect_errno EBUSY open_r "$D/vdb.qcow2"
log_has "domain .vm.: files of another directory are open"
expect_errno OK open_r "$D/c1/vdb.qcow2"
exec 3<&-
wait_until 10 backup_ended vm || fail "c1's job did not end"
exec 3<"$D/vda.raw"
expect_errno EBUSY open_r "$D/c1/vda.qcow2"
expect_errno OK open_r "$D/vdb.qcow2"
exec 3<&-
pass "another directory's files open: EBUSY either way; the same directory's: shared"

# Closed, the job lingers (1 s); another directory's open ends it instead.
sock=$(virsh_lv backup-dumpxml vm | grep -o "socket='[^']*'") || fail "no job lingers"
expect_errno OK open_r "$D/c1/vda.qcow2"
now=$(virsh_lv backup-dumpxml vm | grep -o "socket='[^']*'") || now=none
[ "$now" != "$sock" ] || fail "the lingering job still runs after c1's open"
wait_until 10 backup_ended vm || fail "c1's job did not end"
pass "a lingering job of another directory is ended for the new open"

qemu_backup_begin vm - vda
start=$(date +%s%N)
expect_errno EBUSY open_r "$D/vda.raw"
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$took" -lt 5000 ] || fail "EBUSY for another tool's job took $took ms"
expect_errno EBUSY open_r "$D/c1/vda.qcow2"
virsh_lv backup-dumpxml vm | grep -qF "socket='$QEMU_JOB/nbd.sock'" ||
    fail "the other tool's job is gone or changed"
log_has "domain .vm.*another job runs"
virsh_lv domjobabort vm || fail "virsh domjobabort"
wait_until 10 backup_ended vm || fail "the other tool's job did not end"
pass "another tool's job: EBUSY in $took ms, and its job left alone"

expect_errno ENOTSUP open_r "$MNT/off/vda.raw"
expect_errno ENOTSUP open_r "$MNT/off/vda.qcow2"
log_has "cannot perform disk backup for inactive domain|domain is not running"
pass "a stopped domain: ENOTSUP, with libvirt's message in the log"

node=$(qemu_block_node vm vda) || fail "no node of vda"
virsh_lv qemu-monitor-command vm \
    "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"$node\",\"name\":\"c1\"}}" \
    >/dev/null || fail "QMP block-dirty-bitmap-remove c1 on $node"
expect_errno ESTALE open_r "$D/c1/vda.qcow2"
log_has "missing or broken bitmap 'c1'"
backup_ended vm || fail "a refused open left a job"
expect_errno OK open_r "$D/vda.qcow2"
wait_until 10 backup_ended vm || fail "the full job did not end"
pass "the checkpoint's bitmap removed: ESTALE, with libvirt's message; full files still open"
cpfs_umount
