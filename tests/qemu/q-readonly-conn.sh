#!/bin/bash
# -o ro opens the libvirt connection read-only, so that even a bug in the
# FUSE layer could not change anything: libvirtd's admin interface shows the
# daemon's connection as read-only (and as read-write without -o ro).
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
command -v virt-admin >/dev/null || skip "no virt-admin"
qemu_start_libvirtd
qemu_define vm1
ADM="libvirtd:///session?socket=$LV_DIR/run/libvirt/libvirt-admin-sock"

# readonly_of PID: the "readonly" field libvirtd reports for PID's client.
readonly_of() {
    for id in $(as_lv_user env HOME="$LV_DIR" virt-admin -c "$ADM" srv-clients-list libvirtd |
                awk '$1 ~ /^[0-9]+$/ { print $1 }'); do
        info=$(as_lv_user env HOME="$LV_DIR" virt-admin -c "$ADM" client-info libvirtd "$id")
        if echo "$info" | grep -Eq "unix_process_id *: *$1\$"; then
            echo "$info" | awk -F': *' '/^readonly/ { print $2 }'
            return
        fi
    done
    echo "not-found"
}

cpfs_mount -o ro "$LV_URI"
ls "$MNT/vm1" >/dev/null
[ "$(readonly_of "$CPFS_PID")" = yes ] || fail "with -o ro the connection is not read-only: $(readonly_of "$CPFS_PID")"
expect_errno EROFS mkdir "$MNT/vm1/a"
names=$(virsh_checkpoints vm1) || fail "virsh cannot list the checkpoints"
[ -z "$names" ] || fail "a checkpoint appeared: $names"
cpfs_umount

cpfs_mount "$LV_URI"
ls "$MNT/vm1" >/dev/null
[ "$(readonly_of "$CPFS_PID")" = no ] || fail "without -o ro the connection should be read-write"
cpfs_umount
pass "-o ro connects to libvirt read-only"
