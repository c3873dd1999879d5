# Helpers shared by the checkpoint tests (t-mkdir, t-rmdir, t-node-domains,
# t-concurrency): source after lib.sh.

BAD=0
# bad MSG: records a failed check and goes on, so that one bug does not hide
# the next; finish turns any into a failure.
bad() { echo "FAIL: $*" >&2; BAD=$((BAD + 1)); }
# section MSG: reports the checks since the previous section.
BAD_SEEN=0
section() {
    if [ "$BAD" -gt "$BAD_SEEN" ]; then echo "not ok - $*"; else pass "$@"; fi
    BAD_SEEN=$BAD
}
finish() {
    cpfs_umount
    [ "$BAD" -eq 0 ] || fail "$BAD check(s) failed (see FAIL lines above)"
    pass "all checks"
}

# log_mark / log_new_has REGEX: a line matching REGEX appeared in the daemon
# log after the last log_mark (waits up to 5 s: another process writes it).
log_mark() { LOGMARK=$(wc -l <"$LOG"); }
log_new() { tail -n +"$((LOGMARK + 1))" "$LOG"; }
log_new_has() {
    wait_until 5 sh -c 'tail -n +"$1" "$2" | grep -qE -- "$3"' sh "$((LOGMARK + 1))" "$LOG" "$1"
}

# cpx CMD ARGS: checks of checkpoint directories through the mount (see
# helpers/checkpoints.py for the CMDs).
cpx() { "$PYTHON" "$HELPERS/checkpoints.py" "$@"; }

# mk PATH PARENT: mkdir must succeed, and the directory, its xml (naming
# PARENT as parent; empty for a root) and the listing entry be there at once.
mk() {
    out=$(cpx mk "$1" "$2") || fail "mkdir $1: $out"
}

# check_tree DOMDIR [chain]: the whole tree agrees with the xml files.
check_tree() {
    out=$(cpx "check${2:+-chain}" "$1") || bad "tree of $1: $out"
}

# when_cache_expired: returns once the daemon must have re-read libvirt
# (cache_timeout is 1 s by default), so listings then show libvirt's truth.
when_cache_expired() {
    t_exp=$(( $(date +%s%N) + 1200000000 ))
    wait_until 5 sh -c '[ "$(date +%s%N)" -gt "$1" ]' sh "$t_exp" || fail "the clock does not move"
}
