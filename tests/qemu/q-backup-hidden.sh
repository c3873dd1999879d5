#!/bin/bash
# A checkpoint named like an image file of the domain (vda.qcow2) can only
# come from outside the mount; the name is the file's, so the checkpoint is
# not shown (nor its children), and the daemon logs a warning once.  With
# backup_files=off the name is free and the checkpoint shows.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
cpfs_mount -o cache_timeout=0.5 "$LV_URI"
mkdir "$MNT/vm1/a"
virsh_lv checkpoint-create-as vm1 vda.qcow2 >/dev/null ||
    fail "virsh cannot create a checkpoint named vda.qcow2"
virsh_lv checkpoint-create-as vm1 below >/dev/null || fail "virsh cannot create a checkpoint below it"
[ "$(virsh_parent vm1 vda.qcow2)" = a ] || fail "the vda.qcow2 checkpoint is not below a"

# Listed again once cache_timeout passed: the checkpoint is left out.
wait_until 5 sh -c "ls '$MNT/vm1/a' >/dev/null; grep -q \"checkpoint 'vda.qcow2' is not shown\" '$LOG'" ||
    fail "no warning about the checkpoint named vda.qcow2"
[ "$(cd "$MNT/vm1" && find . -mindepth 1 -type d | sort)" = "./a" ] ||
    fail "the hidden checkpoint or its child shows: $(cd "$MNT/vm1" && find . -type d)"
[ "$(stat -c %F "$MNT/vm1/a/vda.qcow2")" = "regular file" ] ||
    fail "a/vda.qcow2 is not the image file"
expect_errno ENOTDIR stat "$MNT/vm1/a/vda.qcow2/xml"
expect_errno ENOENT stat "$MNT/vm1/below"
calls=$(cpfs_calls)
refreshed() { ls -R "$MNT" >/dev/null; [ "$(cpfs_calls)" -gt "$calls" ]; }
wait_until 5 refreshed || fail "the listing was not read again"
[ "$(grep -c "checkpoint 'vda.qcow2' is not shown" "$LOG")" = 1 ] ||
    fail "the warning was logged more than once"
pass "a checkpoint named like an image file is hidden with its children, with one warning"
cpfs_umount

cpfs_mount -o backup_files=off,cache_timeout=0.5 "$LV_URI"
[ -d "$MNT/vm1/a/vda.qcow2" ] && [ -d "$MNT/vm1/a/vda.qcow2/below" ] ||
    fail "backup_files=off: the checkpoint vda.qcow2 or its child does not show"
pass "with backup_files=off it shows"
cpfs_umount
