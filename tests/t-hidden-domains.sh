#!/bin/sh
# Domains named ".", ".." or over 247 bytes cannot be directories: they are
# not listed, and each is warned about once (issue 8, fault 8).
. "$TESTS_SRC/lib.sh"

URI="test://$TESTS_SRC/data/node-bad-names.xml"
command -v virsh >/dev/null || skip "no virsh to compare the domain list with"
[ "$(virsh -c "$URI" list --all --name | grep -c .)" = 4 ] ||
    fail "virsh does not see the 4 domains of node-bad-names.xml"
cpfs_mount -o cache_timeout=0.2 "$URI"

got=$(ls -a "$MNT" | tr '\n' ' ')
[ "$got" = ". .. ok " ] || fail "ls -a lists '$got', expected '. .. ok '"
[ "$(stat -c %h "$MNT")" = 3 ] || fail "the root's link count is $(stat -c %h "$MNT"), expected 3"
pass "only 'ok' is listed, once each of . and .."

# Listings after the cache expired fetch the list again; still one warning.
n=0
while [ "$n" -lt 5 ]; do
    ls "$MNT" >/dev/null || fail "ls failed"
    expire_at=$(( $(date +%s%N) + 300000000 ))
    wait_until 2 sh -c '[ "$(date +%s%N)" -gt "$1" ]' sh "$expire_at" || fail "clock stuck"
    n=$((n + 1))
done
ls "$MNT" >/dev/null || fail "ls failed"
for name in "'\\.'" "'\\.\\.'" "'LLLLLLLLLL"; do
    count=$(grep -cE "domain $name.* is not listed" "$LOG" || true)
    [ "$count" = 1 ] || fail "domain $name: $count warning lines, expected 1"
done
pass "each hidden domain is warned about once"
cpfs_umount
