#!/bin/sh
# A shut-off domain keeps listing its checkpoints, and mkdir there is
# ENOTSUP; a raw disk makes mkdir fail with a log line naming the disk.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define off
qemu_define raw --raw
cpfs_mount "$LV_URI"

# image_bitmaps DOM: the bitmaps stored in DOM's vda image (domain not running).
image_bitmaps() {
    ib_json=$(qemu-img info -U --output=json "$LV_DIR/images/$1-vda.qcow2") ||
        { echo "FAIL: qemu-img info of $1's vda failed" >&2; return 1; }
    printf '%s' "$ib_json" | "$PYTHON" "$HELPERS/qemu_bitmaps.py" image
}

# The shut-off domain: checkpoints made while it ran, then destroyed.
mkdir "$MNT/off/c1" || fail "mkdir off/c1 while running"
mkdir "$MNT/off/c1/c2" || fail "mkdir off/c1/c2 while running"
virsh_lv destroy off >/dev/null || fail "virsh destroy off"
[ "$(virsh_lv domstate off)" = "shut off" ] || fail "off is $(virsh_lv domstate off)"

[ -d "$MNT/off/c1/c2" ] || fail "the shut-off domain lost its checkpoints: $(ls -R "$MNT/off")"
[ "$(ls "$MNT/off")" = "$(printf 'c1\nxml')" ] || fail "off lists $(ls "$MNT/off")"
[ "$(ls "$MNT/off/c1")" = "$(printf 'c2\nxml')" ] || fail "off/c1 lists $(ls "$MNT/off/c1")"
grep -q "<name>c2</name>" "$MNT/off/c1/c2/xml" || fail "off/c1/c2/xml is not c2's description"
check_tree off
pass "a shut-off domain still lists its checkpoints, nested as before"

# The bitmaps qemu wrote into the image when it stopped.
before=$(image_bitmaps off) || fail "cannot read the bitmaps of off's image"
[ "$before" = "$(printf 'c1\nc2')" ] || fail "test bug: the image holds bitmaps [$before]"

expect_errno ENOTSUP mkdir "$MNT/off/c1/c2/c3"
log_has "inactive domain"
[ "$(virsh_checkpoints off)" = "$(printf 'c1\nc2')" ] ||
    fail "mkdir on the shut-off domain changed the checkpoints: $(virsh_checkpoints off)"
[ ! -e "$MNT/off/c1/c2/c3" ] || fail "c3 shows"
[ "$(image_bitmaps off)" = "$before" ] || fail "the image's bitmaps changed: $(image_bitmaps off)"
check_tree off
pass "mkdir on the shut-off domain: ENOTSUP, logged, nothing created"

# The running domain with a raw disk.
[ "$(virsh_lv domstate raw)" = running ] || fail "raw is $(virsh_lv domstate raw)"
expect_errno ENOTSUP mkdir "$MNT/raw/r1"
log_has "disk vda.*raw"
names=$(virsh_checkpoints raw) || fail "virsh cannot list the checkpoints"
[ -z "$names" ] || fail "virsh lists $names on raw"
[ "$(ls -A "$MNT/raw")" = xml ] || fail "raw shows $(ls -A "$MNT/raw")"
pass "mkdir on a raw-disk domain: ENOTSUP, the log names vda, nothing created"

cpfs_umount
pass "unmounted cleanly"
