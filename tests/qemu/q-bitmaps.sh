#!/bin/sh
# mkdir makes a real persistent dirty bitmap on every qcow2 disk, rmdir drops
# it, and rmdir of a middle checkpoint moves its children up as libvirt does.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define two --disks 2
cpfs_mount "$LV_URI"
D=$MNT/two

# bitmaps_are NAME...: the persistent bitmaps of both disks are exactly NAME...
bitmaps_are() {
    want=$(for n in "$@"; do echo "two-vda.qcow2 $n"; echo "two-vdb.qcow2 $n"; done | sort)
    got=$(qemu_bitmaps two) || fail "cannot read qemu's bitmaps"
    [ "$got" = "$want" ] ||
        fail "bitmaps: expected [$(echo $want)], qemu has [$(echo $got)]"
}

bitmaps_are
mkdir "$D/c1" || fail "mkdir c1"
bitmaps_are c1
pass "mkdir c1 made a persistent bitmap c1 on vda and vdb"

mkdir "$D/c1/c2" || fail "mkdir c1/c2"
mkdir "$D/c1/c2/c3" || fail "mkdir c1/c2/c3"
mkdir "$D/c1/c2/c3/c4" || fail "mkdir c1/c2/c3/c4"
mkdir "$D/c1/c2/c3/c4/c5" || fail "mkdir c1/c2/c3/c4/c5"
bitmaps_are c1 c2 c3 c4 c5
[ "$(virsh_parent two c3)" = c2 ] || fail "virsh: c3's parent is $(virsh_parent two c3)"
check_tree two
pass "a chain of 5: one bitmap per checkpoint and disk, virsh agrees on every parent"

rmdir "$D/c1/c2/c3/c4/c5" || fail "rmdir of the leaf c5"
bitmaps_are c1 c2 c3 c4
names=$(virsh_checkpoints two) || fail "virsh cannot list the checkpoints"
! printf '%s\n' "$names" | grep -qx c5 || fail "virsh still lists c5"
[ ! -e "$D/c1/c2/c3/c4/c5" ] || fail "c5 still shows"
pass "rmdir of a leaf removed its bitmap on both disks"

rmdir "$D/c1/c2" || fail "rmdir of the middle checkpoint c2"
[ -d "$D/c1/c3/c4" ] || fail "c3 and c4 did not move up below c1: $(cd "$D" && find . -type d)"
[ ! -e "$D/c1/c2" ] || fail "c2 still shows"
[ "$(virsh_parent two c3)" = c1 ] || fail "virsh: c3's parent is $(virsh_parent two c3), not c1"
[ "$(virsh_parent two c4)" = c3 ] || fail "virsh: c4's parent is $(virsh_parent two c4), not c3"
[ "$(xml_parent "$D/c1/c3/xml")" = c1 ] || fail "c1/c3/xml names parent $(xml_parent "$D/c1/c3/xml")"
check_tree two
bitmaps_are c1 c3 c4
pass "rmdir of a middle checkpoint moved its children up; virsh and xml agree"

rmdir "$D/c1" || fail "rmdir of the root checkpoint c1"
[ -d "$D/c3/c4" ] || fail "c3 did not become a root: $(cd "$D" && find . -type d)"
[ "$(virsh_parent two c3)" = - ] || fail "virsh: c3's parent is $(virsh_parent two c3)"
[ "$(xml_parent "$D/c3/xml")" = - ] || fail "c3/xml still names parent $(xml_parent "$D/c3/xml")"
check_tree two
bitmaps_are c3 c4
pass "rmdir of the root made its child a root"

rmdir "$D/c3/c4" || fail "rmdir c3/c4"
rmdir "$D/c3" || fail "rmdir c3"
bitmaps_are
names=$(virsh_checkpoints two) || fail "virsh cannot list the checkpoints"
[ -z "$names" ] || fail "virsh still lists $names"
[ "$(ls "$D")" = xml ] || fail "the domain still shows $(ls "$D")"
pass "all gone: no checkpoint, no bitmap"

cpfs_umount
pass "unmounted cleanly"
