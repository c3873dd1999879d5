#!/bin/bash
# The backup files: hidden from readdir by default yet reachable by name;
# listed with -o backup_files=visible; absent with backup_files=off and on
# -o ro.  The domain directory has vdX.raw and vdX.qcow2 per disk, a
# checkpoint directory vdX.qcow2 only.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm --disks 2
D=$MNT/vm
FILES="vda.raw vda.qcow2 vdb.raw vdb.qcow2 c1/vda.qcow2 c1/vdb.qcow2"

# listing DIR: the names readdir gives in DIR (dot files too), one line.
listing() {
    ls -A "$1" | tr '\n' ' '
}

# all_absent: every backup file is ENOENT, by name too.
all_absent() {
    for f in $FILES; do
        expect_errno ENOENT stat "$D/$f"
        expect_errno ENOENT open_r "$D/$f"
    done
}

cpfs_mount "$LV_URI"
mkdir "$D/c1" || fail "mkdir c1"
[ "$(listing "$D")" = "c1 xml " ] || fail "hidden: vm lists [$(listing "$D")]"
[ "$(listing "$D/c1")" = "xml " ] || fail "hidden: c1 lists [$(listing "$D/c1")]"
for f in $FILES; do
    [ -f "$D/$f" ] || fail "hidden: $f is not a regular file by name"
done
for f in vdz.raw vdz.qcow2 c1/vda.raw c1/vdz.qcow2 vda vda.img; do
    expect_errno ENOENT stat "$D/$f"
done
pass "hidden by default: not listed, yet every file is there by name; no others"
cpfs_umount

cpfs_mount -o backup_files=hidden "$LV_URI"
[ "$(listing "$D")" = "c1 xml " ] || fail "backup_files=hidden: vm lists [$(listing "$D")]"
[ -f "$D/vda.qcow2" ] || fail "backup_files=hidden: no vda.qcow2 by name"
cpfs_umount

cpfs_mount -o backup_files=visible "$LV_URI"
want="c1 vda.qcow2 vda.raw vdb.qcow2 vdb.raw xml "
[ "$(listing "$D")" = "$want" ] || fail "visible: vm lists [$(listing "$D")], expected [$want]"
want="vda.qcow2 vdb.qcow2 xml "
[ "$(listing "$D/c1")" = "$want" ] || fail "visible: c1 lists [$(listing "$D/c1")], expected [$want]"
# find sees them as the regular files they are.
found=$(cd "$D" && find . -type f | sort | tr '\n' ' ')
want="./c1/vda.qcow2 ./c1/vdb.qcow2 ./c1/xml ./vda.qcow2 ./vda.raw ./vdb.qcow2 ./vdb.raw ./xml "
[ "$found" = "$want" ] || fail "visible: find lists [$found]"
pass "-o backup_files=visible lists them"
cpfs_umount

cpfs_mount -o backup_files=off "$LV_URI"
[ "$(listing "$D")" = "c1 xml " ] || fail "off: vm lists [$(listing "$D")]"
all_absent
pass "-o backup_files=off: gone, by name too (ENOENT)"
cpfs_umount

cpfs_mount -o ro,backup_files=visible "$LV_URI"
[ "$(listing "$D")" = "c1 xml " ] || fail "ro: vm lists [$(listing "$D")]"
all_absent
cpfs_umount
cpfs_mount -o ro "$LV_URI"
all_absent
pass "-o ro: no backup files (ENOENT), even with backup_files=visible"
cpfs_umount
