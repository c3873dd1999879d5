#!/bin/sh
# SIGHUP re-reads the hosts file: an added host appears; a removed one
# disappears (ENOENT) and a file of it held open reads EIO; a host whose uri
# or readonly changed is replaced (a fresh connection: what the in-process
# test driver held is gone); an unchanged host keeps its connection (a
# checkpoint made in its test driver survives).  A malformed file on reload
# changes nothing and logs FILE:LINE; the next good one is read again.
. "$TESTS_SRC/lib.sh"

NODE_URI="test://$TESTS_SRC/data/node.xml"
NODE2_URI="test://$TESTS_SRC/data/node-fleet.xml"
HF=$SCRATCH/fleet.conf

# listing DIR: the names in DIR on one line.
listing() {
    ls "$1" | tr '\n' ' '
}
lists() {
    [ "$(listing "$1")" = "$2" ]
}

# reload: SIGHUP to the daemon.
reload() {
    kill -HUP "$CPFS_PID" || fail "cannot send SIGHUP to $CPFS_PID"
}

hosts_file "$HF" a "$NODE_URI" b test:///default
cpfs_mount "$HF"
lists "$MNT" "a b " || fail "the root lists [$(listing "$MNT")]"
mkdir "$MNT/a/alpha/keep" || fail "mkdir a/alpha/keep failed"
mkdir "$MNT/b/test/bkeep" || fail "mkdir b/test/bkeep failed"

# --- add ------------------------------------------------------------------------
hosts_file "$HF" a "$NODE_URI" b test:///default c "$NODE2_URI"
reload
wait_until 10 lists "$MNT" "a b c " || fail "after adding c the root lists [$(listing "$MNT")]"
lists "$MNT/c" "delta epsilon " || fail "the added host c lists [$(listing "$MNT/c")]"
[ -d "$MNT/a/alpha/keep" ] || fail "a's checkpoint keep is gone: a was reconnected though unchanged"
[ -d "$MNT/b/test/bkeep" ] || fail "b's checkpoint bkeep is gone: b was reconnected though unchanged"
kill -0 "$CPFS_PID" || fail "the daemon is gone after SIGHUP"
pass "SIGHUP with c added: c appears; a and b keep their connections"

# --- remove -----------------------------------------------------------------
hosts_file "$HF" a "$NODE_URI" c "$NODE2_URI"
held=$("$PYTHON" "$HELPERS/reload_held_file.py" "$MNT/b/test/xml" "$CPFS_PID" "$MNT/b" gone 10) ||
    fail "removing b: $held"
case $held in
    "read=EIO pread=EIO "*) ;;
    *) fail "b/test/xml held open across b's removal: $held, expected read=EIO pread=EIO" ;;
esac
expect_errno ENOENT stat "$MNT/b"
expect_errno ENOENT stat "$MNT/b/test"
lists "$MNT" "a c " || fail "after removing b the root lists [$(listing "$MNT")]"
[ -d "$MNT/a/alpha/keep" ] || fail "a's checkpoint keep is gone after b's removal"
pass "SIGHUP with b removed: b is ENOENT, its open xml reads EIO ($held); a untouched"

# --- change -----------------------------------------------------------------
# a/alpha/xml held open across a's replacement reads EIO then.
mkdir "$MNT/c/delta/ckeep" || fail "mkdir c/delta/ckeep failed"
hosts_file "$HF" a "$NODE2_URI" c "$NODE2_URI"
held=$("$PYTHON" "$HELPERS/reload_held_file.py" "$MNT/a/alpha/xml" "$CPFS_PID" "$MNT/a/delta" there 10) ||
    fail "changing a's uri: $held"
case $held in
    "read=EIO pread=EIO "*) ;;
    *) fail "a/alpha/xml held open across a's replacement: $held, expected read=EIO pread=EIO" ;;
esac
lists "$MNT/a" "delta epsilon " || fail "after a's uri changed to $NODE2_URI, a lists [$(listing "$MNT/a")]"
[ "$(cpfs_xattr "$MNT/a" uri)" = "$NODE2_URI" ] || fail "a's uri attribute is '$(cpfs_xattr "$MNT/a" uri)'"
# The daemon swaps the host before it tells the kernel: a lookup in between
# may see the old a/alpha, for cache_timeout (1 s) at most.
start=$(date +%s%N)
wait_until 3 sh -c "[ \"\$('$PYTHON' '$HELPERS/errno_of.py' stat '$MNT/a/alpha')\" = ENOENT ]" ||
    fail "a/alpha is still there 3 s after a's replacement"
lag=$(elapsed_ms "$start")
[ "$lag" -lt 100 ] || echo "note: the old a/alpha was still seen for $lag ms after the reload"
lists "$MNT/a/delta" "xml " || fail "a/delta lists [$(listing "$MNT/a/delta")]: not a connection of its own"
[ -d "$MNT/c/delta/ckeep" ] || fail "c's checkpoint ckeep is gone: c was reconnected though unchanged"
pass "SIGHUP with a's uri changed: a shows the new host's domains, its open xml reads EIO ($held); c untouched"

mkdir "$MNT/a/delta/akeep" || fail "mkdir a/delta/akeep failed"
printf '[a]\nuri=%s\n[c]\nuri=%s\nreadonly=true\n' "$NODE2_URI" "$NODE2_URI" >"$HF"
reload
wait_until 10 sh -c "[ ! -e '$MNT/c/delta/ckeep' ]" ||
    fail "c/delta/ckeep is still there after c turned readonly: c was not replaced"
expect_errno EROFS mkdir "$MNT/c/delta/c2"
[ -d "$MNT/a/delta/akeep" ] || fail "a's checkpoint akeep is gone: a was reconnected though unchanged"
mkdir "$MNT/a/delta/akeep/a2" || fail "mkdir on a, which is not readonly, failed"
pass "SIGHUP with c turned readonly: c replaced (EROFS for mkdir); a untouched"

# --- a malformed file -------------------------------------------------------
printf '[a]\nuri=%s\n[c]\nuri=%s\nthis is no key\n[d]\nuri=test:///default\n' \
    "$NODE_URI" "$NODE2_URI" >"$HF"
reload
wait_until 5 grep -qF "reload of $HF failed: $HF:5: " "$LOG" ||
    fail "no log line 'reload of $HF failed: $HF:5: ...'"
lists "$MNT" "a c " || fail "after a bad reload the root lists [$(listing "$MNT")]"
lists "$MNT/a" "delta epsilon " || fail "after a bad reload a lists [$(listing "$MNT/a")]"
[ -d "$MNT/a/delta/akeep" ] || fail "a's checkpoint akeep is gone after a bad reload"
expect_errno EROFS mkdir "$MNT/c/delta/c3"
kill -0 "$CPFS_PID" || fail "the daemon is gone after a bad reload"
pass "SIGHUP with a malformed file: nothing changes; logged: $(grep -F "reload of $HF failed" "$LOG" | tail -n1)"

# The next good file is read again.
printf '[a]\nuri=%s\n[c]\nuri=%s\nreadonly=true\n[d]\nuri=test:///default\n' \
    "$NODE2_URI" "$NODE2_URI" >"$HF"
reload
wait_until 10 lists "$MNT" "a c d " || fail "after a good reload the root lists [$(listing "$MNT")]"
[ -d "$MNT/a/delta/akeep" ] || fail "a's checkpoint akeep is gone"
lists "$MNT/d" "test " || fail "d lists [$(listing "$MNT/d")]"
pass "a good file after the bad one is read: d appears, a untouched"
cpfs_umount
