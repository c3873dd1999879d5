#!/bin/sh
# Checkpoints created, deleted or redefined by virsh on the same libvirtd show
# in the mount within cache_timeout (1 s here).
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define out
cpfs_mount -o cache_timeout=1 "$LV_URI"
D=$MNT/out

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# shows WHAT CONDITION...: CONDITION holds within 3 s (cache_timeout is 1 s);
# prints how long it took.
shows() {
    what=$1; shift
    t0=$(now_ms)
    wait_until 3 "$@" || fail "$what: not shown within 3 s (cache_timeout=1)"
    "$@" || fail "$what: not shown"
    pass "$what (after $(( $(now_ms) - t0 )) ms)"
}

lists() { ls "$1" | grep -qx "$2"; }
gone() { [ ! -e "$1/$2" ] && ! ls "$1" | grep -qx "$2"; }

# Read the tree first, so that the daemon and the kernel hold a listing.
[ "$(ls "$D")" = xml ] || fail "out starts with $(ls "$D")"
virsh_lv checkpoint-create-as out c1 >/dev/null || fail "virsh creates c1"
shows "a checkpoint created by virsh appears" lists "$D" c1
[ -f "$D/c1/xml" ] || fail "c1 has no xml"

ls -R "$D" >/dev/null
virsh_lv checkpoint-create-as out c2 >/dev/null || fail "virsh creates c2"
shows "a child created by virsh appears below its parent" lists "$D/c1" c2
virsh_lv checkpoint-create-as out c3 >/dev/null || fail "virsh creates c3"
shows "a grandchild created by virsh appears" lists "$D/c1/c2" c3
virsh_lv checkpoint-create-as out c4 >/dev/null || fail "virsh creates c4"
shows "another one appears" lists "$D/c1/c2/c3" c4
check_tree out

ls -R "$D" >/dev/null
virsh_lv checkpoint-delete out c4 >/dev/null || fail "virsh deletes c4"
shows "a checkpoint deleted by virsh disappears" gone "$D/c1/c2/c3" c4
check_tree out

# A middle one deleted outside: its child moves up.
virsh_lv checkpoint-create-as out c5 >/dev/null || fail "virsh creates c5"
shows "c5 appears" lists "$D/c1/c2/c3" c5
virsh_lv checkpoint-delete out c3 >/dev/null || fail "virsh deletes c3"
moved_up() { gone "$D/c1/c2" c3 && lists "$D/c1/c2" c5; }
shows "a middle checkpoint deleted by virsh disappears, its child moves up" moved_up
check_tree out
virsh_lv checkpoint-delete out c5 >/dev/null || fail "virsh deletes c5"
virsh_lv checkpoint-create-as out c3 >/dev/null || fail "virsh creates c3 again"
shows "c3 appears below c2" lists "$D/c1/c2" c3

# A redefined branch: c3 gets c1 as its parent.
ls -R "$D" >/dev/null
redefine_parent out c3 c1
branched() { lists "$D/c1" c3 && gone "$D/c1/c2" c3 && lists "$D/c1" c2; }
shows "a checkpoint redefined with another parent moves there" branched
[ "$(virsh_parent out c3)" = c1 ] || fail "virsh: c3's parent is $(virsh_parent out c3)"
[ "$(xml_parent "$D/c1/c3/xml")" = c1 ] || fail "c1/c3/xml names parent $(xml_parent "$D/c1/c3/xml")"
check_tree out

cpfs_umount
pass "unmounted cleanly"
