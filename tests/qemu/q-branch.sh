#!/bin/sh
# In a branched tree (c1 -> {c2, c3}, libvirt's current c2), mkdir under the
# leaf that is not current is EPERM and leaves nothing; under c2 it works.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define br
cpfs_mount -o cache_timeout=1 "$LV_URI"
D=$MNT/br

mkdir "$D/c1" "$D/c1/c2" "$D/c1/c2/c3" || fail "mkdir of the chain c1/c2/c3"
# Outside: c3 moves below c1.  Deleting c3's metadata made c2 current, and
# the redefinition leaves it so.
redefine_parent br c3 c1
branched() { [ -d "$D/c1/c3" ] && [ -d "$D/c1/c2" ] && [ ! -e "$D/c1/c2/c3" ]; }
wait_until 3 branched || fail "the branch did not show: $(cd "$D" && find . -type d)"
check_tree br
pass "branched tree c1 -> {c2, c3}"

cps_before=$(virsh_checkpoints br) || fail "virsh cannot list the checkpoints"
bms_before=$(qemu_bitmaps br) || fail "cannot read qemu's bitmaps"
[ "$bms_before" = "$(printf 'br-vda.qcow2 c1\nbr-vda.qcow2 c2\nbr-vda.qcow2 c3')" ] ||
    fail "test bug: bitmaps are [$bms_before]"

# nothing_new WHAT: no checkpoint, directory or bitmap was added.
nothing_new() {
    [ "$(virsh_checkpoints br)" = "$cps_before" ] ||
        fail "$1 left checkpoints: [$(echo $(virsh_checkpoints br))]"
    [ "$(qemu_bitmaps br)" = "$bms_before" ] ||
        fail "$1 left bitmaps: [$(echo $(qemu_bitmaps br))]"
    check_tree br
}

expect_errno EPERM mkdir "$D/c1/c3/x"
[ ! -e "$D/c1/c3/x" ] || fail "c1/c3/x shows"
[ ! -e "$D/c1/c2/x" ] || fail "c1/c2/x shows"
nothing_new "mkdir under the non-current leaf c3"
pass "mkdir under a leaf that is not current: EPERM, no checkpoint, no bitmap"

expect_errno EPERM mkdir "$D/c1/z"
expect_errno EPERM mkdir "$D/z"
nothing_new "mkdir in a directory with children"
pass "mkdir where there are child checkpoints: EPERM, nothing left"

mkdir "$D/c1/c2/y" || fail "mkdir under the current leaf c2"
[ -d "$D/c1/c2/y" ] || fail "c1/c2/y does not show"
[ "$(virsh_parent br y)" = c2 ] || fail "virsh: y's parent is $(virsh_parent br y)"
[ "$(xml_parent "$D/c1/c2/y/xml")" = c2 ] || fail "y's xml names parent $(xml_parent "$D/c1/c2/y/xml")"
qemu_bitmaps br | grep -qx "br-vda.qcow2 y" || fail "no bitmap y: $(qemu_bitmaps br)"
check_tree br
pass "mkdir under the current leaf c2 works; virsh shows parent c2"

cpfs_umount
pass "unmounted cleanly"
