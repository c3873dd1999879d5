#!/bin/bash
# Backup files of a remote libvirt (qemu+tcp, on loopback): the job exports
# on TCP at the first port of backup_ports, the daemon reads it over TCP,
# the scratch files go to backup_scratch named after this machine and
# process; the copies, full and incremental, equal the disk.  A second
# daemon on the same URI and ports gets EBUSY while the first holds the
# job, leaving it alone; once the first is killed, it ends the left job and
# begins its own.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
command -v getfattr >/dev/null || skip "getfattr is not installed (attr)"
command -v ss >/dev/null || skip "ss is not installed (iproute2)"
# Three free ports: libvirtd's, then backup_ports LO-HI.
first=$("$PYTHON" "$HELPERS/free_ports.py" 3) || fail "no free ports on 127.0.0.1"
LO=$((first + 1)) HI=$((first + 2))
qemu_start_libvirtd_tcp "$first"
qemu_define vm
guest_write vm vda 0x5a 0 64k
guest_write vm vda 0x11 3M 192k
guest_write vm vda 0x33 40M 1M
img=$(disk_image vm vda) || fail "no disk image"
machine_id=$(tr -d '[:space:]' </etc/machine-id) || fail "no /etc/machine-id"
D=$MNT/vm
out=$SCRATCH/out
mkdir "$out"
opts="backup_scratch=$LV_SCRATCH,backup_ports=$LO-$HI,backup_linger=1"

# backup_lines: the running job's server and scratch lines (backup_xml.py).
backup_lines() {
    bl_xml=$(virsh_lv backup-dumpxml vm) || { echo "FAIL: no backup job on vm" >&2; return 1; }
    printf '%s\n' "$bl_xml" | "$PYTHON" "$HELPERS/backup_xml.py"
}

# expect_job PID: the job libvirt runs is a TCP export at 127.0.0.1:LO whose
# scratch file is in backup_scratch, named after this machine and PID.
expect_job() {
    ej_want="server tcp 127.0.0.1 $LO
scratch vda $LV_SCRATCH/checkpointfs-$machine_id-$1-vm-vda.scratch"
    ej_got=$(backup_lines) || fail "cannot read the backup job's XML"
    [ "$ej_got" = "$ej_want" ] || fail "the backup job is [$ej_got], expected [$ej_want]"
}

# compare_disk COPY FORMAT: COPY equals vda's image.
compare_disk() {
    qemu-img compare -q -U -f "$2" -F qcow2 "$1" "$img" ||
        fail "$1 differs from vda's image: $(qemu-img compare -U -f "$2" "$1" "$img" 2>&1)"
}

cpfs_mount -o "$opts" "$LV_TCP_URI"
exec 3<"$D/vda.qcow2"
uri=$(backup_uri "$D/vda.qcow2") || fail "no user.checkpointfs.nbd on the open vda.qcow2"
[ "$uri" = "nbd://127.0.0.1:$LO/vda" ] || fail "the open vda.qcow2's export is $uri"
expect_job "$CPFS_PID"
listening=$(ss -Hltn "sport = :$LO" | awk '{ print $4 }')
[ "$listening" = "127.0.0.1:$LO" ] || fail "port $LO is listened on at [$listening], not 127.0.0.1 only"
size=$(nbdinfo --size "$uri") || fail "nbdinfo --size $uri"
[ "$size" -eq $((64 << 20)) ] || fail "the export at $uri has $size bytes"
[ "$(scratch_files)" = "checkpointfs-$machine_id-$CPFS_PID-vm-vda.scratch " ] ||
    fail "the scratch folder holds [$(scratch_files)]"
cp "$D/vda.qcow2" "$out/vda.qcow2" || fail "cp vda.qcow2"
cp --sparse=always "$D/vda.raw" "$out/vda.raw" || fail "cp vda.raw"
exec 3<&-
check=$(qemu-img check "$out/vda.qcow2" 2>&1) || fail "qemu-img check vda.qcow2: $check"
compare_disk "$out/vda.qcow2" qcow2
compare_disk "$out/vda.raw" raw
pass "over TCP: the job exports $uri (QEMU listens on 127.0.0.1 only), scratch in backup_scratch; copies equal the disk"

wait_until 10 backup_ended vm || fail "the job did not end after the close and the linger"
wait_until 5 test -z "$(scratch_files)" || fail "scratch files remain: $(scratch_files)"
log_has "domain 'vm': backup job ended"
pass "closed: the job ended after the linger, its scratch file is gone"

mkdir "$D/c1" || fail "mkdir c1"
guest_write vm vda 0x22 17M 64k
guest_zero vm vda 0 64k
exec 3<"$D/c1/vda.qcow2"
uri=$(backup_uri "$D/c1/vda.qcow2") || fail "no user.checkpointfs.nbd on the open c1/vda.qcow2"
[ "$uri" = "nbd://127.0.0.1:$LO/vda" ] || fail "the open c1/vda.qcow2's export is $uri"
expect_job "$CPFS_PID"
cp "$D/c1/vda.qcow2" "$out/inc.qcow2" || fail "cp c1/vda.qcow2"
exec 3<&-
check=$(qemu-img check "$out/inc.qcow2" 2>&1) || fail "qemu-img check inc.qcow2: $check"
got=$(qcow2_runs "$out/inc.qcow2") || fail "qemu-img map inc.qcow2"
want=$(ranges 0:64k 17M:64k)
[ "$got" = "$want" ] || fail "c1/vda.qcow2 holds [$(echo $got)], expected [$(echo $want)]"
qemu-img rebase -u -F qcow2 -b "$out/vda.qcow2" "$out/inc.qcow2" || fail "rebase inc.qcow2"
compare_disk "$out/inc.qcow2" qcow2
wait_until 10 backup_ended vm || fail "c1's job did not end"
pass "over TCP: c1/vda.qcow2 holds the changed clusters; rebased on the full copy it equals the disk"

# A second daemon, same URI and ports, while the first holds the job.
MNT2=$SCRATCH/mnt2 LOG2=$SCRATCH/daemon2.log
cpfs_mount_second "$MNT2" "$LOG2" -o "$opts" "$LV_TCP_URI"
exec 3<"$D/vda.qcow2"
before=$(backup_lines) || fail "no job after the first daemon's open"
expect_errno EBUSY open_r "$MNT2/vm/vda.qcow2"
expect_errno EBUSY open_r "$MNT2/vm/vda.raw"
wait_until 5 grep -q "domain 'vm': start backup: another job runs" "$LOG2" ||
    fail "no 'another job runs' in the second daemon's log: $(tail -5 "$LOG2")"
after=$(backup_lines) || fail "the first daemon's job is gone after the second's opens"
[ "$after" = "$before" ] || fail "the job changed under the second's opens: [$before] -> [$after]"
cat <&3 >"$out/again.qcow2" || fail "reading the first daemon's open vda.qcow2 after the EBUSYs"
compare_disk "$out/again.qcow2" qcow2
pass "a second daemon on the same URI and ports: EBUSY; the first's job untouched and still read"

dead=$CPFS_PID
kill -9 "$dead"
wait "$dead" 2>/dev/null || true
CPFS_PID=
exec 3<&-
fusermount3 -uz "$MNT" || fail "fusermount3 -uz $MNT"
backup_running vm || fail "the job went with the killed daemon"
expect_job "$dead"
exec 4<"$MNT2/vm/vda.qcow2" || fail "opening vda.qcow2 through the second daemon after the kill"
grep -q "ending the backup job left by checkpointfs process $dead\$" "$LOG2" ||
    fail "the second daemon did not say it ended $dead's job: $(tail -5 "$LOG2")"
expect_job "$CPFS2_PID"
uri=$(backup_uri "$MNT2/vm/vda.qcow2") || fail "no user.checkpointfs.nbd through the second daemon"
[ "$uri" = "nbd://127.0.0.1:$LO/vda" ] || fail "the second daemon's export is $uri"
[ "$(scratch_files)" = "checkpointfs-$machine_id-$CPFS2_PID-vm-vda.scratch " ] ||
    fail "after the takeover the scratch folder holds [$(scratch_files)]"
cat <&4 >"$out/second.qcow2" || fail "reading vda.qcow2 through the second daemon"
exec 4<&-
compare_disk "$out/second.qcow2" qcow2
wait_until 10 backup_ended vm || fail "the second daemon's job did not end"
wait_until 5 test -z "$(scratch_files)" || fail "scratch files remain: $(scratch_files)"
pass "first daemon killed: the second ended its left job (dead pid $dead) and began its own"

fusermount3 -u "$MNT2" || fail "fusermount3 -u $MNT2"
rc=0
wait "$CPFS2_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "the second checkpointfs exited with status $rc"
CPFS2_PID=
LOG=$LOG2 check_log_clean
