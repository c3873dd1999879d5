#!/bin/sh
# Names on a real qemu: over 247 bytes is ENAMETOOLONG before libvirt is
# asked (qemu would leak a bitmap), 247 works; invalid names leave nothing.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define nm
cpfs_mount "$LV_URI"
D=$MNT/nm

# nothing_left WHAT: no checkpoint in virsh or the mount, no bitmap in qemu.
nothing_left() {
    nl_names=$(virsh_checkpoints nm) || fail "$1: virsh cannot list the checkpoints"
    [ -z "$nl_names" ] || fail "$1: virsh lists $nl_names"
    nl_bitmaps=$(qemu_bitmaps nm) || fail "$1: cannot read qemu's bitmaps"
    [ -z "$nl_bitmaps" ] || fail "$1: qemu has bitmaps $nl_bitmaps"
    [ "$(ls -A "$D")" = xml ] || fail "$1: the mount shows $(ls -A "$D")"
}

long248=$(printf 'a%.0s' $(seq 248))
long247=$(printf 'b%.0s' $(seq 247))
[ ${#long248} -eq 248 ] && [ ${#long247} -eq 247 ] || fail "test bug: name lengths"

expect_errno ENAMETOOLONG mkdir "$D/$long248"
nothing_left "mkdir of a 248-byte name"
pass "a 248-byte name: ENAMETOOLONG, no checkpoint, no bitmap"

expect_errno OK mkdir "$D/$long247"
[ "$(virsh_checkpoints nm)" = "$long247" ] || fail "virsh does not list the 247-byte checkpoint"
[ "$(qemu_bitmaps nm)" = "nm-vda.qcow2 $long247" ] ||
    fail "no bitmap for the 247-byte checkpoint: $(qemu_bitmaps nm)"
[ -f "$D/$long247/xml" ] || fail "the 247-byte checkpoint has no xml"
grep -q "<name>$long247</name>" "$D/$long247/xml" || fail "its xml does not name it"
pass "a 247-byte name: created, with its bitmap"

expect_errno OK rmdir "$D/$long247"
nothing_left "rmdir of the 247-byte checkpoint"
pass "rmdir of the 247-byte checkpoint removed checkpoint and bitmap"

for bad in .hidden "with space" "caf$(printf '\303\251')" "at@sign"; do
    expect_errno EINVAL mkdir "$D/$bad"
    nothing_left "mkdir '$bad'"
done
# A leading dot, also below an existing checkpoint.
mkdir "$D/ok1" || fail "mkdir ok1"
expect_errno EINVAL mkdir "$D/ok1/.dot"
expect_errno EINVAL mkdir "$D/ok1/x y"
[ "$(virsh_checkpoints nm)" = ok1 ] || fail "invalid names below ok1 left $(virsh_checkpoints nm)"
[ "$(qemu_bitmaps nm)" = "nm-vda.qcow2 ok1" ] || fail "bitmaps now $(qemu_bitmaps nm)"
rmdir "$D/ok1" || fail "rmdir ok1"
nothing_left "cleanup"
pass "invalid names (leading dot, space, non-ASCII, @): EINVAL, nothing left"

cpfs_umount
pass "unmounted cleanly"

# A name taken outside the mount, not yet in the daemon's listing: the
# daemon asks libvirt, the mkdir gets EEXIST, and no disk is touched.
# A long cache_timeout keeps the listing stale for sure.
cpfs_mount -o cache_timeout=60 "$LV_URI"
mkdir "$D/leaf" || fail "mkdir leaf"
ls "$D/leaf" >/dev/null
virsh_lv checkpoint-create-as nm taken >/dev/null || fail "virsh cannot create 'taken'"
before=$(qemu_bitmaps nm) || fail "cannot read qemu's bitmaps"
expect_errno EEXIST mkdir "$D/leaf/taken"
[ "$(qemu_bitmaps nm)" = "$before" ] || fail "a refused duplicate changed the bitmaps"
[ "$(virsh_checkpoints nm | tr '\n' ' ')" = "leaf taken " ] ||
    fail "checkpoints after the duplicate: $(virsh_checkpoints nm)"
log_has "mkdir 'taken' refused: libvirt has a checkpoint of that name"
pass "a name taken outside the mount: EEXIST from libvirt, bitmaps untouched"
cpfs_umount
