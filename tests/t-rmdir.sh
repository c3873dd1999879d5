#!/bin/sh
# rmdir deletes a checkpoint: leaves, middles (children move up), roots,
# subtrees with find -depth, retention by age, and what it refuses
# (issue 2, "rmdir deletes a checkpoint").
. "$TESTS_SRC/lib.sh"

. "$TESTS_SRC/lib-checkpoints.sh"

cpfs_mount test:///default
D=$MNT/test
[ "$(cpx count "$D")" = 0 ] || fail "test:///default starts with checkpoints"

# build DIR NAME...: a chain of new checkpoints below DIR (each checked by mk).
build() {
    b_dir=$1; shift
    if [ "$b_dir" = "$D" ]; then b_parent=; else b_parent=$(basename "$b_dir"); fi
    for b_name; do
        mk "$b_dir/$b_name" "$b_parent"
        b_dir=$b_dir/$b_name
        b_parent=$b_name
    done
}
# expect_tree WHAT: the checkpoint directories below $D, relative and sorted.
expect_tree() {
    e_got=$(cpx tree "$D")
    [ "$e_got" = "$1" ] || bad "tree is '$e_got', expected '$1'"
}
# clear_domain: removes every checkpoint with the documented one-liner.
clear_domain() {
    find "$D" -mindepth 1 -depth -type d -exec rmdir {} + ||
        bad "find -depth -exec rmdir on the whole domain failed"
    [ "$(cpx count "$D")" = 0 ] || bad "checkpoints left after removing them all: $(cpx tree "$D")"
}

# --- rmdir of a leaf.
build "$D" a b c d
rmdir "$D/a/b/c/d" || bad "rmdir of the leaf failed"
[ "$(errno_of lstat "$D/a/b/c/d")" = ENOENT ] || bad "the deleted leaf is still there"
[ "$(ls "$D/a/b/c")" = xml ] || bad "the deleted leaf's parent lists '$(ls "$D/a/b/c" | tr '\n' ' ')'"
expect_tree "a a/b a/b/c"
check_tree "$D" chain
expect_errno ENOENT rmdir "$D/a/b/c/d"
section "rmdir of a leaf deletes it; again gives ENOENT"

# Deleting the leaf made its parent libvirt's current checkpoint.
mk "$D/a/b/c/d2" c
section "after deleting the leaf, mkdir in its parent works"

# --- rmdir of a middle checkpoint: its directory holds xml and a child.
[ "$(ls "$D/a/b")" = "c
xml" ] || bad "a/b does not hold c and xml"
rmdir "$D/a/b" || bad "rmdir of a middle checkpoint failed"
expect_tree "a a/c a/c/d2"
[ "$(cpx get "$D/a/c" parent)" = a ] || bad "c moved up but its xml names parent '$(cpx get "$D/a/c" parent)'"
[ "$(cpx get "$D/a/c/d2" parent)" = c ] || bad "d2's xml names parent '$(cpx get "$D/a/c/d2" parent)'"
[ "$(errno_of lstat "$D/a/b/c")" = ENOENT ] || bad "the old path a/b/c still resolves"
expect_errno ENOENT rmdir "$D/a/b"
expect_errno ENOENT rmdir "$D/a/b/c"
check_tree "$D" chain
section "rmdir of a middle checkpoint deletes it and its children move up"

# The leaf stayed libvirt's current checkpoint: mkdir goes there, not in the middle.
mk "$D/a/c/d2/e" d2
expect_errno EPERM mkdir "$D/a/c/f"
expect_tree "a a/c a/c/d2 a/c/d2/e"

# --- rmdir of a root with children: they become roots.
rmdir "$D/a" || bad "rmdir of a root with children failed"
expect_tree "c c/d2 c/d2/e"
[ "$(cpx get "$D/c" parent)" = "" ] || bad "c is a root but its xml names parent '$(cpx get "$D/c" parent)'"
check_tree "$D" chain
section "rmdir of a root makes its children roots"

# --- EPERM on a domain directory; the domain stays.
log_mark
expect_errno EPERM rmdir "$D"
log_new_has "test" || bad "rmdir of a domain directory logged nothing"
[ "$(ls "$MNT")" = test ] || bad "the mount root lists '$(ls "$MNT" | tr '\n' ' ')' after rmdir of the domain"
rmdir "$D" 2>/dev/null && bad "shell rmdir of a domain directory succeeded"
expect_tree "c c/d2 c/d2/e"
expect_errno ENOTDIR rmdir "$D/xml"
expect_errno ENOTDIR rmdir "$D/c/xml"
section "EPERM on a domain directory"

# --- the current-checkpoint rule after deletes: a->b->c, rmdir c, then b is
# where mkdir goes and a refuses.
clear_domain
build "$D" a b c
rmdir "$D/a/b/c" || bad "rmdir a/b/c failed"
mk "$D/a/b/n" b
before=$(cpx tree "$D")
expect_errno EPERM mkdir "$D/a/m"
[ "$(cpx tree "$D")" = "$before" ] || bad "refused mkdir a/m changed the tree"
# Deleting back to a makes a current again.
rmdir "$D/a/b/n" && rmdir "$D/a/b" || bad "rmdir back to a failed"
mk "$D/a/m" a
expect_tree "a a/m"
check_tree "$D" chain
section "after deletes, mkdir works in the new leaf and EPERM above it"

# --- a whole subtree with find -depth -exec rmdir {} +.
clear_domain
build "$D" x1 x2 x3 x4 x5
err=$(find "$D/x1/x2/x3" -depth -type d -exec rmdir {} + 2>&1) || bad "find -depth -exec rmdir failed: $err"
[ -z "$err" ] || bad "find -depth -exec rmdir said: $err"
expect_tree "x1 x1/x2"
mk "$D/x1/x2/y" x2
check_tree "$D" chain
section "find DIR -depth -type d -exec rmdir {} + removes the subtree and leaves the rest"

# --- rm -rf fails on xml (EPERM) and the checkpoint survives.
before=$(cpx tree "$D")
if err=$(rm -rf "$D/x1/x2/y" 2>&1); then bad "rm -rf of a leaf checkpoint succeeded"; fi
echo "$err" | grep -q 'Operation not permitted' || bad "rm -rf did not report EPERM: $err"
if err=$(rm -rf "$D/x1" 2>&1); then bad "rm -rf of a root checkpoint succeeded"; fi
echo "$err" | grep -q 'Operation not permitted' || bad "rm -rf did not report EPERM: $err"
expect_errno EPERM unlink "$D/x1/x2/y/xml"
expect_errno EPERM unlink "$D/xml"
[ "$(cpx tree "$D")" = "$before" ] || bad "rm -rf changed the tree to '$(cpx tree "$D")'"
cat "$D/x1/x2/y/xml" >/dev/null || bad "y/xml unreadable after rm -rf"
section "rm -rf fails with EPERM and the checkpoints survive"

# --- retention by age: directories carry the checkpoint's creation time.
clear_domain
build "$D" old1 old2
t_old=$(cpx get "$D/old1/old2" created)
wait_until 5 sh -c '[ "$(date +%s)" -gt "$1" ]' sh "$t_old" || fail "the clock does not move"
REF=$SCRATCH/ref
touch "$REF"
t_ref=$(date +%s)
wait_until 5 sh -c '[ "$(date +%s)" -gt "$1" ]' sh "$t_ref" || fail "the clock does not move"
build "$D/old1/old2" new1 new2
[ "$(stat -c %Y "$D/old1")" = "$(cpx get "$D/old1" created)" ] || bad "old1's mtime is not its creationTime"
[ "$(stat -c %Y "$D/old1/old2/new1/new2/xml")" = "$(cpx get "$D/old1/old2/new1/new2" created)" ] ||
    bad "new2/xml's mtime is not its creationTime"
[ "$(find "$D" -mindepth 1 -type d -mtime -1 | wc -l)" = 4 ] || bad "find -mtime -1 does not list the 4 checkpoints"
[ "$(find "$D" -mindepth 1 -type d -mtime +0 | wc -l)" = 0 ] || bad "find -mtime +0 lists new checkpoints"
[ "$(find "$D" -mindepth 1 -type d ! -newer "$REF" | wc -l)" = 2 ] || bad "find ! -newer does not list the 2 old checkpoints"
find "$D" -mindepth 1 -depth -type d -mtime +7 -exec rmdir {} + || bad "retention with nothing to drop failed"
expect_tree "old1 old1/old2 old1/old2/new1 old1/old2/new1/new2"
err=$(find "$D" -mindepth 1 -depth -type d ! -newer "$REF" -exec rmdir {} + 2>&1) || bad "retention failed: $err"
[ -z "$err" ] || bad "retention said: $err"
expect_tree "new1 new1/new2"
[ "$(cpx get "$D/new1" parent)" = "" ] || bad "new1 kept as the oldest but its xml names a parent"
check_tree "$D" chain
section "retention by age with find -depth ... -exec rmdir"

# --- all of it reached libvirt: once the cache has expired the listing is
# libvirt's own; and the leaf is still libvirt's current checkpoint.
when_cache_expired
expect_tree "new1 new1/new2"
mk "$D/new1/new2/last" new2
check_tree "$D" chain
section "libvirt agrees after the cache expired"

finish
