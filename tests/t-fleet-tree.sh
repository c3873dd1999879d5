#!/bin/sh
# A hosts file as the mount source: the root holds one directory per host,
# sorted, each holding its own host's domains; a checkpoint made below one
# host shows there only; mount(8) names the hosts file; mkdir and rmdir at
# the root and directly in a host directory are EPERM; -c FILE and
# -o uri=FILE work too; -o ro and readonly=true make hosts read-only; an
# empty file mounts an empty fleet; a single URI
# still has no host level.
. "$TESTS_SRC/lib.sh"
command -v getfattr >/dev/null || skip "getfattr is not installed (attr)"

NODE_URI="test://$TESTS_SRC/data/node.xml"
NODE2_URI="test://$TESTS_SRC/data/node-fleet.xml"
HF=$SCRATCH/fleet.conf

# mount_source PATH: the source field of the mount on PATH.
mount_source() {
    awk -v p="$1" '$5 == p { for (i = 6; i <= NF; i++) if ($i == "-") { print $(i + 2); exit } }' \
        /proc/self/mountinfo
}

# Written out of order, with comments and blank lines: the root sorts.
cat >"$HF" <<EOF
# the lab: in-process test driver
[lab_x]
uri=test:///default

# two test nodes
[hv2.b]
uri=$NODE2_URI
[hv1]
uri=$NODE_URI
EOF

cpfs_mount "$HF"
uid=$(id -u)
gid=$(id -g)
expect_entries "$MNT" ". d" ".. d" "hv1 d" "hv2.b d" "lab_x d"
pass "the root lists the three hosts, sorted, as directories"

expect_entries "$MNT/hv1" ". d" ".. d" "alpha d" "beta d" "gamma-off d"
expect_entries "$MNT/hv2.b" ". d" ".. d" "delta d" "epsilon d"
expect_entries "$MNT/lab_x" ". d" ".. d" "test d"
for pair in hv1/alpha hv1/gamma-off hv2.b/delta hv2.b/epsilon lab_x/test; do
    expect_entries "$MNT/$pair" ". d" ".. d" "xml f"
    grep -q "<name>${pair#*/}</name>" "$MNT/$pair/xml" || fail "$pair/xml is not ${pair#*/}'s description"
done
pass "each host directory holds its own host's domains, each with its xml"

expect_stat() {
    got=$(stat -c "$2" "$1") || fail "stat $1 failed"
    [ "$got" = "$3" ] || fail "stat -c '$2' $1 is '$got', expected '$3'"
}
# The root is 0555: nothing is made there (hosts come from the file).
expect_stat "$MNT" '%F %a %h %u %g' "directory 555 5 $uid $gid"
expect_stat "$MNT/hv1" '%F %a %h %u %g' "directory 755 5 $uid $gid"
expect_stat "$MNT/hv2.b" '%F %a %h %u %g' "directory 755 4 $uid $gid"
expect_stat "$MNT/lab_x" '%F %a %h %u %g' "directory 755 3 $uid $gid"
ino1=$(stat -c %i "$MNT/hv1") ino2=$(stat -c %i "$MNT/hv2.b") ino3=$(stat -c %i "$MNT/lab_x")
[ "$ino1" != "$ino2" ] && [ "$ino2" != "$ino3" ] && [ "$ino1" != "$ino3" ] ||
    fail "host directories share inode numbers: $ino1 $ino2 $ino3"
for p in "$MNT/nosuch" "$MNT/hv1/nosuch" "$MNT/hv1/delta" "$MNT/lab_x/alpha" "$MNT/nosuch/test"; do
    expect_errno ENOENT stat "$p"
done
pass "stat: root 0555, host directories 0755, nlink 2 + entries, own inodes; ENOENT for other hosts' domains"

for pair in "hv1 $NODE_URI" "hv2.b $NODE2_URI" "lab_x test:///default"; do
    h=${pair%% *} u=${pair#* }
    [ "$(cpfs_xattr "$MNT/$h" uri)" = "$u" ] ||
        fail "$h's user.checkpointfs.uri is '$(cpfs_xattr "$MNT/$h" uri)', expected '$u'"
done
pass "each host directory's user.checkpointfs.uri is its configured URI"

# A checkpoint below one host: there only.  The test driver's state lives in
# the daemon's connection of that host, so the mount is all there is to see.
mkdir "$MNT/hv1/alpha/c1" || fail "mkdir hv1/alpha/c1 failed"
mkdir "$MNT/lab_x/test/l1" || fail "mkdir lab_x/test/l1 failed"
grep -q '<name>c1</name>' "$MNT/hv1/alpha/c1/xml" || fail "hv1/alpha/c1/xml is not c1's"
grep -q '<name>alpha</name>' "$MNT/hv1/alpha/c1/xml" || fail "hv1/alpha/c1/xml does not embed domain alpha"
expect_entries "$MNT/hv1/alpha" ". d" ".. d" "xml f" "c1 d"
expect_entries "$MNT/lab_x/test" ". d" ".. d" "xml f" "l1 d"
found=$(find "$MNT" -mindepth 3 -type d | sed "s|^$MNT/||" | sort | tr '\n' ' ')
[ "$found" = "hv1/alpha/c1 lab_x/test/l1 " ] || fail "find lists the checkpoints [$found]"
rmdir "$MNT/hv1/alpha/c1" || fail "rmdir hv1/alpha/c1 failed"
expect_errno ENOENT stat "$MNT/hv1/alpha/c1"
expect_entries "$MNT/hv1/alpha" ". d" ".. d" "xml f"
expect_entries "$MNT/lab_x/test" ". d" ".. d" "xml f" "l1 d"
pass "mkdir and rmdir of checkpoints below a host work there and show nowhere else"

# mount(8) and findmnt name the hosts file.
[ "$(findmnt -n -o FSTYPE "$MNT")" = fuse.checkpointfs ] ||
    fail "findmnt FSTYPE is '$(findmnt -n -o FSTYPE "$MNT")'"
[ "$(findmnt -n -o SOURCE "$MNT")" = "$HF" ] || fail "findmnt SOURCE is '$(findmnt -n -o SOURCE "$MNT")', expected $HF"
mount | grep -qF "$HF on $MNT type fuse.checkpointfs (" ||
    fail "mount does not show '$HF on $MNT type fuse.checkpointfs': $(mount | grep -F "$MNT")"
pass "mount and findmnt show the hosts file as source, type fuse.checkpointfs"

# No hosts or domains are made or removed through the mount.
expect_errno EPERM mkdir "$MNT/newhost"
expect_errno EPERM rmdir "$MNT/hv1"
expect_errno EPERM rmdir "$MNT/lab_x"
expect_errno EPERM mkdir "$MNT/hv1/newdomain"
expect_errno EPERM mkdir "$MNT/lab_x/c1"
expect_errno EPERM rmdir "$MNT/hv1/alpha"
expect_errno EPERM rmdir "$MNT/lab_x/test"
expect_entries "$MNT" ". d" ".. d" "hv1 d" "hv2.b d" "lab_x d"
expect_entries "$MNT/hv1" ". d" ".. d" "alpha d" "beta d" "gamma-off d"
expect_entries "$MNT/lab_x" ". d" ".. d" "test d"
pass "mkdir and rmdir at the root and directly in a host directory: EPERM, nothing changed"
cpfs_umount

# The other ways of naming the source.
for how in "-c" "-o uri="; do
    if [ "$how" = "-c" ]; then cpfs_mount -c "$HF"; else cpfs_mount -o "uri=$HF"; fi
    expect_entries "$MNT" ". d" ".. d" "hv1 d" "hv2.b d" "lab_x d"
    [ "$(mount_source "$MNT")" = "$HF" ] || fail "$how FILE: mount source is '$(mount_source "$MNT")'"
    cpfs_umount
done
pass "-c FILE and -o uri=FILE mount the hosts file too"

# -o ro makes every host read-only; readonly=true one host.
cpfs_mount -o ro "$HF"
expect_errno EROFS mkdir "$MNT/hv1/alpha/c1"
expect_errno EROFS mkdir "$MNT/lab_x/test/c1"
cpfs_umount
printf '[hv1]\nuri=%s\n[lab_x]\nuri=test:///default\nreadonly=true\n' "$NODE_URI" >"$SCRATCH/ro.conf"
cpfs_mount "$SCRATCH/ro.conf"
expect_stat "$MNT/lab_x" '%a' 555
expect_stat "$MNT/lab_x/test" '%a' 555
expect_stat "$MNT/hv1" '%a' 755
expect_errno EROFS mkdir "$MNT/lab_x/test/c1"
mkdir "$MNT/hv1/alpha/c1" || fail "mkdir below hv1, which is not readonly, failed"
# Every other change below the read-only host is EROFS too, as on -o ro;
# below the other host it stays what a writable mount refuses with.
expect_errno EROFS chmod "$MNT/lab_x/test"
expect_errno EROFS creat "$MNT/lab_x/test/newfile"
expect_errno EROFS symlink "$MNT/lab_x/test/ln" target
expect_errno EROFS setxattr "$MNT/lab_x/test"
expect_errno EPERM chmod "$MNT/hv1/alpha"
expect_errno EPERM creat "$MNT/hv1/alpha/newfile"
expect_errno ENOTSUP setxattr "$MNT/hv1/alpha"
expect_errno ENOENT stat "$MNT/lab_x/test/c1"
cpfs_umount
pass "-o ro: EROFS below every host; readonly=true: EROFS (and 0555) below that host only"

# An empty fleet (comments only) mounts, with an empty root.
printf '# no hosts yet\n' >"$HF"
cpfs_mount "$HF"
expect_entries "$MNT" ". d" ".. d"
expect_errno EPERM mkdir "$MNT/newhost"
cpfs_umount
pass "a hosts file without hosts mounts an empty root"

# A single URI: the root holds the domains, no host level.
cpfs_mount test:///default
expect_entries "$MNT" ". d" ".. d" "test d"
[ "$(cpfs_xattr "$MNT" uri)" = "test:///default" ] || fail "single-URI root: uri xattr '$(cpfs_xattr "$MNT" uri)'"
[ "$(findmnt -n -o SOURCE "$MNT")" = "test:///default" ] || fail "single-URI source is not the URI"
cpfs_umount
pass "a single URI mounts as before: domains at the root"
