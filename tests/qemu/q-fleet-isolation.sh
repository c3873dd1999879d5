#!/bin/bash
# Four hosts in one hosts file, each a real daemon of its own: the tier's
# private libvirtd with a QEMU domain, a second private libvirtd on another
# socket (test driver), the in-process test driver, and a third libvirtd
# reached over TCP on 127.0.0.1 (test driver).  Freezing one (SIGSTOP):
# requests below it fail with EIO within the 5 s budget, later ones at
# once, its directory stays listed and says down; meanwhile a find over the
# other three takes no longer than before and after it (median of 7,
# ratio <= 1.5).
# Thawed (SIGCONT), it comes back by itself, no SIGHUP.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
command -v getfattr >/dev/null || skip "getfattr is not installed (attr)"

port=$("$PYTHON" "$HELPERS/free_ports.py" 1) || fail "no free port on 127.0.0.1"
qemu_start_libvirtd
qemu_define vm1
lv_start_extra "$SCRATCH/lv2"
LV2_PID=$LVX_PID LV2_SOCK=$LVX_SOCK
lv_start_extra "$SCRATCH/lv3" "$port"
echo "libvirtds: qemu $LV_PID, second $LV2_PID, tcp $LVX_PID"

HF=$SCRATCH/fleet.conf
hosts_file "$HF" qemu "$LV_URI" second "test+unix:///default?socket=$LV2_SOCK" \
    lab test:///default tcp "test+tcp://127.0.0.1:$port/default"
# cache_timeout=0: every walk asks libvirt, so that it measures the hosts.
cpfs_mount -o cache_timeout=0 "$HF"
for h in qemu second lab tcp; do
    wait_until 20 host_state_is "$MNT/$h" connected ||
        fail "host $h is '$(cpfs_xattr "$MNT/$h" state)', not connected: $(cpfs_xattr "$MNT/$h" error)"
done
[ "$(ls "$MNT" | tr '\n' ' ')" = "lab qemu second tcp " ] || fail "the root lists [$(ls "$MNT" | tr '\n' ' ')]"
[ "$(ls "$MNT/qemu")" = vm1 ] || fail "qemu lists [$(ls "$MNT/qemu")]"
for h in second lab tcp; do
    [ "$(ls "$MNT/$h")" = test ] || fail "$h lists [$(ls "$MNT/$h")]"
done
pass "four hosts, four daemons: all connected"

# chain DIR N: a chain of N checkpoints c1/c2/... below the domain dir DIR.
chain() {
    ch_path=$1
    for ch_i in $(seq 1 "$2"); do
        ch_path=$ch_path/c$ch_i
        mkdir "$ch_path" || fail "mkdir $ch_path failed"
    done
}
chain "$MNT/qemu/vm1" 3
chain "$MNT/second/test" 3
chain "$MNT/lab/test" 8
chain "$MNT/tcp/test" 8
OTHERS="$MNT/qemu $MNT/lab $MNT/tcp"

# find_others: 7 finds over the other hosts (the machine is shared: one
# slow run must not decide); prints the median in ms.
find_others() {
    fo_out=$("$PYTHON" "$HELPERS/timed_runs.py" 7 find $OTHERS) || fail "find over the other hosts: $fo_out"
    echo "$fo_out" >&2
    printf '%s\n' "$fo_out" | sed -n 's/^median=\([0-9]*\) .*/\1/p'
    printf '%s\n' "$fo_out" | sed -n 's/.* runs=//p' >"$SCRATCH/find_runs"
}
before=$(find_others)
[ "$(find $OTHERS -type d | wc -l)" -eq $((3 + 1 + 3 + 1 + 8 + 1 + 8)) ] ||
    fail "find over the other hosts sees $(find $OTHERS -type d | wc -l) directories"

# --- freeze the second libvirtd (the exit trap thaws it on a failure) -------
kill -STOP "$LV2_PID"
# Four requests below the frozen host at once (a pool it could drain would
# show), and a stat of its directory (at once: its link count comes from the
# domain list read before, so a lookup in the root never waits for it),
# while the others are walked.
"$PYTHON" "$HELPERS/timed_ops.py" --deadline=30 \
    f1=ls:"$MNT/second/test" f2=ls:"$MNT/second/test/c1" \
    f3=stat:"$MNT/second/test/c1/c2" f4=cat:"$MNT/second/test/xml" >"$SCRATCH/frozen.out" &
frozen_ops=$!
"$PYTHON" "$HELPERS/timed_ops.py" --deadline=30 dir=stat:"$MNT/second" >"$SCRATCH/dir.out" &
dir_op=$!
during=$(find_others)
FIND_RUNS=$(cat "$SCRATCH/find_runs")
wait "$frozen_ops" || fail "timed_ops failed"
wait "$dir_op" || fail "timed_ops failed"
cat "$SCRATCH/frozen.out" "$SCRATCH/dir.out"
read -r _ dir_ms dir_result <"$SCRATCH/dir.out"
[ "$dir_result" = OK ] && [ "$dir_ms" -le 1000 ] ||
    fail "stat of the frozen host's directory gave $dir_result after $dir_ms ms (expected at once)"
# The request that lists fails with EIO within the budget; one that comes
# while that listing is under way may take the listing from before (the
# view's rule: stale while a listing is under way), within the budget too.
while read -r name ms result; do
    case $result in
        EIO|OK) [ "$ms" -le 5500 ] || fail "$name below the frozen host took $ms ms ($result; budget 5 s)" ;;
        *) fail "$name below the frozen host gave $result after $ms ms, expected EIO" ;;
    esac
done <"$SCRATCH/frozen.out"
[ "$(wc -l <"$SCRATCH/frozen.out")" -eq 4 ] || fail "timed_ops reported [$(cat "$SCRATCH/frozen.out")]"
grep -q ' EIO$' "$SCRATCH/frozen.out" || fail "no request below the frozen host failed: $(cat "$SCRATCH/frozen.out")"
slowest=$(sort -k2 -n "$SCRATCH/frozen.out" | tail -n1 | cut -d' ' -f2)
pass "frozen host: its directory stat'ed in $dir_ms ms; 4 parallel requests below it answered within $slowest ms ($(awk '{ printf "%s%s %s in %s ms", (NR > 1 ? ", " : ""), $1, $3, $2 }' "$SCRATCH/frozen.out"))"

# No single find over the others waited for the frozen host (the median
# alone would hide one that did).
slowest_find=$(printf '%s\n' "$FIND_RUNS" | tr ',' '\n' | sort -n | tail -n1)
[ "$slowest_find" -le $((3 * before + 1000)) ] ||
    fail "one find over the other hosts took $slowest_find ms during the freeze (runs $FIND_RUNS; median before $before ms)"
pass "no find over the others waited for the frozen host: the slowest took $slowest_find ms"

for p in "$MNT/second/test" "$MNT/second/test/c1" "$MNT/second/test/c1/c2"; do
    start=$(date +%s%N)
    got=$(errno_of stat "$p")
    took=$(elapsed_ms "$start")
    [ "$got" = EIO ] || fail "later, stat $p gave $got, expected EIO"
    [ "$took" -lt 1000 ] || fail "later, stat $p took $took ms, expected at once"
    echo "later: EIO for $p after $took ms"
done
wait_until 5 host_state_is "$MNT/second" down ||
    fail "the frozen host's state is '$(cpfs_xattr "$MNT/second" state)', expected down"
[ "$(ls "$MNT" | tr '\n' ' ')" = "lab qemu second tcp " ] ||
    fail "during the freeze the root lists [$(ls "$MNT" | tr '\n' ' ')]"
for h in qemu lab tcp; do
    host_state_is "$MNT/$h" connected || fail "host $h is not connected during the freeze"
done
pass "later requests below it: EIO at once; it stays listed, state down; the others connected"

# --- thaw -------------------------------------------------------------------
kill -CONT "$LV2_PID"
start=$(date +%s%N)
wait_until 15 host_state_is "$MNT/second" connected ||
    fail "15 s after SIGCONT the thawed host is '$(cpfs_xattr "$MNT/second" state)'"
wait_until 15 ls "$MNT/second/test" || fail "15 s after SIGCONT the thawed host's domain cannot be listed"
echo "the thawed host was connected and listed again after $(elapsed_ms "$start") ms"
ls "$MNT/second/test/xml" >/dev/null || fail "the thawed host's domain has no xml"
# Through libvirtd each connection has its own test driver: the chain is
# there if the daemon kept its connection, gone if it made a new one.
leaf=$(find "$MNT/second/test" -type d | awk '{ print length($0), $0 }' | sort -n | tail -n1 | cut -d' ' -f2-)
mkdir "$leaf/after" || fail "mkdir $leaf/after below the thawed host failed"
for h in qemu lab tcp; do
    host_state_is "$MNT/$h" connected || fail "host $h is not connected after the thaw"
done
pass "thawed, the host came back by itself: connected, listed, mkdir works"

# The others' walks during the freeze against those without it: before the
# freeze and after the thaw (the slower of the two, as other programs on
# this machine may load it more as the test goes on).
after=$(find_others)
base=$(( before > after ? before : after ))
ratio=$(awk -v a="$during" -v b="$base" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 99) }')
echo "find over the other hosts: median ${before} ms before the freeze, ${during} ms during it, ${after} ms after it: ratio $ratio"
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }' ||
    fail "find over the other hosts took ${during} ms during the freeze, ${before} ms before and ${after} ms after (ratio $ratio > 1.5)"
pass "the others' find: ${before} ms before, ${during} ms during the freeze, ${after} ms after (ratio $ratio)"
cpfs_umount
