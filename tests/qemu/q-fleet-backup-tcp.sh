#!/bin/bash
# Backup files of a fleet's remote host (qemu+tcp on loopback): the job
# exports over TCP at the first of backup_ports, its scratch file goes to
# the host's own backup_scratch (the hosts file's key), and a copy of
# HOST/DOMAIN/vda.qcow2 equals the disk.  The test-driver host next to it
# is unaffected.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
command -v getfattr >/dev/null || skip "getfattr is not installed (attr)"
# Three free ports: libvirtd's, then backup_ports LO-HI.
first=$("$PYTHON" "$HELPERS/free_ports.py" 3) || fail "no free ports on 127.0.0.1"
LO=$((first + 1)) HI=$((first + 2))
qemu_start_libvirtd_tcp "$first"
qemu_define vm
guest_write vm vda 0x5a 0 64k
guest_write vm vda 0x33 40M 1M
img=$(disk_image vm vda) || fail "no disk image"
machine_id=$(tr -d '[:space:]' </etc/machine-id) || fail "no /etc/machine-id"
out=$SCRATCH/out
mkdir "$out"

HF=$SCRATCH/fleet.conf
printf '[lab]\nuri=test:///default\n[remote]\nuri=%s\nbackup_scratch=%s\n' \
    "$LV_TCP_URI" "$LV_SCRATCH" >"$HF"
cpfs_mount -o "backup_ports=$LO-$HI,backup_linger=1" "$HF"
wait_until 20 host_state_is "$MNT/remote" connected ||
    fail "the remote host is '$(cpfs_xattr "$MNT/remote" state)': $(cpfs_xattr "$MNT/remote" error)"
[ "$(ls "$MNT/remote")" = vm ] || fail "the remote host lists [$(ls "$MNT/remote")]"

D=$MNT/remote/vm
exec 3<"$D/vda.qcow2"
uri=$(backup_uri "$D/vda.qcow2") || fail "no user.checkpointfs.nbd on the open remote/vm/vda.qcow2"
[ "$uri" = "nbd://127.0.0.1:$LO/vda" ] || fail "the open remote/vm/vda.qcow2's export is '$uri'"
[ "$(scratch_files)" = "checkpointfs-$machine_id-$CPFS_PID-vm-vda.scratch " ] ||
    fail "the host's backup_scratch holds [$(scratch_files)]"
cp "$D/vda.qcow2" "$out/vda.qcow2" || fail "cp remote/vm/vda.qcow2"
exec 3<&-
check=$(qemu-img check "$out/vda.qcow2" 2>&1) || fail "qemu-img check: $check"
qemu-img compare -q -U -f qcow2 -F qcow2 "$out/vda.qcow2" "$img" ||
    fail "the copy differs from vda's image: $(qemu-img compare -U -f qcow2 "$out/vda.qcow2" "$img" 2>&1)"
pass "remote host over qemu+tcp: vda.qcow2 exports $uri, scratch in the host's backup_scratch; the copy equals the disk"

wait_until 10 backup_ended vm || fail "the job did not end after the close and the linger"
wait_until 5 test -z "$(scratch_files)" || fail "scratch files remain: $(scratch_files)"
[ "$(ls "$MNT/lab")" = test ] || fail "the lab host lists [$(ls "$MNT/lab")]"
pass "the job ended, its scratch file is gone; the other host is unaffected"
cpfs_umount
