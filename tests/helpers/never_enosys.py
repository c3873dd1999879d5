#!/usr/bin/env python3
"""No call on the mount returns ENOSYS, nor EXDEV inside it (t-other-ops.sh).

usage: never_enosys.py paths MOUNT DOMAINDIR
         every path operation on every kind of node (root, domain, domain
         xml, checkpoint, its xml, a child checkpoint, its xml, a missing
         name), except those that would really change the tree
       never_enosys.py fd-calls CHECKPOINT_DIR SCRATCH
         the calls on descriptors (ioctl, lseek, fallocate, fsync, locks,
         poll, sendfile, splice, mmap, O_TMPFILE, f* metadata calls, ...)
         on CHECKPOINT_DIR and its xml; SCRATCH takes a sendfile copy
Exits with every offending call and its errno.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import select
import struct
import sys
import termios

from common import errno_name


def opener(flags, mode=0o644):
    return lambda p: os.close(os.open(p, flags, mode))


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


PATH_OPS = {
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
    "readall": read_all,
    "readlink": os.readlink,
}


def enosys_or_exdev(calls):
    """Runs each (name, fn); the names of those that failed with ENOSYS or EXDEV."""
    bad = []
    for name, fn in calls:
        try:
            fn()
        except OSError as e:
            if e.errno in (errno.ENOSYS, errno.EXDEV):
                bad.append("%s: %s" % (name, errno_name(e)))
    return bad


def path_calls(mnt, d):
    paths = [mnt, d, d + "/xml", d + "/a", d + "/a/xml", d + "/a/b", d + "/a/b/xml",
             d + "/a/nosuch"]
    other = d + "/a/other"
    ops = dict(PATH_OPS)
    ops["rename"] = lambda p: os.rename(p, other)
    ops["link"] = lambda p: os.link(p, other)
    ops["symlink"] = lambda p: os.symlink("xml", p)
    # Calls that would really change the tree, and moving the mount root (which
    # lives in the parent filesystem) into the mount: the kernel says EXDEV.
    skip = {("mkdir", d + "/a/nosuch"), ("rmdir", d + "/a"), ("rmdir", d + "/a/b"),
            ("rename", mnt), ("link", mnt)}
    return [("%s %s" % (name, p), (lambda fn=fn, p=p: fn(p)))
            for p in paths for name, fn in ops.items() if (name, p) not in skip]


def fd_calls(d, scratch):
    x = os.path.join(d, "xml")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(x, os.O_RDONLY)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    out = os.open(os.path.join(scratch, "copy"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _r, w = os.pipe()

    def syncfs():
        if libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")

    def pollit():
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(0)

    rdlock = struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)
    return {
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
        "F_SETLK": lambda: fcntl.fcntl(fd, fcntl.F_SETLK, rdlock),
        "F_GETLK": lambda: fcntl.fcntl(fd, fcntl.F_GETLK, rdlock),
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
    }.items()
    # copy_file_range between two filesystems is refused by the kernel with
    # EXDEV before the daemon is asked: not checked.


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "paths":
        bad = enosys_or_exdev(path_calls(*args))
    elif cmd == "fd-calls":
        bad = enosys_or_exdev(fd_calls(*args))
    else:
        raise SystemExit("unknown command " + cmd)
    if bad:
        sys.exit("; ".join(bad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
