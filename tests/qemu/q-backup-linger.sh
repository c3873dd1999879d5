#!/bin/bash
# A backup job lingers -o backup_linger seconds (3 by default) after its
# files' last close: an open within the linger shares it; then it ends, and
# its socket's folder and its scratch files (in backup_scratch) go with it;
# unmounting ends it.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm
D=$MNT/vm
guest_write vm vda 0x5a 0 64k

# linger_of: opens and closes vda.qcow2, then vda.raw within the linger
# (same job), and prints the milliseconds from that close to the job's end.
linger_of() {
    exec 3<"$D/vda.qcow2"
    lo_sock=$(backup_socket "$D/vda.qcow2") || fail "no user.checkpointfs.nbd on vda.qcow2"
    case $(scratch_files) in
        checkpointfs-*-vm-vda.scratch\ ) ;;
        *) fail "the job's scratch files in backup_scratch are [$(scratch_files)]" ;;
    esac
    exec 3<&-
    exec 3<"$D/vda.raw"
    [ "$(backup_socket "$D/vda.raw")" = "$lo_sock" ] ||
        fail "an open within the linger began another job"
    exec 3<&-
    lo_closed=$(date +%s%N)
    wait_until 15 backup_ended vm || fail "the job did not end 15 s after the last close"
    echo $(( ($(date +%s%N) - lo_closed) / 1000000 ))
    # The job's folder under the daemon's run folder goes with it, and
    # libvirt deletes its scratch files.
    wait_until 5 test ! -e "${lo_sock%/*}" || fail "the ended job's folder ${lo_sock%/*} remains"
    wait_until 5 test -z "$(scratch_files)" || fail "scratch files remain: $(scratch_files)"
}

backup_mount
ms=$(linger_of)
[ "$ms" -ge 2500 ] || fail "the default linger ended the job $ms ms after the last close"
[ "$ms" -le 6000 ] || fail "the default linger ended the job only $ms ms after the last close"
cpfs_umount
pass "default: the job ended $ms ms after the last close (linger 3 s)"

backup_mount backup_linger=1
ms=$(linger_of)
[ "$ms" -ge 700 ] || fail "backup_linger=1 ended the job $ms ms after the last close"
[ "$ms" -le 4000 ] || fail "backup_linger=1 ended the job only $ms ms after the last close"
pass "-o backup_linger=1: the job ended $ms ms after the last close"

# Unmounted while a job lingers: the job ends with the daemon.
exec 3<"$D/vda.qcow2"
exec 3<&-
backup_running vm || fail "no job lingers after the close"
cpfs_umount
backup_ended vm || fail "a job still runs after the unmount"
pass "unmounting ends a lingering job"
