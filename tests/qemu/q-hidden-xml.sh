#!/bin/bash
# A checkpoint named "xml" can only come from outside the mount; it would
# clash with the xml file, so it is not shown (nor its children), and the
# daemon logs a warning once.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
cpfs_mount -o cache_timeout=0.5 "$LV_URI"
mkdir "$MNT/vm1/a"
virsh_lv checkpoint-create-as vm1 xml >/dev/null || fail "virsh cannot create a checkpoint named xml"
virsh_lv checkpoint-create-as vm1 below >/dev/null || fail "virsh cannot create a checkpoint below it"
[ "$(virsh_parent vm1 xml)" = a ] || fail "the xml checkpoint is not below a"

wait_until 3 grep -q "named 'xml'" "$LOG" ||
    { ls "$MNT/vm1/a" >/dev/null; wait_until 3 grep -q "named 'xml'" "$LOG"; } ||
    fail "no warning about the checkpoint named xml"
[ -f "$MNT/vm1/a/xml" ] || fail "a/xml is not the description file any more"
grep -q '<name>a</name>' "$MNT/vm1/a/xml" || fail "a/xml does not describe checkpoint a"
[ "$(cd "$MNT/vm1" && find . -mindepth 1 -type d | sort)" = "./a" ] ||
    fail "the hidden checkpoint or its child shows: $(cd "$MNT/vm1" && find . -type d)"
[ "$(stat -c %h "$MNT/vm1/a")" = 2 ] || fail "a counts a hidden subdirectory in its link count"
expect_errno EEXIST mkdir "$MNT/vm1/a/xml"
# Listings read again from libvirt (the call count grows) must not warn again.
calls=$(cpfs_calls)
refreshed() { ls -R "$MNT" >/dev/null; [ "$(cpfs_calls)" -gt "$calls" ]; }
wait_until 5 refreshed || fail "the listing was not read again"
[ "$(grep -c "named 'xml'" "$LOG")" = 1 ] || fail "the warning was logged more than once"
pass "a checkpoint named xml is hidden with its children, with one warning"
cpfs_umount
