#!/bin/sh
# The image files on the test driver (which cannot back up): hidden by
# default but reachable by name, listed with backup_files=visible, gone with
# off and on -o ro; their modes and estimated sizes; EACCES, ENOENT, ENOTSUP
# with libvirt's message; a checkpoint cannot take an image file's name;
# bad backup options stop the mount with one line.
. "$TESTS_SRC/lib.sh"

NODE_URI="test://$TESTS_SRC/data/node.xml"
ERR=$SCRATCH/err

listing() {
    ls -A "$1" | tr '\n' ' '
}

# capacity DOM DISK: the disk's capacity as virsh reports it.
capacity() {
    virsh -q -c "$NODE_URI" domblkinfo "$1" "$2" | awk '/^Capacity:/ { print $2 }'
}

cpfs_mount "$NODE_URI"

# Hidden: not listed, not found by find, but there by name.
[ "$(listing "$MNT/beta")" = "xml " ] || fail "beta lists '$(listing "$MNT/beta")'"
[ -z "$(find "$MNT" -name '*.raw' -o -name '*.qcow2')" ] || fail "find sees image files"
for f in vda.raw vda.qcow2 vdb.raw vdb.qcow2; do
    [ "$(stat -c '%F %a' "$MNT/beta/$f")" = "regular file 444" ] ||
        fail "beta/$f is '$(stat -c '%F %a' "$MNT/beta/$f" 2>&1)'"
done
pass "image files are hidden but reachable by name"

# Sizes before any job: the raw file is the disk's capacity, the qcow2 one
# its allocation plus metadata (the test driver claims the whole disk).
cap=$(capacity beta vda)
[ -n "$cap" ] && [ "$cap" -gt 0 ] || fail "virsh gave no capacity for beta vda"
[ "$(stat -c %s "$MNT/beta/vda.raw")" = "$cap" ] ||
    fail "beta/vda.raw is $(stat -c %s "$MNT/beta/vda.raw") bytes, capacity $cap"
[ "$(stat -c %s "$MNT/beta/vda.qcow2")" -gt "$cap" ] ||
    fail "beta/vda.qcow2 is $(stat -c %s "$MNT/beta/vda.qcow2") bytes, not above $cap"
[ "$(stat -c %o "$MNT/beta/vda.raw")" = 1048576 ] || fail "st_blksize is not 1 MiB"
pass "stat estimates: raw $cap bytes, qcow2 above it"

# Names that are no image of the directory.
expect_errno ENOENT stat "$MNT/beta/vdz.raw"
expect_errno ENOENT stat "$MNT/beta/vdz.qcow2"
expect_errno ENOENT stat "$MNT/beta/.qcow2"
expect_errno ENOENT stat "$MNT/beta/vda.img"
expect_errno ENOENT stat "$MNT/beta/xml.raw"
pass "ENOENT for disks the domain does not have"

# Opening: never for writing; a driver that cannot back up says so.
expect_errno EACCES open_w "$MNT/beta/vda.raw"
expect_errno EACCES open_rw "$MNT/beta/vda.qcow2"
expect_errno EACCES open_trunc "$MNT/beta/vda.qcow2"
expect_errno ENOTSUP open_r "$MNT/beta/vda.qcow2"
log_has "not supported by the connection driver: virDomainBackupBegin"
expect_errno ENODATA getxattr_nbd "$MNT/beta/vda.qcow2"
pass "EACCES for writing, ENOTSUP with libvirt's message, no NBD URI without a job"

# Checkpoint directories hold overlays only, of the disks they cover.
mkdir "$MNT/beta/c1"
[ "$(listing "$MNT/beta/c1")" = "xml " ] || fail "beta/c1 lists '$(listing "$MNT/beta/c1")'"
[ "$(stat -c '%F %a' "$MNT/beta/c1/vdb.qcow2")" = "regular file 444" ] ||
    fail "beta/c1/vdb.qcow2 is missing"
expect_errno ENOENT stat "$MNT/beta/c1/vdb.raw"
pass "a checkpoint directory holds DISK.qcow2 only"

# A checkpoint cannot take the name of a disk file, anywhere in the domain
# (rmdir may move it up to the domain's directory); other names can.
for name in vda.qcow2 vdb.raw; do
    expect_errno EEXIST mkdir "$MNT/beta/c1/$name"
    log_has "mkdir '$name' refused: it is the name of a disk image file"
done
mkdir "$MNT/beta/c1/vdz.qcow2" || fail "mkdir of a name no disk has failed"
virsh_names=$(virsh -q -c "$NODE_URI" checkpoint-list beta --name 2>/dev/null || true)
pass "EEXIST for image names, other .qcow2 names allowed"

# lseek on an xml file: one data extent.
"$PYTHON" "$HELPERS/seek_extents.py" "$MNT/beta/xml" >"$SCRATCH/ext" || fail "lseek on xml failed"
[ "$(cat "$SCRATCH/ext")" = "0 $(stat -c %s "$MNT/beta/xml")" ] ||
    fail "xml extents are '$(cat "$SCRATCH/ext")'"
cpfs_umount

# Visible: listed in every directory, sorted with the rest.
cpfs_mount -o backup_files=visible "$NODE_URI"
[ "$(listing "$MNT/beta")" = "vda.qcow2 vda.raw vdb.qcow2 vdb.raw xml " ] ||
    fail "visible: beta lists '$(listing "$MNT/beta")'"
mkdir "$MNT/beta/c1"
[ "$(listing "$MNT/beta/c1")" = "vda.qcow2 vdb.qcow2 xml " ] ||
    fail "visible: beta/c1 lists '$(listing "$MNT/beta/c1")'"
[ "$(find "$MNT/alpha" -type f | sort | tr '\n' ' ')" = \
  "$MNT/alpha/vda.qcow2 $MNT/alpha/vda.raw $MNT/alpha/xml " ] || fail "visible: find alpha"
cpfs_umount
pass "backup_files=visible lists them"

# Off, and read-only: no image files at all, and no name is reserved.
cpfs_mount -o backup_files=off "$NODE_URI"
expect_errno ENOENT stat "$MNT/beta/vda.raw"
expect_errno ENOENT open_r "$MNT/beta/vda.qcow2"
mkdir "$MNT/beta/vda.qcow2" || fail "backup_files=off: mkdir vda.qcow2 failed"
cpfs_umount
cpfs_mount -o ro "$NODE_URI"
expect_errno ENOENT stat "$MNT/beta/vda.raw"
expect_errno ENOENT stat "$MNT/beta/vda.qcow2"
cpfs_umount
pass "backup_files=off and -o ro have none"

# Bad values: one line on stderr, exit 1, nothing mounted.
for opt in backup_files=maybe backup_linger=soon backup_linger=-1 backup_ports=20-10 \
           backup_ports=0-5 backup_ports=100 backup_scratch=relative/dir; do
    rc=0
    "$CHECKPOINTFS" -f -o "$opt" "$NODE_URI" "$MNT" >/dev/null 2>"$ERR" || rc=$?
    [ "$rc" -eq 1 ] || fail "-o $opt: exit $rc, expected 1"
    [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "^checkpointfs: bad backup option value" "$ERR" ||
        fail "-o $opt: stderr is '$(cat "$ERR")'"
    ! mountpoint -q "$MNT" || fail "-o $opt mounted"
done
pass "bad backup options: one line, exit 1"
