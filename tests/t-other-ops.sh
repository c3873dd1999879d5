#!/bin/sh
# Everything but mkdir/rmdir/read: rename, unlink, create, mknod, symlink,
# link: EPERM; writing opens and truncate: EACCES; chmod, chown, utimens:
# EPERM; setxattr: ENOTSUP; getxattr: ENODATA; rmdir of xml: ENOTDIR;
# `rm -rf` fails on xml and keeps the checkpoints; nothing ever ENOSYS.
. "$TESTS_SRC/lib.sh"

cpfs_mount test:///default
D=$MNT/test
mkdir "$D/a" "$D/a/b" || fail "mkdir of the chain a -> b failed"
X=$D/a/xml
# snapshot FILE: every path of the mount with its type, and a checksum of
# the three documents, in FILE (a failed find or cat fails the test rather
# than leaving out what it could not read, in both snapshots alike).
snapshot() {
    find "$MNT" -printf '%y %p\n' >"$1.paths" || fail "find of the mount failed"
    cat "$D/xml" "$D/a/xml" "$D/a/b/xml" >"$1.docs" || fail "cannot read the xml files"
    { sort "$1.paths"; cksum <"$1.docs"; } >"$1"
}
snapshot "$SCRATCH/before"

# --- rename: EPERM (never EXDEV), files and directories, in place or not ---------
expect_errno EPERM rename "$D/a/b" "$D/a/b2"
expect_errno EPERM rename "$D/a/b" "$D/b"
expect_errno EPERM rename "$D/a/b" "$MNT/b"
expect_errno EPERM rename "$D" "$MNT/test2"
expect_errno EPERM rename "$D/a/xml" "$D/a/xml2"
expect_errno EPERM rename "$D/a/b/xml" "$D/a/xml3"
expect_errno EPERM rename "$D/xml" "$D/a/xml"
expect_errno EPERM rename "$D/a/b/xml" "$D/a/xml"
# renameat2 flags go to the daemon as RENAME2.
"$PYTHON" "$HELPERS/renameat2.py" "$D/a/b" "$D/a/xml" "$D/a/b/xml" || fail "renameat2"
if mv "$D/a/b" "$D/a/moved" 2>"$SCRATCH/err"; then
    fail "mv of a checkpoint dir succeeded"
fi
grep -q 'Operation not permitted' "$SCRATCH/err" || fail "mv: $(cat "$SCRATCH/err")"
pass "rename of checkpoint dirs, domain dirs and xml: EPERM (renameat2 too, mv fails)"

# --- unlink, create, mknod, symlink, link: EPERM ----------------------------------
expect_errno EPERM unlink "$D/xml"
expect_errno EPERM unlink "$D/a/xml"
expect_errno EPERM unlink "$D/a/b/xml"
for dir in "$MNT" "$D" "$D/a" "$D/a/b"; do
    expect_errno EPERM creat "$dir/newfile"
    expect_errno EPERM mknod "$dir/fifo"
    expect_errno EPERM symlink "$dir/link" "xml"
done
expect_errno EPERM link "$D/a/xml" "$D/a/xml-link"
expect_errno EPERM link "$D/a/b/xml" "$D/a/hard"
expect_errno EPERM link "$D/xml" "$D/hard"
if touch "$D/a/newfile" 2>/dev/null; then fail "touch created a file"; fi
if (echo x >"$D/a/newfile") 2>/dev/null; then fail "a shell redirection created a file"; fi
if rm -f "$D/a/xml" 2>/dev/null; then fail "rm -f xml succeeded"; fi
pass "unlink xml, create, mknod, symlink, link: EPERM"

# --- writing opens and truncate: EACCES -----------------------------------------
for x in "$D/xml" "$D/a/xml" "$D/a/b/xml"; do
    expect_errno EACCES open_w "$x"
    expect_errno EACCES open_rw "$x"
    expect_errno EACCES open_trunc "$x"
    expect_errno EACCES truncate "$x"
done
if (echo x >>"$X") 2>/dev/null; then fail "appending to xml succeeded"; fi
if truncate -s 0 "$X" 2>/dev/null; then fail "truncate(1) of xml succeeded"; fi
pass "open O_WRONLY/O_RDWR/O_TRUNC and truncate: EACCES"

# --- metadata: EPERM; xattrs ------------------------------------------------------
for p in "$MNT" "$D" "$D/xml" "$D/a" "$D/a/xml" "$D/a/b" "$D/a/b/xml"; do
    expect_errno EPERM chmod "$p"
    expect_errno EPERM chown "$p"
    expect_errno EPERM utime "$p"
    expect_errno ENOTSUP setxattr "$p"
    expect_errno ENODATA getxattr "$p"
    [ "$(errno_of listxattr "$p")" = OK ] || fail "listxattr $p: $(errno_of listxattr "$p")"
done
if touch -c "$X" 2>/dev/null; then fail "touch -c (utimensat now) of xml succeeded"; fi
if chmod 644 "$X" 2>/dev/null; then fail "chmod(1) of xml succeeded"; fi
pass "chmod, chown, utime: EPERM; setxattr: ENOTSUP; getxattr: ENODATA"

# --- rmdir of xml: ENOTDIR ---------------------------------------------------------
expect_errno ENOTDIR rmdir "$D/xml"
expect_errno ENOTDIR rmdir "$D/a/xml"
expect_errno ENOTDIR rmdir "$D/a/b/xml"
pass "rmdir of xml: ENOTDIR"

# Nothing above changed anything.
snapshot "$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" ||
    fail "the tree changed: $(diff "$SCRATCH/before" "$SCRATCH/after")"
pass "the tree is unchanged"

# --- rm -rf fails on xml and leaves every checkpoint ------------------------------
rc=0
rm -rf "$D/a" 2>"$SCRATCH/rm.err" || rc=$?
[ "$rc" -ne 0 ] || fail "rm -rf of a checkpoint dir succeeded"
grep -q "xml'*: Operation not permitted" "$SCRATCH/rm.err" ||
    fail "rm -rf did not fail on xml: $(cat "$SCRATCH/rm.err")"
[ -d "$D/a" ] && [ -d "$D/a/b" ] && [ -f "$D/a/xml" ] && [ -f "$D/a/b/xml" ] ||
    fail "rm -rf removed checkpoints: $(find "$D")"
snapshot "$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" || fail "rm -rf changed the tree"
pass "rm -rf on a checkpoint dir fails on xml and leaves the checkpoints"

# --- never ENOSYS (nor EXDEV inside the mount) ------------------------------------
# Every op of errno_of.py on every kind of node (in one process: a process
# per call is slow), then the calls errno_of.py lacks.
"$PYTHON" "$HELPERS/never_enosys.py" paths "$MNT" "$D" || fail "a call returned ENOSYS or EXDEV"
"$PYTHON" "$HELPERS/never_enosys.py" fd-calls "$D/a" "$SCRATCH" || fail "a call returned ENOSYS or EXDEV"
# And the ones the spec names, once more through these calls.
"$PYTHON" "$HELPERS/fd_refusals.py" "$D/a" || fail "utimensat/fchmod/fchown/mknod/ftruncate errno"
snapshot "$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" || fail "the ENOSYS sweep changed the tree"
pass "no call returns ENOSYS or EXDEV"

cpfs_umount
