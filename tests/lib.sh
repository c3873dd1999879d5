# Shared helpers for the checkpointfs shell tests.  Source it; it expects
# CHECKPOINTFS (the binary) and TESTS_SRC (this folder) from meson.
#
# Every test gets its own scratch folder and mount point, so tests may run in
# parallel.  Waits are loops with a deadline, never bare sleeps.  Logic
# longer than a line lives in Python modules in helpers/ (each says what it
# checks), run as "$PYTHON" "$TESTS_SRC/helpers/NAME.py" ARGS.

set -eu

: "${CHECKPOINTFS:?CHECKPOINTFS must name the checkpointfs binary}"
TESTS_SRC=${TESTS_SRC:-$(cd "$(dirname "$0")" && pwd)}
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cpfs-test.XXXXXX")
MNT=$SCRATCH/mnt
LOG=$SCRATCH/daemon.log
CPFS_PID=
# The system's python, not a per-user shim: fast, and usable as any user.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
HELPERS=$TESTS_SRC/helpers
# No __pycache__ in the source tree (and none written as root for others).
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
mkdir -p "$MNT"

skip() { echo "SKIP: $*"; exit 77; }
fail() {
    echo "FAIL: $*" >&2
    if [ -s "$LOG" ]; then
        echo "--- daemon log (last 30 lines) ---" >&2
        tail -n 30 "$LOG" >&2
    fi
    exit 1
}
pass() { echo "ok - $*"; }

[ -c /dev/fuse ] || skip "no /dev/fuse"
command -v fusermount3 >/dev/null || skip "no fusermount3"

cleanup() {
    status=$?
    # Unmount whatever state the mount is in (mountpoint(1) itself can fail
    # on a mount whose daemon is stuck), and never let rm reach into it.
    if grep -qF " $MNT fuse" /proc/self/mounts 2>/dev/null; then
        fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
    fi
    if [ -n "$CPFS_PID" ] && kill -0 "$CPFS_PID" 2>/dev/null; then
        kill "$CPFS_PID" 2>/dev/null || true
    fi
    rm -rf --one-file-system "$SCRATCH"
    exit $status
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_until SECONDS CMD...: runs CMD until it succeeds; fails the test when
# SECONDS pass first.
wait_until() {
    limit=$1; shift
    deadline=$(( $(date +%s%N) + limit * 1000000000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.02
    done
}

# cpfs_mount [checkpointfs options and URI...]: mounts on $MNT in the
# foreground mode in the background, logging to $LOG; returns once mounted.
cpfs_mount() {
    "$CHECKPOINTFS" -f "$@" "$MNT" >"$LOG" 2>&1 &
    CPFS_PID=$!
    deadline=$(( $(date +%s%N) + 20 * 1000000000 ))
    until mountpoint -q "$MNT"; do
        kill -0 "$CPFS_PID" 2>/dev/null || fail "checkpointfs exited before mounting"
        [ "$(date +%s%N)" -lt "$deadline" ] || fail "checkpointfs did not mount within 20s"
        sleep 0.02
    done
}

# cpfs_umount: unmounts $MNT and checks that the daemon exited 0 with no
# sanitizer report in its log.
cpfs_umount() {
    fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
    rc=0
    wait "$CPFS_PID" || rc=$?
    CPFS_PID=
    [ "$rc" -eq 0 ] || fail "checkpointfs exited with status $rc"
    check_log_clean
}

# check_log_clean: fails on any sanitizer report in the daemon log.
check_log_clean() {
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' "$LOG"; then
        fail "sanitizer report in the daemon log"
    fi
}

# errno_of OP PATH [ARG]: performs one syscall via python and prints the
# errno name it failed with, or OK.  See helpers/errno_of.py for the OPs.
errno_of() {
    "$PYTHON" "$HELPERS/errno_of.py" "$@"
}

# expect_errno NAME OP PATH [ARG]: the syscall must fail with errno NAME.
expect_errno() {
    want=$1; shift
    got=$(errno_of "$@")
    [ "$got" = "$want" ] || fail "$* gave $got, expected $want"
}

# judged ERRFILE CMD...: runs CMD with its output dropped and its stderr
# appended to ERRFILE, whose messages the caller judges afterwards (readers
# racing deletions may see ENOENT); a failure that printed no message is
# recorded there as a line of its own, so that it cannot pass unseen.
judged() {
    j_err=$1; shift
    j_rc=0
    "$@" >/dev/null 2>"$j_err.run" || j_rc=$?
    if [ -s "$j_err.run" ]; then
        cat "$j_err.run" >>"$j_err"
    elif [ "$j_rc" -ne 0 ]; then
        echo "'$*' exited $j_rc without a message" >>"$j_err"
    fi
}

# log_has REGEX: the daemon log holds a matching line (waits up to 5 s,
# since the log is written by another process).
log_has() {
    wait_until 5 grep -qE "$1" "$LOG" || fail "no log line matching /$1/"
}

# daemon_pids PATH: pids of checkpointfs processes with PATH among their arguments.
daemon_pids() {
    "$PYTHON" "$HELPERS/daemon_pids.py" "$1"
}

# cache_stat FIELD: one field of the root's user.checkpointfs.cache
# ("domains=N documents=N ..."), what the daemon holds.
cache_stat() {
    "$PYTHON" "$HELPERS/cache_stat.py" "$MNT" "$1"
}

# rss_kib PID: the resident set of PID in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# --- hosts files (one mount over several libvirt hosts) -----------------------

# entries DIR: "NAME TYPE" per entry in the order readdir(3) returns them,
# TYPE from d_type itself (d = DT_DIR, f = DT_REG, ? = DT_UNKNOWN, else the
# number): no stat() fallback that would hide a missing d_type.
entries() {
    "$PYTHON" "$HELPERS/readdir_entries.py" "$1"
}

# expect_entries DIR "NAME TYPE"...: readdir of DIR gives exactly these, in order.
expect_entries() {
    dir=$1
    shift
    want=$(printf '%s\n' "$@")
    got=$(entries "$dir") || fail "readdir $dir failed"
    [ "$got" = "$want" ] ||
        fail "readdir $dir gave [$(echo "$got" | tr '\n' ',')], expected [$(echo "$want" | tr '\n' ',')]"
}

# hosts_file FILE NAME URI [NAME URI]...: writes a hosts file with a group
# NAME holding uri=URI for each pair, in the order given.
hosts_file() {
    hf_file=$1; shift
    : >"$hf_file"
    while [ $# -ge 2 ]; do
        printf '[%s]\nuri=%s\n' "$1" "$2" >>"$hf_file"
        shift 2
    done
}

# cpfs_xattr PATH NAME: the value of user.checkpointfs.NAME on PATH as
# getfattr prints it; fails (printing nothing) when PATH has none.
cpfs_xattr() {
    getfattr --absolute-names -n "user.checkpointfs.$2" --only-values "$1" 2>/dev/null
}

# host_state_is DIR STATE: the host directory DIR's user.checkpointfs.state
# is STATE (connected, connecting, down).
host_state_is() {
    [ "$(cpfs_xattr "$1" state)" = "$2" ]
}

# elapsed_ms START: milliseconds since START (a date +%s%N).
elapsed_ms() {
    echo $(( ($(date +%s%N) - $1) / 1000000 ))
}
