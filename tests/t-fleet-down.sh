#!/bin/sh
# A host that cannot connect does not stop the mount: it is listed, its
# directory's attributes say down with libvirt's error, requests below it
# fail with EIO at once, and the other host works fully; the root counts
# the libvirt calls of all hosts.
. "$TESTS_SRC/lib.sh"
command -v getfattr >/dev/null || skip "getfattr is not installed (attr)"

HF=$SCRATCH/fleet.conf
BAD_URI="qemu+unix:///system?socket=$SCRATCH/nonexistent/libvirt-sock"
hosts_file "$HF" bad "$BAD_URI" good test:///default

cpfs_mount "$HF"
[ "$(ls "$MNT" | tr '\n' ' ')" = "bad good " ] || fail "the root lists [$(ls "$MNT" | tr '\n' ' ')]"
stat "$MNT/bad" >/dev/null || fail "stat of the bad host's directory failed"
pass "the mount came up with the unreachable host listed"

wait_until 10 host_state_is "$MNT/bad" down ||
    fail "the bad host's state is '$(cpfs_xattr "$MNT/bad" state)' after 10 s, expected down"
dump=$(getfattr --absolute-names -d -m '^user\.checkpointfs\.' "$MNT/bad") ||
    fail "getfattr -d on the bad host failed"
printf '%s\n' "$dump" | grep -qxF 'user.checkpointfs.state="down"' ||
    fail "getfattr -d does not show state=down: $dump"
printf '%s\n' "$dump" | grep -qxF "user.checkpointfs.uri=\"$BAD_URI\"" ||
    fail "getfattr -d does not show the configured uri: $dump"
err=$(cpfs_xattr "$MNT/bad" error) || fail "the bad host has no user.checkpointfs.error: $dump"
case $err in
    *"$SCRATCH/nonexistent/libvirt-sock"*) ;;
    *) fail "the bad host's error '$err' does not name the socket" ;;
esac
printf '%s\n' "$dump" | grep -q '^user\.checkpointfs\.error=' || fail "getfattr -d does not show the error: $dump"
log_has "nonexistent/libvirt-sock"
pass "the bad host: state=down, uri as configured, error '$err', logged"

for p in "$MNT/bad" "$MNT/bad/somedomain" "$MNT/bad/somedomain/xml"; do
    start=$(date +%s%N)
    case $p in
        "$MNT/bad") got=$(errno_of opendir "$p") ;;
        *) got=$(errno_of stat "$p") ;;
    esac
    took=$(elapsed_ms "$start")
    [ "$got" = EIO ] || fail "below the down host, $p gave $got, expected EIO"
    [ "$took" -lt 1000 ] || fail "EIO for $p took $took ms, expected at once (< 1000)"
    echo "EIO for $p after $took ms"
done
expect_errno EIO mkdir "$MNT/bad/somedomain/c1"
[ "$(ls "$MNT" | tr '\n' ' ')" = "bad good " ] || fail "the root lists [$(ls "$MNT" | tr '\n' ' ')]"
pass "below the down host: EIO at once; it stays listed"

wait_until 10 host_state_is "$MNT/good" connected ||
    fail "the good host's state is '$(cpfs_xattr "$MNT/good" state)', expected connected"
[ "$(ls "$MNT/good")" = test ] || fail "the good host lists [$(ls "$MNT/good")]"
mkdir "$MNT/good/test/c1" || fail "mkdir good/test/c1 failed"
grep -q '<name>c1</name>' "$MNT/good/test/c1/xml" || fail "good/test/c1/xml is not c1's"
rmdir "$MNT/good/test/c1" || fail "rmdir good/test/c1 failed"
[ "$(ls -A "$MNT/good/test")" = xml ] || fail "good/test lists [$(ls -A "$MNT/good/test")]"
calls=$(cpfs_xattr "$MNT/good" libvirt_calls) || fail "the good host has no libvirt_calls"
[ "$calls" -gt 0 ] || fail "the good host counts $calls libvirt calls"
[ "$(cpfs_xattr "$MNT/good" uri)" = test:///default ] || fail "the good host's uri is wrong"
pass "the good host works: listing, mkdir, xml, rmdir; state=connected, $calls libvirt calls"

got=$("$PYTHON" "$HELPERS/fleet_calls.py" "$MNT" 5) || fail "$got"
pass "the root's libvirt_calls is the sum of the hosts': $got"
cpfs_umount
