#!/bin/sh
# mkdirat through the fd of a checkpoint that virsh deleted and made again
# under the same name gives ENOENT and creates nothing: the fd names the old
# incarnation (issue 8, fault 7).  The test driver cannot show this: there
# only the mount can delete, and the kernel itself refuses mkdir in a
# directory it saw removed.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define stale
cpfs_mount -o cache_timeout=1 "$LV_URI"
"$PYTHON" "$HELPERS/fs_checks.py" mkdirat-stale "$MNT/stale" \
    "virsh -q -c '$LV_URI' checkpoint-delete stale a >/dev/null" \
    "virsh -q -c '$LV_URI' checkpoint-create-as stale a >/dev/null" ||
    fail "mkdirat-stale: see FAIL lines above"
[ -z "$(virsh_lv checkpoint-list stale --name)" ] ||
    fail "checkpoints left: $(virsh_lv checkpoint-list stale --name | tr '\n' ' ')"
pass "mkdirat through a stale directory fd gives ENOENT; nothing is created"
cpfs_umount
