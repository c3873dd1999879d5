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
snapshot() {
    find "$MNT" -printf '%y %p\n' | sort
    cat "$D/xml" "$D/a/xml" "$D/a/b/xml" | cksum
}
snapshot >"$SCRATCH/before"

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
python3 - "$D/a/b" "$D/a/xml" "$D/a/b/xml" <<'EOF' || fail "renameat2"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
cases = [(sys.argv[1], sys.argv[1] + "-new", 1), (sys.argv[2], sys.argv[3], 2),
         (sys.argv[1], sys.argv[1] + "-new", 0)]
for old, new, flags in cases:
    rc = libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags)
    e = ctypes.get_errno()
    if rc == 0 or e != errno.EPERM:
        sys.exit("renameat2(%s, %s, flags %d) gave %s, expected EPERM"
                 % (old, new, flags, "OK" if rc == 0 else errno.errorcode.get(e, e)))
EOF
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
snapshot >"$SCRATCH/after"
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
snapshot >"$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" || fail "rm -rf changed the tree"
pass "rm -rf on a checkpoint dir fails on xml and leaves the checkpoints"

# --- never ENOSYS (nor EXDEV inside the mount) ------------------------------------
# Every op of sys.py on every kind of node (in one process: sys.py per call
# is slow), then the calls sys.py lacks.
python3 - "$MNT" "$D" "$SCRATCH" <<'EOF' || fail "a call returned ENOSYS or EXDEV"
import errno, os, sys
mnt, d, scratch = sys.argv[1:4]
paths = [mnt, d, d + "/xml", d + "/a", d + "/a/xml", d + "/a/b", d + "/a/b/xml", d + "/a/nosuch"]
other = d + "/a/other"
def opener(flags, mode=0o644):
    return lambda p: os.close(os.open(p, flags, mode))
ops = {
    "mkdir": lambda p: os.mkdir(p, 0o755),
    "rmdir": os.rmdir,
    "unlink": os.unlink,
    "open_r": opener(os.O_RDONLY),
    "open_w": opener(os.O_WRONLY),
    "open_rw": opener(os.O_RDWR),
    "open_trunc": opener(os.O_RDONLY | os.O_TRUNC),
    "open_append": opener(os.O_WRONLY | os.O_APPEND),
    "creat": opener(os.O_WRONLY | os.O_CREAT | os.O_EXCL),
    "creat_existing": opener(os.O_WRONLY | os.O_CREAT),
    "truncate": lambda p: os.truncate(p, 0),
    "chmod": lambda p: os.chmod(p, 0o700),
    "chown": lambda p: os.chown(p, 1, 1),
    "utime": lambda p: os.utime(p, (0, 0)),
    "utime_now": lambda p: os.utime(p),
    "mknod": lambda p: os.mknod(p, 0o600 | 0o010000),
    "setxattr": lambda p: os.setxattr(p, "user.test", b"x"),
    "getxattr": lambda p: os.getxattr(p, "user.test"),
    "removexattr": lambda p: os.removexattr(p, "user.test"),
    "listxattr": os.listxattr,
    "stat": os.stat,
    "lstat": os.lstat,
    "statvfs": os.statvfs,
    "access": lambda p: os.access(p, os.R_OK | os.W_OK | os.X_OK),
    "opendir": os.listdir,
    "readall": lambda p: open(p, "rb").read(),
    "readlink": os.readlink,
    "rename": lambda p: os.rename(p, other),
    "link": lambda p: os.link(p, other),
    "symlink": lambda p: os.symlink("xml", p),
}
# Calls that would really change the tree, and moving the mount root (which
# lives in the parent filesystem) into the mount: the kernel says EXDEV.
skip = {("mkdir", d + "/a/nosuch"), ("rmdir", d + "/a"), ("rmdir", d + "/a/b"),
        ("rename", mnt), ("link", mnt)}
bad = []
for p in paths:
    for name, fn in ops.items():
        if (name, p) in skip:
            continue
        try:
            fn(p)
        except OSError as e:
            if e.errno in (errno.ENOSYS, errno.EXDEV):
                bad.append("%s %s: %s" % (name, p, errno.errorcode[e.errno]))
if bad:
    sys.exit("; ".join(bad))
EOF
python3 - "$D/a" "$SCRATCH" <<'EOF' || fail "a call returned ENOSYS or EXDEV"
import ctypes, errno, fcntl, mmap, os, select, struct, sys, termios
d, scratch = sys.argv[1:3]
x = os.path.join(d, "xml")
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(x, os.O_RDONLY)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
out = os.open(os.path.join(scratch, "copy"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
r, w = os.pipe()
def syncfs():
    if libc.syncfs(fd) != 0:
        raise OSError(ctypes.get_errno(), "syncfs")
def pollit():
    p = select.poll()
    p.register(fd, select.POLLIN)
    p.poll(0)
calls = {
    "ioctl TCGETS": lambda: fcntl.ioctl(fd, termios.TCGETS, bytes(64)),
    "ioctl FS_IOC_GETFLAGS xml": lambda: fcntl.ioctl(fd, 0x80086601, bytes(8)),
    "ioctl FS_IOC_GETFLAGS dir": lambda: fcntl.ioctl(dfd, 0x80086601, bytes(8)),
    "ioctl FIONREAD": lambda: fcntl.ioctl(fd, termios.FIONREAD, bytes(4)),
    "lseek SEEK_DATA": lambda: os.lseek(fd, 0, os.SEEK_DATA),
    "lseek SEEK_HOLE": lambda: os.lseek(fd, 0, os.SEEK_HOLE),
    "lseek SEEK_END": lambda: os.lseek(fd, 0, os.SEEK_END),
    "posix_fallocate": lambda: os.posix_fallocate(fd, 0, 10),
    "posix_fadvise": lambda: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED),
    "fsync": lambda: os.fsync(fd),
    "fdatasync": lambda: os.fdatasync(fd),
    "fsync dir": lambda: os.fsync(dfd),
    "syncfs": syncfs,
    "flock": lambda: (fcntl.flock(fd, fcntl.LOCK_SH), fcntl.flock(fd, fcntl.LOCK_UN)),
    "F_SETLK": lambda: fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)),
    "F_GETLK": lambda: fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)),
    "select": lambda: select.select([fd], [], [], 0),
    "poll": pollit,
    "statvfs": lambda: os.statvfs(x),
    "fstatvfs dir": lambda: os.fstatvfs(dfd),
    "access W_OK xml": lambda: os.access(x, os.W_OK),
    "access W_OK dir": lambda: os.access(d, os.W_OK),
    "sendfile": lambda: os.sendfile(out, fd, 0, 100),
    "splice": lambda: os.splice(fd, w, 100),
    "readlink": lambda: os.readlink(x),
    "O_TMPFILE": lambda: os.close(os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600)),
    "mmap": lambda: mmap.mmap(fd, 0, prot=mmap.PROT_READ).close(),
    "utime now": lambda: os.utime(x),
    "fchmod": lambda: os.fchmod(fd, 0o644),
    "fchown": lambda: os.fchown(fd, 0, 0),
    "ftruncate": lambda: os.ftruncate(fd, 0),
    "write": lambda: os.write(fd, b"x"),
    "mkfifo": lambda: os.mkfifo(os.path.join(d, "fifo")),
    "mknod regular": lambda: os.mknod(os.path.join(d, "reg"), 0o600 | 0o100000),
    "mkdir xml": lambda: os.mkdir(x),
    "getxattr security": lambda: os.getxattr(x, "security.selinux"),
    "getxattr acl": lambda: os.getxattr(d, "system.posix_acl_access"),
    "setxattr trusted": lambda: os.setxattr(x, "trusted.x", b"1"),
    "removexattr dir": lambda: os.removexattr(d, "user.x"),
    "getdents": lambda: os.listdir(dfd),
}
# copy_file_range between two filesystems is refused by the kernel with
# EXDEV before the daemon is asked: not checked.
bad = []
for name, fn in calls.items():
    try:
        fn()
    except OSError as e:
        if e.errno in (errno.ENOSYS, errno.EXDEV):
            bad.append("%s: %s" % (name, errno.errorcode[e.errno]))
if bad:
    sys.exit("; ".join(bad))
EOF
# And the ones the spec names, once more through these calls.
python3 - "$D/a" <<'EOF' || fail "utimensat/fchmod/fchown/mknod/ftruncate errno"
import errno, os, sys
d = sys.argv[1]
x = os.path.join(d, "xml")
fd = os.open(x, os.O_RDONLY)
want = [("utime now", lambda: os.utime(x), errno.EPERM),
        ("utime now dir", lambda: os.utime(d), errno.EPERM),
        ("fchmod", lambda: os.fchmod(fd, 0o644), errno.EPERM),
        ("fchown", lambda: os.fchown(fd, 0, 0), errno.EPERM),
        ("mknod regular", lambda: os.mknod(os.path.join(d, "reg"), 0o600 | 0o100000), errno.EPERM),
        ("mkfifo", lambda: os.mkfifo(os.path.join(d, "fifo")), errno.EPERM)]
for name, fn, e in want:
    try:
        fn()
        sys.exit("%s succeeded" % name)
    except OSError as err:
        if err.errno != e:
            sys.exit("%s gave %s, expected %s" % (name, errno.errorcode.get(err.errno), errno.errorcode[e]))
EOF
snapshot >"$SCRATCH/after"
cmp -s "$SCRATCH/before" "$SCRATCH/after" || fail "the ENOSYS sweep changed the tree"
pass "no call returns ENOSYS or EXDEV"

cpfs_umount
