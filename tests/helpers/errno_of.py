#!/usr/bin/env python3
"""Performs one system call and prints OK or the errno name it failed with
(lib.sh's errno_of and expect_errno check what it prints).

usage: errno_of.py OP PATH [ARG]
OPs: mkdir rmdir unlink rename(ARG=new path) open_r open_w open_rw open_trunc
     creat truncate chmod chown utime symlink(ARG=target) link(ARG=new path)
     mknod setxattr getxattr getxattr_nbd removexattr listxattr stat lstat opendir
     readall
"""
import os
import sys

from common import errno_name


def main():
    op, path = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    try:
        if op == "mkdir":
            os.mkdir(path, 0o755)
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "unlink":
            os.unlink(path)
        elif op == "rename":
            os.rename(path, arg)
        elif op in ("open_r", "open_w", "open_rw", "open_trunc"):
            flags = {"open_r": os.O_RDONLY, "open_w": os.O_WRONLY,
                     "open_rw": os.O_RDWR,
                     "open_trunc": os.O_RDONLY | os.O_TRUNC}[op]
            os.close(os.open(path, flags))
        elif op == "creat":
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        elif op == "truncate":
            os.truncate(path, 0)
        elif op == "chmod":
            os.chmod(path, 0o700)
        elif op == "chown":
            os.chown(path, 1, 1)
        elif op == "utime":
            os.utime(path, (0, 0))
        elif op == "symlink":
            os.symlink(arg, path)
        elif op == "link":
            os.link(path, arg)
        elif op == "mknod":
            os.mknod(path, 0o600 | 0o010000)  # a FIFO
        elif op == "setxattr":
            os.setxattr(path, "user.test", b"x")
        elif op == "getxattr":
            os.getxattr(path, "user.test")
        elif op == "getxattr_nbd":
            os.getxattr(path, "user.checkpointfs.nbd")
        elif op == "removexattr":
            os.removexattr(path, "user.test")
        elif op == "listxattr":
            os.listxattr(path)
        elif op == "stat":
            os.stat(path)
        elif op == "lstat":
            os.lstat(path)
        elif op == "opendir":
            os.listdir(path)
        elif op == "readall":
            with open(path, "rb") as f:
                f.read()
        else:
            print("unknown op " + op, file=sys.stderr)
            return 2
    except OSError as e:
        print(errno_name(e))
        return 0
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
