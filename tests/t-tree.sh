#!/bin/sh
# The tree: readdir order and d_type, modes, owner, nlink, times (checkpoint
# creationTime, the domain's newest checkpoint, the mount time), ls -lt and
# find -mtime/-newer, ENOENT, and every domain of a node XML (shut off too).
. "$TESTS_SRC/lib.sh"

NODE_URI="test://$TESTS_SRC/data/node.xml"

# expect_stat PATH FORMAT VALUE: stat -c FORMAT PATH prints VALUE.
expect_stat() {
    got=$(stat -c "$2" "$1") || fail "stat $1 failed"
    [ "$got" = "$3" ] || fail "stat -c '$2' $1 is '$got', expected '$3'"
}

# expect_times PATH T: atime, mtime and ctime of PATH are all T.
expect_times() {
    expect_stat "$1" '%X %Y %Z' "$2 $2 $2"
}

# creation_time XMLFILE: the <creationTime> of a checkpoint document.
creation_time() {
    t=$(sed -n 's:.*<creationTime>\([0-9]*\)</creationTime>.*:\1:p' "$1" | head -n1)
    [ -n "$t" ] || fail "no <creationTime> in $1"
    echo "$t"
}

# next_second: waits until the clock has moved to a new second, so that the
# next checkpoint gets a later creationTime than the previous one.
next_second() {
    now=$(date +%s)
    wait_until 5 sh -c "[ \$(date +%s) -gt $now ]" || fail "the clock does not move"
}

DEFERRED=$SCRATCH/deferred-failures

# defer_fail MSG: reports a failure but lets the remaining checks run; the
# test fails at the end.
defer_fail() {
    echo "FAIL: $*" >&2
    echo "$*" | tr '\n' ' ' >>"$DEFERRED"
    echo >>"$DEFERRED"
}

# change_and_look OP PATH: with the domain dir $MNT/test open and its
# attributes freshly fetched (stat --cached=never), performs OP (mkdir or
# rmdir) on PATH and prints the domain dir's "atime mtime ctime" from fstat
# on the open descriptor right after: no path walk, so nothing but the
# daemon can refresh what the kernel holds.
change_and_look() {
    "$PYTHON" "$HELPERS/change_and_look.py" "$1" "$2" "$MNT/test"
}

# check_domain_time WHAT SEEN T: SEEN ("atime mtime ctime" of $MNT/test
# taken right after the change WHAT) must be T three times; whatever SEEN
# was, the domain dir must settle on T.
check_domain_time() {
    [ "$2" = "$3 $3 $3" ] ||
        defer_fail "$1: right after it the domain dir shows times '$2', expected $3: the change does not show at once"
    wait_until 3 sh -c "[ \"\$(stat -c '%X %Y %Z' '$MNT/test')\" = '$3 $3 $3' ]" ||
        fail "$1: domain dir times are $(stat -c '%X %Y %Z' "$MNT/test"), expected $3"
}

# --- test:///default ----------------------------------------------------------
t0=$(date +%s)
cpfs_mount test:///default
t1=$(date +%s)
uid=$(id -u)
gid=$(id -g)

expect_entries "$MNT" ". d" ".. d" "test d"
expect_entries "$MNT/test" ". d" ".. d" "xml f"
expect_stat "$MNT" '%F %a %h %u %g' "directory 755 3 $uid $gid"
expect_stat "$MNT/test" '%F %a %h %u %g' "directory 755 2 $uid $gid"
expect_stat "$MNT/test/xml" '%F %a %h %u %g' "regular file 444 1 $uid $gid"
# No checkpoint yet: the domain directory carries the mount time.
mt=$(stat -c %Y "$MNT/test")
[ "$mt" -ge "$t0" ] && [ "$mt" -le "$t1" ] ||
    fail "domain dir without checkpoints has mtime $mt, not the mount time ($t0..$t1)"
expect_times "$MNT/test" "$mt"
pass "root and a domain without checkpoints: entries, d_type, modes, nlink, mount time"

for p in "$MNT/nosuch" "$MNT/test/nosuch" "$MNT/test/nosuch/xml" "$MNT/nosuch/xml"; do
    expect_errno ENOENT stat "$p"
    expect_errno ENOENT lstat "$p"
done
pass "stat of a missing name: ENOENT"

# A chain m -> c -> x, created a second apart, in an order that is neither
# alphabetical nor its reverse.  After each change the domain directory is
# stat'ed at once: a change made through the mount must show at once, even
# though the kernel holds the domain's attributes (see change_and_look).
next_second
seen=$(change_and_look mkdir "$MNT/test/m") || fail "mkdir m failed"
ct_m=$(creation_time "$MNT/test/m/xml")
check_domain_time "mkdir m" "$seen" "$ct_m"
next_second
seen=$(change_and_look mkdir "$MNT/test/m/c") || fail "mkdir m/c failed"
ct_c=$(creation_time "$MNT/test/m/c/xml")
check_domain_time "mkdir m/c" "$seen" "$ct_c"
next_second
seen=$(change_and_look mkdir "$MNT/test/m/c/x") || fail "mkdir m/c/x failed"
ct_x=$(creation_time "$MNT/test/m/c/x/xml")
check_domain_time "mkdir m/c/x" "$seen" "$ct_x"
[ "$ct_m" -lt "$ct_c" ] && [ "$ct_c" -lt "$ct_x" ] ||
    fail "creation times not increasing: m=$ct_m c=$ct_c x=$ct_x"
[ "$ct_m" -gt "$t1" ] || fail "checkpoint m created at $ct_m, not after the mount ($t1)"
pass "domain dir carries the newest checkpoint's creation time"

expect_entries "$MNT/test" ". d" ".. d" "xml f" "m d"
expect_entries "$MNT/test/m" ". d" ".. d" "xml f" "c d"
expect_entries "$MNT/test/m/c" ". d" ".. d" "xml f" "x d"
expect_entries "$MNT/test/m/c/x" ". d" ".. d" "xml f"
pass "readdir: . .. xml and the child checkpoint, with d_type"

expect_stat "$MNT" '%h' 3
expect_stat "$MNT/test" '%h' 3
expect_stat "$MNT/test/m" '%h' 3
expect_stat "$MNT/test/m/c" '%h' 3
expect_stat "$MNT/test/m/c/x" '%h' 2
for cp in m m/c m/c/x; do
    expect_stat "$MNT/test/$cp" '%F %a %u %g' "directory 755 $uid $gid"
    expect_stat "$MNT/test/$cp/xml" '%F %a %h %u %g' "regular file 444 1 $uid $gid"
done
pass "nlink = 2 + subdirectories; modes 0755/0444; owner $uid:$gid"

expect_times "$MNT/test/m" "$ct_m"
expect_times "$MNT/test/m/xml" "$ct_m"
expect_times "$MNT/test/m/c" "$ct_c"
expect_times "$MNT/test/m/c/xml" "$ct_c"
expect_times "$MNT/test/m/c/x" "$ct_x"
expect_times "$MNT/test/m/c/x/xml" "$ct_x"
pass "checkpoint dirs and xml carry creationTime as atime, mtime, ctime"

order=$(ls -1td "$MNT/test/m" "$MNT/test/m/c/x" "$MNT/test/m/c" | tr '\n' ' ')
[ "$order" = "$MNT/test/m/c/x $MNT/test/m/c $MNT/test/m " ] || fail "ls -td order: $order"
order=$(ls -1trd "$MNT/test/m/c/x/xml" "$MNT/test/m/xml" "$MNT/test/m/c/xml" | tr '\n' ' ')
[ "$order" = "$MNT/test/m/xml $MNT/test/m/c/xml $MNT/test/m/c/x/xml " ] || fail "ls -trd order: $order"
ls -lt "$MNT/test/m" >/dev/null || fail "ls -lt failed"
pass "ls -t orders checkpoints by creation time"

# find: everything is from today, nothing older; -newer separates them.
old=$(find "$MNT" -mindepth 1 -mtime +0) || fail "find -mtime +0 failed"
[ -z "$old" ] || fail "find -mtime +0 found: $old"
[ "$(find "$MNT/test" -mindepth 1 -type d -mtime 0 | sort | tr '\n' ' ')" = \
  "$MNT/test/m $MNT/test/m/c $MNT/test/m/c/x " ] || fail "find -type d -mtime 0 did not find the checkpoints"
[ "$(find "$MNT/test" -mindepth 1 -type d -mmin -60 | wc -l)" -eq 3 ] || fail "find -mmin -60"
touch -d "@$ct_m" "$SCRATCH/ref"
[ "$(find "$MNT/test" -mindepth 1 -type d -newer "$SCRATCH/ref" | sort | tr '\n' ' ')" = \
  "$MNT/test/m/c $MNT/test/m/c/x " ] || fail "find -type d -newer (creation of m) is wrong: $(find "$MNT/test" -type d -newer "$SCRATCH/ref")"
[ "$(find "$MNT/test" -mindepth 2 -name xml ! -newer "$SCRATCH/ref")" = "$MNT/test/m/xml" ] ||
    fail "find ! -newer (creation of m) is wrong"
pass "find -mtime/-mmin/-newer work on checkpoint age"

# rmdir the middle one: x moves up under m.
stat "$MNT/test/m" "$MNT/test/m/c/x" >/dev/null
seen=$(change_and_look rmdir "$MNT/test/m/c") || fail "rmdir m/c failed"
check_domain_time "rmdir m/c" "$seen" "$ct_x"
expect_entries "$MNT/test/m" ". d" ".. d" "xml f" "x d"
expect_stat "$MNT/test/m" '%h' 3
expect_stat "$MNT/test/m/x" '%h' 2
expect_times "$MNT/test/m/x" "$ct_x"
expect_errno ENOENT stat "$MNT/test/m/c"
expect_errno ENOENT stat "$MNT/test/m/c/x"
pass "after rmdir of the middle checkpoint its child is listed under its parent"

# rmdir the newest: the domain dir now carries the older one's time.
seen=$(change_and_look rmdir "$MNT/test/m/x") || fail "rmdir m/x failed"
check_domain_time "rmdir m/x" "$seen" "$ct_m"
expect_entries "$MNT/test/m" ". d" ".. d" "xml f"
expect_stat "$MNT/test/m" '%h' 2
pass "domain dir time follows the newest remaining checkpoint"

seen=$(change_and_look rmdir "$MNT/test/m") || fail "rmdir m failed"
check_domain_time "rmdir m" "$seen" "$mt"
expect_entries "$MNT/test" ". d" ".. d" "xml f"
expect_stat "$MNT/test" '%h' 2
pass "domain dir without checkpoints is back to the mount time"
cpfs_umount

# --- the node XML: all domains, the shut-off one too ------------------------
t0=$(date +%s)
cpfs_mount "$NODE_URI"
t1=$(date +%s)
expect_entries "$MNT" ". d" ".. d" "alpha d" "beta d" "gamma-off d"
expect_stat "$MNT" '%h' 5
for d in alpha beta gamma-off; do
    expect_entries "$MNT/$d" ". d" ".. d" "xml f"
    expect_stat "$MNT/$d" '%F %a %h' "directory 755 2"
    grep -q "<name>$d</name>" "$MNT/$d/xml" || fail "$d/xml is not $d's description"
done
grep -q "<domain type=['\"]test['\"]" "$MNT/gamma-off/xml" || fail "gamma-off/xml is not a domain"
pass "node XML: alpha, beta and the shut-off gamma-off are all listed"

next_second
mkdir "$MNT/alpha/a1" || fail "mkdir alpha/a1 failed"
next_second
mkdir "$MNT/beta/b1" || fail "mkdir beta/b1 failed"
expect_times "$MNT/alpha" "$(creation_time "$MNT/alpha/a1/xml")"
expect_times "$MNT/beta" "$(creation_time "$MNT/beta/b1/xml")"
mt=$(stat -c %Y "$MNT/gamma-off")
[ "$mt" -ge "$t0" ] && [ "$mt" -le "$t1" ] || fail "gamma-off mtime $mt is not the mount time"
[ "$(ls -t "$MNT" | tr '\n' ' ')" = "beta alpha gamma-off " ] ||
    fail "ls -t of the root: $(ls -t "$MNT" | tr '\n' ' '), expected beta alpha gamma-off"
[ "$(ls -lt "$MNT" | awk 'NR > 1 { print $NF }' | tr '\n' ' ')" = "beta alpha gamma-off " ] ||
    fail "ls -lt of the root is not ordered by newest checkpoint"
expect_stat "$MNT/alpha" '%h' 3
expect_stat "$MNT/beta" '%h' 3
expect_stat "$MNT/gamma-off" '%h' 2
expect_stat "$MNT" '%h' 5
pass "node XML: domain times and ls -lt of the root"
cpfs_umount

# --- domains listed sorted by name, whatever order libvirt gives --------------
NODE2=$SCRATCH/unsorted.xml
{
    echo '<node xmlns:test="http://libvirt.org/schemas/domain/test/1.0">'
    i=0
    for name in mike alpha zulu delta x-ray bravo kilo echo charlie; do
        i=$((i + 1))
        echo "<domain type='test'><name>$name</name>"
        echo "<uuid>00000000-0000-0000-0000-00000000000$i</uuid>"
        echo "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        [ "$name" = delta ] && echo "<test:runstate>5</test:runstate>"
        echo "</domain>"
    done
    echo '</node>'
} >"$NODE2"
cpfs_mount "test://$NODE2"
expect_entries "$MNT" ". d" ".. d" "alpha d" "bravo d" "charlie d" "delta d" "echo d" \
    "kilo d" "mike d" "x-ray d" "zulu d"
expect_stat "$MNT" '%h' 11
cpfs_umount
pass "the root lists nine domains sorted by name"

# --- owned by the mounting user ------------------------------------------------
# /dev/fuse is root's: run the daemon as uid/gid 65534 keeping the two
# capabilities a mount needs.  allow_other lets root (and the cleanup) in.
if setpriv --help 2>&1 | grep -q ambient-caps; then
    chmod 0711 "$SCRATCH"
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    setpriv --reuid=65534 --regid=65534 --clear-groups \
        --inh-caps=+sys_admin,+dac_override --ambient-caps=+sys_admin,+dac_override \
        "$CHECKPOINTFS" -f -o allow_other test:///default "$MNT" >"$LOG" 2>&1 &
    CPFS_PID=$!
    wait_until 20 mountpoint -q "$MNT" || fail "mount as uid 65534 failed"
    as_nobody mkdir "$MNT/test/owned" || fail "mkdir as the mounting user failed"
    for p in "$MNT" "$MNT/test" "$MNT/test/xml" "$MNT/test/owned" "$MNT/test/owned/xml"; do
        got=$(stat -c '%u:%g' "$p") || fail "stat $p failed"
        [ "$got" = "65534:65534" ] || fail "$p is owned by $got, expected the mounter 65534:65534"
    done
    cpfs_umount
    pass "everything is owned by the mounting user (65534:65534)"
else
    echo "note: setpriv has no --ambient-caps; owner checked for root only"
fi

if [ -s "$DEFERRED" ]; then
    fail "$(wc -l <"$DEFERRED") check(s) failed earlier: $(cat "$DEFERRED")"
fi
