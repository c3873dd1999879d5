#!/bin/bash
# libvirtd dies (kill -9) during a backup: reads of the open file fail with
# EIO within 5 s (never hang) and keep failing; once libvirtd is back the
# daemon ends the lost job, and a new open begins a new one.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm
guest_write vm vda 0x5a 0 1M
backup_mount backup_linger=1
D=$MNT/vm

exec 3<"$D/vda.raw" || fail "cannot open vda.raw"
head -c 65536 <&3 >/dev/null || fail "reading the open vda.raw"
backup_running vm || fail "no backup job while vda.raw is open"
qemu_kill_libvirtd
ms=$("$PYTHON" "$HELPERS/open_fd.py" until-eio 3 $((64 << 20)) 5) ||
    fail "reads of the open file did not fail with EIO within 5 s after libvirtd died"
pass "libvirtd killed: reads of the open file fail with EIO after $ms ms"

# Not inherited by the new libvirtd, which would keep the mount busy.
qemu_restart_libvirtd 3<&-
wait_until 20 backup_ended vm ||
    fail "a backup job still runs 20 s after libvirtd came back: $(virsh_lv domjobinfo vm 2>&1)"
# (Offsets never read, also by the daemon's read-ahead.)
for off in $((32 << 20)) $((48 << 20)) $((63 << 20)); do
    got=$("$PYTHON" "$HELPERS/open_fd.py" read 3 $off)
    [ "$got" = EIO ] || fail "a read at $off of the lost job's open file gave $got, expected EIO"
done
exec 3<&-
wait_until 5 test -z "$(scratch_files)" || fail "the lost job's scratch files remain: $(scratch_files)"
pass "libvirtd back: the lost job was ended, its scratch files deleted; its open file still fails"

cp --sparse=always "$D/vda.raw" "$SCRATCH/vda.raw" || fail "cp vda.raw after libvirtd came back"
qemu-img compare -q -U -f raw -F qcow2 "$SCRATCH/vda.raw" "$(disk_image vm vda)" ||
    fail "the new copy differs from the disk"
wait_until 10 backup_ended vm || fail "the new job did not end"
pass "a new open works and copies the disk"
cpfs_umount
