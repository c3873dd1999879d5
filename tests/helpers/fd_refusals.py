#!/usr/bin/env python3
"""The refusals the man page names, through calls errno_of.py lacks
(t-other-ops.sh): utimensat(now) of xml and of a directory, fchmod, fchown,
mknod of a regular file, mkfifo: EPERM.

usage: fd_refusals.py CHECKPOINT_DIR
Exits with the first call that did not give EPERM.
"""
import errno
import os
import sys

from common import errno_name


def refusals(d):
    """The first refusal that is not EPERM, or None."""
    x = os.path.join(d, "xml")
    fd = os.open(x, os.O_RDONLY)
    want = [("utime now", lambda: os.utime(x), errno.EPERM),
            ("utime now dir", lambda: os.utime(d), errno.EPERM),
            ("fchmod", lambda: os.fchmod(fd, 0o644), errno.EPERM),
            ("fchown", lambda: os.fchown(fd, 0, 0), errno.EPERM),
            ("mknod regular", lambda: os.mknod(os.path.join(d, "reg"), 0o600 | 0o100000),
             errno.EPERM),
            ("mkfifo", lambda: os.mkfifo(os.path.join(d, "fifo")), errno.EPERM)]
    for name, fn, e in want:
        try:
            fn()
            return "%s succeeded" % name
        except OSError as err:
            if err.errno != e:
                return "%s gave %s, expected %s" % (name, errno_name(err), errno_name(e))
    return None


def main():
    problem = refusals(sys.argv[1])
    if problem:
        sys.exit(problem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
