#!/bin/sh
# Names over 247 bytes (statfs's f_namemax) give ENAMETOOLONG in lookup too,
# not ENOENT, wherever they are looked up (issue 8, fault 8).
. "$TESTS_SRC/lib.sh"

cpfs_mount test:///default
mkdir "$MNT/test/c1" || fail "mkdir c1 failed"
[ "$(stat -f -c %l "$MNT")" = 247 ] || fail "statfs gives f_namemax $(stat -f -c %l "$MNT"), expected 247"
for dir in "$MNT" "$MNT/test" "$MNT/test/c1"; do
    for len in 248 255 256 1024; do
        name=$(printf "%${len}s" "" | tr ' ' n)
        expect_errno ENAMETOOLONG lstat "$dir/$name"
        expect_errno ENAMETOOLONG rmdir "$dir/$name"
        expect_errno ENAMETOOLONG unlink "$dir/$name"
    done
    name=$(printf "%247s" "" | tr ' ' n)
    expect_errno ENOENT lstat "$dir/$name"
done
pass "lookup of 248..1024-byte names gives ENAMETOOLONG; 247 bytes ENOENT"
log_has "bytes\) refused: name longer than 247 bytes"
pass "the refusal is logged"
cpfs_umount
