#!/bin/sh
# Command line: -h, -V, every way of giving the URI, startup errors (one line
# on stderr, exit 1, nothing mounted, before daemonizing), signals,
# fusermount3 -u, background mode, -s, -d, and what mount(8) shows.
. "$TESTS_SRC/lib.sh"

NODE_URI="test://$TESTS_SRC/data/node.xml"
OUT=$SCRATCH/out
ERR=$SCRATCH/err
DEFERRED=$SCRATCH/deferred-failures

# defer_fail MSG: reports a failure but lets the remaining checks run; the
# test fails at the end.
defer_fail() {
    echo "FAIL: $*" >&2
    printf '%s\n' "$*" | tr '\n' ' ' >>"$DEFERRED"
    echo >>"$DEFERRED"
}

# mounted PATH: PATH is a mount point in /proc/self/mountinfo.
mounted() {
    awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# mount_source PATH: the source field of the mount on PATH.
mount_source() {
    awk -v p="$1" '$5 == p { for (i = 6; i <= NF; i++) if ($i == "-") { print $(i + 2); exit } }' \
        /proc/self/mountinfo
}


no_daemon_left() {
    [ -z "$(daemon_pids "$1")" ]
}

# one_line_error WHAT REGEX: $ERR holds exactly one newline-terminated line
# matching REGEX.
one_line_error() {
    lines=$(wc -l <"$ERR")
    records=$(awk 'END { print NR }' "$ERR")
    if [ "$lines" -ne 1 ] || [ "$records" -ne 1 ]; then
        defer_fail "$1: expected exactly one line on stderr, got: $(cat "$ERR")"
        return 0
    fi
    grep -qE "$2" "$ERR" || fail "$1: stderr does not name the cause (/$2/): $(cat "$ERR")"
}

# startup_fails WHAT REGEX MOUNTPOINT ARGS...: checkpointfs ARGS (no -f) exits
# 1 at once with one line on stderr, leaves nothing mounted on MOUNTPOINT and
# no daemon behind.
startup_fails() {
    what=$1 regex=$2 mp=$3
    shift 3
    rc=0
    "$CHECKPOINTFS" "$@" >"$OUT" 2>"$ERR" </dev/null || rc=$?
    [ "$rc" -eq 1 ] || fail "$what: exit status $rc, expected 1 (stderr: $(cat "$ERR"))"
    one_line_error "$what" "$regex"
    ! mounted "$mp" || fail "$what: something is left mounted on $mp"
    no_daemon_left "$mp" || fail "$what: a daemon was left running"
    pass "$what: exit 1, nothing mounted, no daemon left"
}

# shows_domains NAME...: the mount root lists exactly these domains.
shows_domains() {
    want=$(printf '%s\n' "$@" | sort)
    got=$(ls -A "$MNT" | sort)
    [ "$got" = "$want" ] || fail "mount root lists '$(echo $got)', expected '$(echo $want)'"
}

# --- -h ---------------------------------------------------------------------
rc=0
"$CHECKPOINTFS" -h >"$OUT" 2>"$ERR" || rc=$?
[ "$rc" -eq 0 ] || fail "-h exited with $rc"
ours=$(grep -n 'usage: .*checkpointfs.*\[URI|HOSTSFILE\] MOUNTPOINT' "$OUT" | head -n1 | cut -d: -f1)
[ -n "$ours" ] || fail "-h does not print our usage line: $(cat "$OUT")"
for opt in '--connect=URI' 'uri=URI' 'cache_timeout=' '-o ro'; do
    grep -qF -- "$opt" "$OUT" || fail "-h does not document $opt"
done
# libfuse's own help (fuse_cmdline_help / fuse_lowlevel_help) follows ours.
fuses=$(grep -nE -- '-o max_idle_threads|-o clone_fd' "$OUT" | head -n1 | cut -d: -f1)
[ -n "$fuses" ] || fail "-h does not print libfuse's options: $(cat "$OUT")"
[ "$ours" -lt "$fuses" ] || fail "-h prints libfuse's options before our usage"
grep -qE -- '-o allow_other' "$OUT" || fail "-h does not list -o allow_other"
! mounted "$MNT" || fail "-h mounted something"
pass "-h prints our usage, then libfuse's options, exit 0"
rc=0
"$CHECKPOINTFS" --help >"$SCRATCH/out2" 2>/dev/null || rc=$?
[ "$rc" -eq 0 ] && cmp -s "$OUT" "$SCRATCH/out2" || fail "--help differs from -h (exit $rc)"
pass "--help is -h"

# --- -V ---------------------------------------------------------------------
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$TESTS_SRC/../meson.build" | head -n1)
[ -n "$version" ] || fail "cannot read the project version from meson.build"
fuse_version=$(fusermount3 -V 2>&1 | sed -n 's/.*version:* *\([0-9][0-9.]*\).*/\1/p')
[ -n "$fuse_version" ] || fail "cannot read the FUSE version from fusermount3 -V: $(fusermount3 -V 2>&1)"
for flag in -V --version; do
    rc=0
    "$CHECKPOINTFS" $flag >"$OUT" 2>"$ERR" || rc=$?
    [ "$rc" -eq 0 ] || fail "$flag exited with $rc"
    grep -qE "^checkpointfs.* version:? *$version\$" "$OUT" ||
        fail "$flag does not print checkpointfs's version $version: $(cat "$OUT")"
    grep -qiE "FUSE library version:? *[0-9]+\.[0-9]+" "$OUT" ||
        fail "$flag does not print the FUSE library version: $(cat "$OUT")"
    grep -iE "FUSE library version" "$OUT" | grep -qF "$fuse_version" ||
        fail "$flag: FUSE library version is not $fuse_version: $(cat "$OUT")"
done
pass "-V/--version print checkpointfs $version and the FUSE library version, exit 0"
# The Debian package's version is the same (a native package: no revision).
deb_version=$(sed -n '1s/^checkpointfs (\([^)]*\)).*/\1/p' "$TESTS_SRC/../debian/changelog")
[ "$deb_version" = "$version" ] ||
    fail "debian/changelog's version is '$deb_version', meson.build's is '$version'"
pass "meson.build, -V and debian/changelog agree on $version"

# --- every way of giving the URI -----------------------------------------
# mount_with DESC URI DOMAINS -- ARGS...: mounts with ARGS, checks the listed
# domains and the mount source, unmounts.
mount_with() {
    desc=$1 uri=$2 domains=$3
    shift 4
    cpfs_mount "$@"
    # shellcheck disable=SC2086
    shows_domains $domains
    src=$(mount_source "$MNT")
    [ "$src" = "$uri" ] || fail "$desc: mount source is '$src', expected '$uri'"
    cpfs_umount
    pass "$desc: mounts $uri"
}

for pair in "test:///default|test" "$NODE_URI|alpha beta gamma-off"; do
    uri=${pair%%|*} doms=${pair#*|}
    mount_with "positional URI" "$uri" "$doms" -- "$uri"
    mount_with "-c URI" "$uri" "$doms" -- -c "$uri"
    mount_with "--connect=URI" "$uri" "$doms" -- "--connect=$uri"
    mount_with "-o uri=URI" "$uri" "$doms" -- -o "uri=$uri"
    LIBVIRT_DEFAULT_URI=$uri
    export LIBVIRT_DEFAULT_URI
    mount_with "LIBVIRT_DEFAULT_URI" "$uri" "$doms" --
    unset LIBVIRT_DEFAULT_URI
done
# An explicit URI wins over LIBVIRT_DEFAULT_URI.
LIBVIRT_DEFAULT_URI=$NODE_URI
export LIBVIRT_DEFAULT_URI
mount_with "-c URI with LIBVIRT_DEFAULT_URI set" "test:///default" "test" -- -c test:///default
unset LIBVIRT_DEFAULT_URI

# --- startup errors ---------------------------------------------------------
startup_fails "unknown driver URI" 'nosuchdriver' "$MNT" nosuchdriver:///x "$MNT"
startup_fails "test URI of a missing file" 'nonexistent/file\.xml' "$MNT" \
    test:///nonexistent/file.xml "$MNT"
startup_fails "-c with a bad URI" 'nosuchdriver' "$MNT" -c nosuchdriver:///x "$MNT"
LIBVIRT_DEFAULT_URI=nosuchdriver:///x
export LIBVIRT_DEFAULT_URI
startup_fails "bad LIBVIRT_DEFAULT_URI, no URI given" '[Cc]onnect' "$MNT" "$MNT"
unset LIBVIRT_DEFAULT_URI
startup_fails "unreachable libvirt daemon" "$SCRATCH/nosock" "$MNT" \
    "qemu+unix:///system?socket=$SCRATCH/nosock" "$MNT"
startup_fails "missing mount point directory" \
    "$SCRATCH/nowhere.*([Nn]o such file|not exist)" "$SCRATCH/nowhere" \
    test:///default "$SCRATCH/nowhere"
: >"$SCRATCH/regular"
startup_fails "mount point is a regular file" \
    "$SCRATCH/regular.*[Nn]ot a directory" "$SCRATCH/regular" \
    test:///default "$SCRATCH/regular"
[ -f "$SCRATCH/regular" ] || fail "the regular file mount point was removed"
startup_fails "no arguments at all" 'mount ?point|MOUNTPOINT|usage' "$MNT"
startup_fails "-c URI but no mount point" 'mount ?point|MOUNTPOINT|usage' "$MNT" -c test:///default

# A URI given twice, in any two ways, is an error, not "the last one wins";
# both URIs work on their own, so only the conflict can fail the mount.
twice='URI given twice.*test:///default.*'$NODE_URI
startup_fails "-o uri=A -c B" "$twice" "$MNT" -o uri=test:///default -c "$NODE_URI" "$MNT"
startup_fails "-c A --connect=B" "$twice" "$MNT" -c test:///default "--connect=$NODE_URI" "$MNT"
startup_fails "--connect=A -o uri=B" "$twice" "$MNT" --connect=test:///default -o "uri=$NODE_URI" "$MNT"
startup_fails "-o uri=A,uri=B" "$twice" "$MNT" -o "uri=test:///default,uri=$NODE_URI" "$MNT"
startup_fails "-c A and a positional B" "$twice" "$MNT" -c test:///default "$NODE_URI" "$MNT"

# cache_timeout is plain decimal seconds from 0 to 86400: no trailing junk,
# no hex, no infinity, nothing negative or empty.
for bad in 1junk 0x10 inf nan 86401 -1 '' 1e3 ' 2'; do
    startup_fails "cache_timeout='$bad'" "cache_timeout '$bad'" "$MNT" \
        -o "cache_timeout=$bad" test:///default "$MNT"
done
for good in 0 0.5 86400; do
    cpfs_mount -o "cache_timeout=$good" test:///default
    shows_domains test
    cpfs_umount
done
pass "cache_timeout 0, 0.5 and 86400 mount"

# --- signals ----------------------------------------------------------------
# A background job of a non-interactive shell starts with SIGINT ignored, and
# libfuse leaves ignored signals alone: reset them as a terminal would.
mount_default_signals() {
    env --default-signal=INT,TERM "$CHECKPOINTFS" -f "$@" "$MNT" >"$LOG" 2>&1 &
    CPFS_PID=$!
    wait_until 20 mountpoint -q "$MNT" || fail "checkpointfs did not mount"
}
for sig in TERM INT; do
    mount_default_signals test:///default
    ls "$MNT/test/xml" >/dev/null || fail "mount does not work before SIG$sig"
    kill -s "$sig" "$CPFS_PID"
    rc=0
    wait "$CPFS_PID" || rc=$?
    CPFS_PID=
    [ "$rc" -eq 0 ] || fail "SIG$sig: checkpointfs exited with status $rc"
    ! mounted "$MNT" || fail "SIG$sig: $MNT is still mounted"
    check_log_clean
    pass "SIG$sig unmounts cleanly, exit 0"
done

# A signal while files and directories are open: the kernel never sends
# their RELEASE, so the daemon must free those handles itself (the ASan run
# reports them as leaks otherwise, and the exit status turns non-zero).
mount_default_signals test:///default
exec 3<"$MNT/test/xml" 4<"$MNT/test"
head -c 10 <&3 >/dev/null || fail "cannot read test/xml"
kill -s TERM "$CPFS_PID"
rc=0
wait "$CPFS_PID" || rc=$?
CPFS_PID=
exec 3<&- 4<&-
[ "$rc" -eq 0 ] || fail "SIGTERM with open files: checkpointfs exited with status $rc"
! mounted "$MNT" || fail "SIGTERM with open files: $MNT is still mounted"
check_log_clean
pass "SIGTERM with a file and a directory open: exit 0, their handles freed"

# --- fusermount3 -u (cpfs_umount checks the exit status) ----------------------
cpfs_mount test:///default
cpfs_umount
! mounted "$MNT" || fail "fusermount3 -u left $MNT mounted"
pass "fusermount3 -u unmounts, exit 0"

# --- without -f: the daemon goes to the background --------------------------
# Its stderr is /dev/null then: send sanitizer reports to files.
san_log=$SCRATCH/bg-san
rc=0
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san_log" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san_log" \
    "$CHECKPOINTFS" test:///default "$MNT" >"$OUT" 2>"$ERR" </dev/null || rc=$?
[ "$rc" -eq 0 ] || fail "background mount exited with $rc: $(cat "$ERR")"
wait_until 10 mountpoint -q "$MNT" || fail "background mount is not mounted"
pids=$(daemon_pids "$MNT")
[ "$(echo "$pids" | wc -w)" -eq 1 ] || fail "expected one background daemon, found '$pids'"
sid=$(sed 's/^.*) //' "/proc/$pids/stat" | cut -d' ' -f4)
[ "$sid" = "$pids" ] || fail "background daemon did not start its own session (sid $sid)"
[ "$(ls "$MNT")" = "test" ] || fail "background mount does not list domain test"
grep -q '<domain' "$MNT/test/xml" || fail "background mount does not serve the domain xml"
mkdir "$MNT/test/bg" || fail "mkdir on the background mount failed"
[ -f "$MNT/test/bg/xml" ] || fail "background mount: new checkpoint has no xml"
fusermount3 -u "$MNT" || fail "fusermount3 -u of the background mount failed"
wait_until 10 no_daemon_left "$MNT" || fail "background daemon still running after unmount"
if ls "$san_log".* >/dev/null 2>&1; then
    cat "$san_log".* >&2
    fail "sanitizer report from the background daemon"
fi
pass "without -f: daemonizes, mount works, exits on unmount"

# --- -s ---------------------------------------------------------------------
cpfs_mount -s test:///default
[ "$(ls "$MNT")" = "test" ] || fail "-s: root does not list test"
mkdir "$MNT/test/single" || fail "-s: mkdir failed"
grep -q '<name>single</name>' "$MNT/test/single/xml" ||
    fail "-s: checkpoint xml wrong"
rmdir "$MNT/test/single" || fail "-s: rmdir failed"
[ ! -e "$MNT/test/single" ] || fail "-s: rmdir left the directory"
cpfs_umount
pass "-s single-threaded mount works"

# --- -d (implies -f) and -o debug -------------------------------------------
# libfuse's trace of one request; "no debug output" below looks for the same.
REQUEST_LINE='unique: [0-9]+, opcode: [A-Z]'
for dbg in "-d" "-o debug"; do
    # shellcheck disable=SC2086
    "$CHECKPOINTFS" $dbg test:///default "$MNT" >"$LOG" 2>&1 &
    CPFS_PID=$!
    wait_until 20 mountpoint -q "$MNT" || fail "$dbg: did not mount"
    kill -0 "$CPFS_PID" 2>/dev/null || fail "$dbg: the process went to the background (-d implies -f)"
    ls -l "$MNT/test" >/dev/null
    log_has 'opcode: (LOOKUP|GETATTR|READDIR|READDIRPLUS|OPENDIR)'
    log_has "$REQUEST_LINE"
    cpfs_umount
    pass "$dbg prints FUSE debug output and stays in the foreground"
done
# The debug log shows each request: closing an xml costs no FLUSH (files
# are opened with noflush), and a checkpoint's xml read a second time is
# served from the page cache (no READ).
cpfs_mount -d test:///default
mkdir "$MNT/test/flushless" || fail "mkdir failed"
cat "$MNT/test/flushless/xml" "$MNT/test/xml" >/dev/null || fail "cat failed"
wait_until 5 grep -q 'opcode: RELEASE (' "$LOG" || fail "no RELEASE in the debug log"
reads=$(grep -c 'opcode: READ (' "$LOG" || true)
# Both first reads reached the daemon (else counting READs proves nothing).
[ "$reads" -ge 2 ] || fail "$reads READ requests in the debug log for two first reads, expected 2"
cat "$MNT/test/flushless/xml" >/dev/null || fail "cat failed"
opens=$(grep -c 'opcode: OPEN (' "$LOG" || true)
[ "$opens" -ge 3 ] || fail "$opens OPEN requests in the debug log, expected 3"
! grep -q 'opcode: FLUSH (' "$LOG" || fail "close(2) of an xml sent FLUSH"
[ "$(grep -c 'opcode: READ (' "$LOG" || true)" -eq "$reads" ] ||
    fail "the second read of a checkpoint's xml reached the daemon"
cpfs_umount
pass "closing an xml sends no FLUSH; a second read of a checkpoint's xml sends no READ"

cpfs_mount test:///default
ls -l "$MNT/test" >/dev/null
cpfs_umount
! grep -qE "$REQUEST_LINE" "$LOG" || fail "debug output without -d"
pass "no debug output without -d"

# --- what mount(8) shows ---------------------------------------------------------
cpfs_mount test:///default
mount | grep -qF "test:///default on $MNT type fuse.checkpointfs (" ||
    fail "mount does not show 'test:///default on $MNT type fuse.checkpointfs': $(mount | grep -F "$MNT")"
[ "$(findmnt -n -o FSTYPE "$MNT")" = "fuse.checkpointfs" ] || fail "findmnt FSTYPE is not fuse.checkpointfs"
[ "$(findmnt -n -o SOURCE "$MNT")" = "test:///default" ] || fail "findmnt SOURCE is not the URI"
cpfs_umount
pass "mount shows type fuse.checkpointfs and the URI as source"

if [ -s "$DEFERRED" ]; then
    fail "$(wc -l <"$DEFERRED") check(s) failed earlier: $(cat "$DEFERRED")"
fi
