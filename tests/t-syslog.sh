#!/bin/sh
# Logging without -f or -d: every message goes to syslog(3) with the tag
# checkpointfs[PID] and facility daemon, which is what `journalctl -t
# checkpointfs` matches on a system with journald; with -f nothing goes
# there.  The test runs in a private mount namespace whose /dev is a copy
# with a logger of its own (tests/syslog_sink.py) on /dev/log, so the
# machine's logger, if any, sees nothing.
if [ -z "${CPFS_SYSLOG_IN_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a private /dev"; exit 77; }
    command -v unshare >/dev/null 2>&1 || { echo "FAIL: unshare(1) is missing" >&2; exit 1; }
    CPFS_SYSLOG_IN_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
. "$TESTS_SRC/lib.sh"

# A /dev of our own: a tmpfs with the real device nodes bound into it.
mkdir "$SCRATCH/realdev"
mount --bind /dev "$SCRATCH/realdev" || fail "cannot bind /dev"
mount -t tmpfs -o mode=755 cpfs-test-dev /dev || fail "cannot mount a tmpfs on /dev"
for n in null zero full random urandom tty fuse; do
    [ -e "$SCRATCH/realdev/$n" ] || continue
    : >"/dev/$n"
    mount --bind "$SCRATCH/realdev/$n" "/dev/$n" || fail "cannot bind /dev/$n"
done
ln -s /proc/self/fd /dev/fd
umount -l "$SCRATCH/realdev"

SINK_LOG=$SCRATCH/syslog
: >"$SINK_LOG"
"$PYTHON" "$HELPERS/syslog_sink.py" /dev/log "$SINK_LOG" &
SINK_PID=$!
trap 'st=$?; kill $SINK_PID 2>/dev/null; (exit $st); cleanup' EXIT
wait_until 10 test -S /dev/log || fail "the stand-in logger did not start"

# In the foreground (-f) nothing goes to syslog.
cpfs_mount test:///default
expect_errno EPERM mkdir "$MNT/refused"
cpfs_umount
log_has 'info: .*mkdir'
[ ! -s "$SINK_LOG" ] || fail "with -f, lines went to syslog: $(cat "$SINK_LOG")"
pass "with -f the daemon logs to stderr only"

# In the background: syslog, tag checkpointfs[PID], facility daemon (3).
san_log=$SCRATCH/bg-san
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san_log" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san_log" \
    "$CHECKPOINTFS" test:///default "$MNT" </dev/null >/dev/null 2>&1 || fail "background mount failed"
wait_until 10 mountpoint -q "$MNT" || fail "the background mount is not there"
pid=$(daemon_pids "$MNT")
[ "$(echo "$pid" | wc -w)" -eq 1 ] || fail "expected one daemon, found '$pid'"
expect_errno EPERM mkdir "$MNT/refused"
fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
wait_until 10 sh -c "! kill -0 $pid" || fail "the daemon did not exit"
if ls "$san_log".* >/dev/null 2>&1; then
    cat "$san_log".* >&2
    fail "sanitizer report from the background daemon"
fi
wait_until 5 grep -q 'unmounting' "$SINK_LOG" || fail "no unmounting line in syslog: $(cat "$SINK_LOG")"
grep -q "^<30>.* checkpointfs\[$pid\]: .*mkdir" "$SINK_LOG" ||
    fail "the refused mkdir is not in syslog as info from checkpointfs[$pid]: $(cat "$SINK_LOG")"
grep -q "^<30>.* checkpointfs\[$pid\]: unmounting $MNT" "$SINK_LOG" ||
    fail "the unmount is not in syslog as info from checkpointfs[$pid]: $(cat "$SINK_LOG")"
bad=$(grep -v "^<[0-9]*>.* checkpointfs\[$pid\]: " "$SINK_LOG" || true)
[ -z "$bad" ] || fail "syslog lines without the tag checkpointfs[$pid]: $bad"
# Facility daemon: priority / 8 == 3 on every line.
"$PYTHON" -c '
import re, sys
for line in open(sys.argv[1]):
    pri = int(re.match(r"<(\d+)>", line).group(1))
    if pri // 8 != 3:
        sys.exit("facility %d, not daemon: %s" % (pri // 8, line))
' "$SINK_LOG" || fail "a syslog line is not of facility daemon"
pass "in the background every line goes to syslog as checkpointfs[$pid], facility daemon"
