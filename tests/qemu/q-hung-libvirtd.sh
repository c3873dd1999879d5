#!/bin/bash
# A libvirtd that stops answering (SIGSTOP) is detected by the call budget: calls
# fail with EIO within 5 s instead of hanging, and once it answers again
# (SIGCONT) the mount works by itself.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
cpfs_mount -o cache_timeout=0.2 "$LV_URI"
mkdir "$MNT/vm1/a"

kill -STOP "$LV_PID"
start=$(date +%s%N)
got=$(errno_of mkdir "$MNT/vm1/a/b")
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$got" = EIO ] || { kill -CONT "$LV_PID"; fail "mkdir on a hung libvirtd gave $got, expected EIO"; }
[ "$took" -le 5000 ] || { kill -CONT "$LV_PID"; fail "mkdir on a hung libvirtd took ${took} ms"; }
start=$(date +%s%N)
got=$(errno_of opendir "$MNT/vm1/a")
took2=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$took2" -le 5000 ] || { kill -CONT "$LV_PID"; fail "listing on a hung libvirtd took ${took2} ms"; }
# From the previous listing, or EIO: libvirt is unreachable.
case $got in
    OK|EIO) ;;
    *) kill -CONT "$LV_PID"; fail "listing on a hung libvirtd gave $got, expected OK (cached) or EIO" ;;
esac
log_has "did not answer within 4.5 s"
pass "a hung libvirtd: mkdir gave EIO after ${took} ms, a listing answered ($got) after ${took2} ms"

kill -CONT "$LV_PID"
wait_until 20 test -e "$MNT/vm1/a/xml" || fail "the mount did not come back"
trees_agree vm1 || fail "the tree differs from virsh"
mkdir "$MNT/vm1/a/c" || fail "mkdir after libvirtd resumed failed"
pass "after SIGCONT the mount works again and agrees with virsh"
cpfs_umount
