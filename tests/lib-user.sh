# Mounting as a user who is not root (uid 65534), the way fusermount3 lets
# one on a stock Debian system.  Source it instead of lib.sh, first thing:
# it re-runs the test in a private mount namespace, where
#   - /dev/fuse is readable and writable by everyone, as udev makes it on
#     Debian (a container may leave it 0600; libfuse opens it as the user
#     before it hands the mount to fusermount3);
#   - set_fuse_conf TEXT replaces /etc/fuse.conf, which fusermount3 and
#     checkpointfs read.
# Nothing outside the namespace changes.  Provides, besides lib.sh:
#   as_user CMD...        CMD as uid/gid 65534 with no supplementary groups,
#                         with $USER_ENV (NAME=VALUE words) added to its
#                         environment
#   user_mount ARGS...    checkpointfs -f ARGS $MNT as that user; returns once
#                         mounted ($MNT belongs to the user)
#   user_umount           fusermount3 -u as the user; the daemon exits 0
#   mounted PATH          PATH is a mount point (from mountinfo: root cannot
#                         stat a user's mount without allow_other)

USER_ID=65534

if [ -z "${CPFS_USER_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root to act as uid $USER_ID"; exit 77; }
    for tool in unshare setpriv; do
        command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool is missing" >&2; exit 1; }
    done
    CPFS_USER_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

. "$TESTS_SRC/lib.sh"

USER_ENV=
as_user() {
    # shellcheck disable=SC2086
    setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups env $USER_ENV "$@"
}

chmod 755 "$SCRATCH"
chown $USER_ID:$USER_ID "$MNT"
# A tmpfs holds the namespace's /dev/fuse node and /etc/fuse.conf; it is
# detached from $SCRATCH at once (the bind mounts keep it), so cleanup's
# rm never meets a mount.
mkdir "$SCRATCH/ns"
mount -t tmpfs -o mode=755 cpfs-test "$SCRATCH/ns" || fail "cannot mount a tmpfs in the namespace"
if ! as_user sh -c ': <>/dev/fuse' 2>/dev/null; then
    mknod -m 0666 "$SCRATCH/ns/fuse" c 10 229 2>/dev/null &&
        mount --bind "$SCRATCH/ns/fuse" /dev/fuse ||
        { umount -l "$SCRATCH/ns"; skip "/dev/fuse is not open to users and no device node can be made here"; }
    as_user sh -c ': <>/dev/fuse' || fail "uid $USER_ID still cannot open /dev/fuse"
fi
if [ -e /etc/fuse.conf ]; then
    cp /etc/fuse.conf "$SCRATCH/ns/fuse.conf"
    mount --bind "$SCRATCH/ns/fuse.conf" /etc/fuse.conf || fail "cannot bind over /etc/fuse.conf"
fi
umount -l "$SCRATCH/ns"
as_user test -x "$CHECKPOINTFS" || skip "uid $USER_ID cannot run $CHECKPOINTFS"

# set_fuse_conf TEXT: the namespace's /etc/fuse.conf holds TEXT.
set_fuse_conf() {
    grep -qF " /etc/fuse.conf " /proc/self/mountinfo || skip "no /etc/fuse.conf to replace"
    printf '%s\n' "$1" >/etc/fuse.conf
}

mounted() {
    awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

user_mount() {
    as_user "$CHECKPOINTFS" -f "$@" "$MNT" >"$LOG" 2>&1 &
    CPFS_PID=$!
    deadline=$(( $(date +%s%N) + 20 * 1000000000 ))
    until mounted "$MNT"; do
        kill -0 "$CPFS_PID" 2>/dev/null || fail "checkpointfs exited before mounting"
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "checkpointfs did not mount within 20s"
        sleep 0.02
    done
}

user_umount() {
    as_user fusermount3 -u "$MNT" || fail "fusermount3 -u as uid $USER_ID failed"
    rc=0
    wait "$CPFS_PID" || rc=$?
    CPFS_PID=
    [ "$rc" -eq 0 ] || fail "checkpointfs exited with status $rc"
    check_log_clean
}
