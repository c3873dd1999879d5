#!/bin/sh
# Mounting the usual FUSE way: `mount -t fuse.checkpointfs URI MNT` and an
# fstab line (util-linux's `mount -T FSTAB MNT`); mount.fuse3 runs
# `checkpointfs URI MNT -o OPTIONS`, and umount(8) unmounts.
#
# util-linux's mount drops PATH from the environment before it runs a helper,
# so mount.fuse3's /bin/sh searches its default PATH, which starts with
# /usr/local/sbin.  The test therefore runs in a private mount namespace in
# which a folder holding a `checkpointfs` symlink to the binary under test is
# bind-mounted over /usr/local/sbin; nothing outside the namespace changes.

if [ -z "${CPFS_FSTAB_IN_NS:-}" ]; then
    helper=
    for d in /sbin /usr/sbin /bin /usr/bin; do
        [ -x "$d/mount.fuse3" ] && helper=$d/mount.fuse3 && break
    done
    [ -n "$helper" ] || command -v mount.fuse3 >/dev/null 2>&1 || {
        echo "SKIP: mount.fuse3 is not installed"
        exit 77
    }
    command -v unshare >/dev/null 2>&1 || { echo "FAIL: unshare(1) is missing" >&2; exit 1; }
    CPFS_FSTAB_IN_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

. "$TESTS_SRC/lib.sh"

NODE_URI="test://$TESTS_SRC/data/node.xml"
BIN=$SCRATCH/bin
SAN=$SCRATCH/san
mkdir -p "$BIN"
ln -s "$CHECKPOINTFS" "$BIN/checkpointfs"
PATH=$BIN:$PATH
export PATH
mount --bind "$BIN" /usr/local/sbin || fail "cannot bind-mount $BIN over /usr/local/sbin"
[ "$(env -i /bin/sh -c 'command -v checkpointfs')" = /usr/local/sbin/checkpointfs ] ||
    fail "the helper's default PATH does not find our checkpointfs first"

# The daemon mount.fuse3 starts goes to the background: its stderr is gone,
# so sanitizer reports go to files.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SAN"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SAN"
export ASAN_OPTIONS UBSAN_OPTIONS

mounted() {
    awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# mountinfo_field PATH WHAT: fstype, source or opts (mount options) of the
# mount on PATH.
mountinfo_field() {
    awk -v p="$1" -v w="$2" '$5 == p {
        if (w == "opts") { print $6; exit }
        for (i = 7; i <= NF; i++) if ($i == "-") break
        print (w == "fstype" ? $(i + 1) : $(i + 2)); exit }' /proc/self/mountinfo
}

# daemon_pid PATH: the one checkpointfs process serving PATH.
daemon_pid() {
    echo $(daemon_pids "$1")
}

no_daemon() {
    [ -z "$(daemon_pid "$1")" ]
}

# argv_of PID: the arguments of PID after argv[0], one per line.
argv_of() {
    tr '\0' '\n' <"/proc/$1/cmdline" | tail -n +2
}

shows_domains() {
    want=$(printf '%s\n' "$@" | sort)
    got=$(ls -A "$MNT" | sort)
    [ "$got" = "$want" ] || fail "mount lists '$(echo $got)', expected '$(echo $want)'"
}

# no_sanitizer_report: no daemon started by mount wrote a sanitizer report.
no_sanitizer_report() {
    if ls "$SAN".* >/dev/null 2>&1; then
        cat "$SAN".* >&2
        fail "sanitizer report from a daemon started by mount"
    fi
}

# check_daemon URI: the daemon serving $MNT is our binary, started with URI
# as its first argument and $MNT as its second.
check_daemon() {
    no_sanitizer_report
    pid=$(daemon_pid "$MNT")
    [ -n "$pid" ] && [ "$(echo "$pid" | wc -w)" -eq 1 ] ||
        fail "expected one checkpointfs daemon for $MNT, found '$pid'"
    [ "$(readlink -f "/proc/$pid/exe")" = "$(readlink -f "$CHECKPOINTFS")" ] ||
        fail "the daemon is $(readlink -f "/proc/$pid/exe"), not the binary under test"
    args=$(argv_of "$pid")
    if [ -z "$args" ]; then
        # It died: give a sanitizer a moment to finish its report.
        wait_until 5 sh -c "ls '$SAN'.* >/dev/null 2>&1" || true
        no_sanitizer_report
        fail "daemon $pid died"
    fi
    [ "$(argv_of "$pid" | sed -n 1p)" = "$1" ] ||
        fail "mount.fuse3 did not pass the URI first: $(argv_of "$pid" | tr '\n' ' ')"
    [ "$(argv_of "$pid" | sed -n 2p)" = "$MNT" ] ||
        fail "mount.fuse3 did not pass the mount point second: $(argv_of "$pid" | tr '\n' ' ')"
    DAEMON=$pid
}

# unmount_with_umount: umount(8) unmounts and the daemon exits.
unmount_with_umount() {
    umount "$MNT" || fail "umount $MNT failed"
    ! mounted "$MNT" || fail "$MNT still mounted after umount"
    wait_until 10 no_daemon "$MNT" || fail "daemon $DAEMON still running after umount"
    no_sanitizer_report
}

# --- mount -t fuse.checkpointfs URI MNT ---------------------------------------
for uri in test:///default "$NODE_URI"; do
    mount -t fuse.checkpointfs "$uri" "$MNT" || fail "mount -t fuse.checkpointfs $uri failed"
    mounted "$MNT" || fail "mount -t returned 0 but $MNT is not mounted"
    if [ "$uri" = test:///default ]; then
        shows_domains test
        grep -q '<name>test</name>' "$MNT/test/xml" || fail "domain xml not served"
    else
        shows_domains alpha beta gamma-off
    fi
    [ "$(mountinfo_field "$MNT" fstype)" = fuse.checkpointfs ] ||
        fail "fs type is $(mountinfo_field "$MNT" fstype)"
    [ "$(mountinfo_field "$MNT" source)" = "$uri" ] ||
        fail "mount source is $(mountinfo_field "$MNT" source), expected $uri"
    check_daemon "$uri"
    mkdir "$MNT/$(ls "$MNT" | head -n1)/cp1" || fail "mkdir on a mount made by mount(8) failed"
    unmount_with_umount
    pass "mount -t fuse.checkpointfs $uri MNT; umount MNT"
done

# --- an fstab line ------------------------------------------------------------
FSTAB=$SCRATCH/fstab
printf '# checkpointfs test fstab\n%s %s fuse.checkpointfs noauto,cache_timeout=2 0 0\n' \
    "$NODE_URI" "$MNT" >"$FSTAB"
mount -T "$FSTAB" "$MNT" || fail "mount -T $FSTAB $MNT failed"
mounted "$MNT" || fail "fstab mount: $MNT is not mounted"
shows_domains alpha beta gamma-off
[ "$(mountinfo_field "$MNT" source)" = "$NODE_URI" ] || fail "fstab mount: wrong source"
[ "$(mountinfo_field "$MNT" fstype)" = fuse.checkpointfs ] || fail "fstab mount: wrong fs type"
check_daemon "$NODE_URI"
argv_of "$DAEMON" | grep -q 'cache_timeout=2' ||
    fail "fstab option cache_timeout=2 did not reach the daemon: $(argv_of "$DAEMON" | tr '\n' ' ')"
mkdir "$MNT/alpha/first" || fail "fstab mount: mkdir failed"
grep -q '<name>first</name>' "$MNT/alpha/first/xml" || fail "fstab mount: checkpoint xml wrong"
unmount_with_umount
pass "fstab line with cache_timeout=2: mount -T FSTAB MNT; umount MNT"

# An fstab line with ro and a fractional cache_timeout.
printf '%s %s fuse.checkpointfs ro,noauto,cache_timeout=0.5 0 0\n' \
    "test:///default" "$MNT" >"$FSTAB"
mount -T "$FSTAB" "$MNT" || fail "mount -T of a ro fstab line failed"
shows_domains test
mountinfo_field "$MNT" opts | tr ',' '\n' | grep -qx ro || fail "fstab ro line is not mounted ro"
[ "$(stat -c %a "$MNT/test")" = 555 ] || fail "fstab ro line: domain dir is $(stat -c %a "$MNT/test"), expected 555"
check_daemon test:///default
unmount_with_umount
pass "fstab line with ro,cache_timeout=0.5"

# The same options given straight to the binary, in the foreground.
cpfs_mount -o cache_timeout=2 test:///default
shows_domains test
cpfs_umount
pass "checkpointfs -o cache_timeout=2 URI MNT"
