#!/bin/sh
# Scale (issue 10): a hosts file of 100 hosts, all test-driver connections to
# one private libvirtd (every connection to a node file holds its own state).
# All 100 get connected; the root lists them sorted, each with its uri and its
# domain; a checkpoint made through every host shows in that host alone;
# every xml reads; the root's call count is the sum of the hosts'; no host
# logs an error, and every host's threads stop at the unmount.  No timing
# is checked here: bench/run --fleet measures the cost per host.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
N=100
qemu_start_libvirtd

HOSTS=$SCRATCH/fleet.conf
NODE=$SCRATCH/node.xml
"$PYTHON" "$HELPERS/fleet_hosts.py" write "$HOSTS" "$NODE" "$LV_SOCK" $N
URI="test+unix://$NODE?socket=$LV_SOCK"

# The premise, with virsh alone: two connections to the node file through
# this libvirtd do not share checkpoints.
virsh -q -c "$URI" checkpoint-create-as vm probe >/dev/null ||
    fail "virsh cannot create a checkpoint on $URI"
seen=$(virsh -q -c "$URI" checkpoint-list --name vm) || fail "virsh checkpoint-list failed"
[ -z "$seen" ] || fail "libvirtd shares the test driver's state between connections: $seen"

cpfs_mount "$HOSTS"
"$PYTHON" "$HELPERS/fleet_hosts.py" wait "$MNT" $N 40 ||
    fail "not every host got connected within 40 s"
states=$(getfattr -n user.checkpointfs.state "$MNT"/h* 2>&1 |
    grep -c '^user.checkpointfs.state="connected"$' || true)
[ "$states" -eq $N ] || fail "getfattr shows $states of $N hosts connected"
pass "$N hosts connected"

want=$(seq -f 'h%03g' 1 $N)
got=$(find "$MNT" -mindepth 1 -maxdepth 1 -printf '%f\n')
[ "$got" = "$want" ] || fail "the root does not list h001..h$N in order: $(echo "$got" | head -5)"
uris=$(getfattr -n user.checkpointfs.uri "$MNT"/h* 2>&1 |
    grep -cxF "user.checkpointfs.uri=\"$URI\"" || true)
[ "$uris" -eq $N ] || fail "$uris of $N hosts carry user.checkpointfs.uri=$URI"
got=$(cd "$MNT" && find . -mindepth 2 -maxdepth 2 -type d | sort)
[ "$got" = "$(seq -f './h%03g/vm' 1 $N)" ] ||
    fail "not every host holds exactly its domain vm: $(echo "$got" | head -5)"
pass "the root lists h001..h$N sorted, each with its uri and its domain"

# A checkpoint through every host; each host shows its own alone.
for h in $want; do
    mkdir "$MNT/$h/vm/c-$h" || fail "mkdir $h/vm/c-$h failed"
done
got=$(cd "$MNT" && find . -mindepth 3 -maxdepth 3 -type d | sort)
[ "$got" = "$(for h in $want; do echo "./$h/vm/c-$h"; done)" ] ||
    fail "hosts do not hold exactly their own checkpoint: $(echo "$got" | head -5)"
pass "a checkpoint made in each of $N hosts shows in that host alone"

# Every xml reads, and each checkpoint's document names its directory.
find "$MNT" -name xml -type f -exec cat {} + >"$SCRATCH/all.xml" 2>"$SCRATCH/read.err" ||
    fail "reading every xml failed: $(head -3 "$SCRATCH/read.err")"
docs=$(grep -c '</domaincheckpoint>' "$SCRATCH/all.xml" || true)
[ "$docs" -eq $N ] || fail "$docs checkpoint documents read, want $N"
named=$(find "$MNT" -path '*/c-*/xml' -exec grep -H -o '<name>c-h[0-9]*</name>' {} + |
    sed -n 's|.*/\(c-h[0-9]*\)/xml:<name>\(.*\)</name>$|\1 \2|p')
[ "$(echo "$named" | wc -l)" -eq $N ] || fail "$(echo "$named" | wc -l) documents name a checkpoint c-hNNN"
wrong=$(echo "$named" | awk '$1 != $2')
[ -z "$wrong" ] || fail "a document names another checkpoint: $(echo "$wrong" | head -3)"
pass "every xml reads: $N checkpoint documents, each of its own directory"

# The root's libvirt call count is the sum of the hosts' (nothing runs now).
calls_agree() {
    sum=$(getfattr -n user.checkpointfs.libvirt_calls "$MNT"/h* 2>/dev/null |
        sed -n 's/^user.checkpointfs.libvirt_calls="\([0-9]*\)"$/\1/p' |
        awk '{ s += $1; n++ } END { if (n == '$N') print s }')
    root=$(getfattr --only-values -n user.checkpointfs.libvirt_calls "$MNT" 2>/dev/null)
    [ -n "$sum" ] && [ "$sum" = "$root" ]
}
wait_until 5 calls_agree || fail "root libvirt_calls $(getfattr --only-values \
    -n user.checkpointfs.libvirt_calls "$MNT") is not the sum over the $N hosts"
pass "the root's libvirt_calls is the sum of the $N hosts'"

# Every libvirtd was healthy all along: no host logged an error, and every
# host's threads stopped at the unmount.
errors=$(grep -c 'error:' "$LOG" || true)
[ "$errors" -eq 0 ] || fail "$errors error lines logged with every host healthy, such as: \
$(grep -m1 'error:' "$LOG")"
pass "no host logged an error"
cpfs_umount
stuck=$(grep -c 'did not stop' "$LOG" || true)
[ "$stuck" -eq 0 ] || fail "$stuck times a libvirt thread did not stop at the unmount: \
$(grep -m1 'did not stop' "$LOG")"
pass "unmounted cleanly, every host's threads stopped"
