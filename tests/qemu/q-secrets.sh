#!/bin/sh
# No password leaves through the mount: the xml files are rendered without
# VIR_DOMAIN_XML_SECURE, though the domain has a VNC password.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

PW=s3cret12
qemu_define sec --password "$PW"
cpfs_mount "$LV_URI"

mkdir "$MNT/sec/c1" "$MNT/sec/c1/c2" || fail "mkdir sec/c1/c2"

# The password is there to leak: libvirt shows it when asked to.
virsh_lv dumpxml --security-info sec | grep -q "passwd='$PW'" ||
    fail "test bug: virsh dumpxml --security-info does not show the password"
virsh_lv checkpoint-dumpxml --security-info sec c1 | grep -q "$PW" ||
    fail "test bug: the checkpoint's secure XML does not hold the password"
pass "the domain has VNC password $PW (virsh --security-info shows it)"

# Every xml is read, and each is the real document with a <graphics> element.
read_files=$(grep -rl "<graphics type='vnc'" "$MNT/sec" | sort)
want=$(printf '%s\n' "$MNT/sec/c1/c2/xml" "$MNT/sec/c1/xml" "$MNT/sec/xml" | sort)
[ "$read_files" = "$want" ] || fail "xml files with a VNC graphics element: [$(echo $read_files)]"
# grep exits 1 when it found nothing, 2 when it could not read something:
# only 1 is a pass.
rc=0
leaks=$(grep -rl "$PW" "$MNT") || rc=$?
[ "$rc" -ne 2 ] || fail "grep -r could not read the whole mount"
[ "$rc" -eq 1 ] || fail "the password shows in: $leaks"
rc=0
grep -rq "passwd=" "$MNT" || rc=$?
[ "$rc" -ne 2 ] || fail "grep -r could not read the whole mount"
[ "$rc" -eq 1 ] || fail "a passwd attribute shows: $(grep -rh "passwd=" "$MNT" | head -3)"
pass "neither the domain's xml nor any checkpoint's xml holds the password"

cpfs_umount
pass "unmounted cleanly"
