#!/bin/sh
# -o ro: directories 0555, mkdir/rmdir fail with EROFS and change nothing,
# reading works, and mount(8) shows the mount read-only.
. "$TESTS_SRC/lib.sh"

NODE_URI="test://$TESTS_SRC/data/node.xml"

# count_dirs: directories in the mount (domains and checkpoints).
count_dirs() {
    find "$MNT" -mindepth 1 -type d | wc -l
}

mount_opts() {
    awk -v p="$MNT" '$5 == p { print $6 }' /proc/self/mountinfo
}

# mount_ro: whether the kernel's mount on $MNT is read-only; fails the test
# when $MNT is not mounted at all (else "not ro" would pass for a lost mount).
mount_ro() {
    opts=$(mount_opts)
    [ -n "$opts" ] || fail "$MNT is not mounted"
    case ",$opts," in *,ro,*) return 0 ;; esac
    return 1
}

for uri in test:///default "$NODE_URI"; do
    cpfs_mount -o ro "$uri"
    mount_ro || fail "$uri: mountinfo options are $(mount_opts), not ro"
    mount | grep -F " on $MNT type fuse.checkpointfs " | grep -qE '\(ro[,)]' ||
        fail "mount does not show $MNT read-only: $(mount | grep -F "$MNT")"
    [ "$(stat -c %a "$MNT")" = 555 ] || fail "root is $(stat -c %a "$MNT"), expected 555"
    doms=$(ls "$MNT")
    [ -n "$doms" ] || fail "$uri: no domains listed"
    for d in $doms; do
        [ "$(stat -c '%F %a' "$MNT/$d")" = "directory 555" ] ||
            fail "$d is $(stat -c '%F %a' "$MNT/$d"), expected directory 555"
        [ "$(stat -c '%F %a' "$MNT/$d/xml")" = "regular file 444" ] ||
            fail "$d/xml is $(stat -c '%F %a' "$MNT/$d/xml"), expected regular file 444"
        grep -q "<name>$d</name>" "$MNT/$d/xml" || fail "$d/xml cannot be read"
        [ "$(stat -c %s "$MNT/$d/xml")" -eq "$(wc -c <"$MNT/$d/xml")" ] || fail "$d/xml size is wrong"
    done
    before=$(count_dirs)
    first=$(echo "$doms" | head -n1)
    expect_errno EROFS mkdir "$MNT/$first/cp1"
    expect_errno EROFS mkdir "$MNT/$first/cp2"
    expect_errno EROFS mkdir "$MNT/newdomain"
    expect_errno EROFS rmdir "$MNT/$first"
    expect_errno EROFS rmdir "$MNT/$first/nosuch"
    if ! mkdir "$MNT/$first/shell-mkdir" 2>"$SCRATCH/err"; then
        grep -q 'Read-only file system' "$SCRATCH/err" || fail "mkdir(1) error: $(cat "$SCRATCH/err")"
    else
        fail "mkdir(1) succeeded on a read-only mount"
    fi
    expect_errno EROFS creat "$MNT/$first/newfile"
    expect_errno EROFS open_w "$MNT/$first/xml"
    expect_errno EROFS chmod "$MNT/$first"
    expect_errno EROFS setxattr "$MNT/$first/xml"
    after=$(count_dirs)
    [ "$before" -eq "$after" ] || fail "$uri: $before directories before, $after after"
    [ ! -e "$MNT/$first/cp1" ] && [ ! -e "$MNT/$first/shell-mkdir" ] || fail "a checkpoint appeared"
    [ "$(ls "$MNT")" = "$doms" ] || fail "the domain list changed"
    pass "$uri -o ro: 0555 dirs, EROFS for mkdir/rmdir, nothing changed, reads work"

    # The kernel refuses the above by itself on a ro mount.  Make the
    # kernel's mount read-write behind the daemon's back (-i: no helper), so
    # that the requests reach the daemon: it must refuse them too.
    mount -i -o remount,rw "$MNT" || fail "remount,rw failed"
    ! mount_ro || fail "remount,rw did not make the kernel mount rw"
    expect_errno EROFS mkdir "$MNT/$first/cp1"
    expect_errno EROFS rmdir "$MNT/$first"
    expect_errno EROFS setxattr "$MNT/$first/xml"
    expect_errno EROFS open_w "$MNT/$first/xml"
    [ "$(stat -c %a "$MNT/$first")" = 555 ] || fail "daemon no longer reports 0555 after remount"
    [ "$(count_dirs)" -eq "$before" ] || fail "$uri: a directory appeared after remount,rw"
    pass "$uri -o ro: the daemon itself answers EROFS when the kernel lets a change through"
    cpfs_umount
done

# The domain description read on the read-only connection is libvirt's.
if command -v virsh >/dev/null; then
    cpfs_mount -o ro test:///default
    virsh -q -c test:///default dumpxml test >"$SCRATCH/virsh.xml"
    cmp -s "$MNT/test/xml" "$SCRATCH/virsh.xml" || fail "ro mount: test/xml differs from virsh dumpxml"
    cpfs_umount
    pass "ro mount: test/xml equals virsh dumpxml"
fi

# A read-write mount of the same URI is not ro and its directories are 0755:
# the checks above are not true of every mount.
cpfs_mount test:///default
! mount_ro || fail "a rw mount shows ro"
[ "$(stat -c %a "$MNT/test")" = 755 ] || fail "rw mount: test is $(stat -c %a "$MNT/test")"
mkdir "$MNT/test/rw-ok" || fail "mkdir on a rw mount failed"
cpfs_umount
pass "rw mount for contrast: 0755, mkdir works"
