#!/usr/bin/env python3
"""renameat2(2) with flags reaches the daemon as RENAME2 and is refused with
EPERM like rename (t-other-ops.sh): RENAME_NOREPLACE of a checkpoint
directory, RENAME_EXCHANGE of two xml files, and flags 0.

usage: renameat2.py CHECKPOINT_DIR XML OTHER_XML
Exits with a message naming the call that did not give EPERM.
"""
import ctypes
import errno
import os
import sys

from common import errno_name

AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def main():
    cpdir, xml, other_xml = sys.argv[1:4]
    libc = ctypes.CDLL(None, use_errno=True)
    cases = [(cpdir, cpdir + "-new", RENAME_NOREPLACE), (xml, other_xml, RENAME_EXCHANGE),
             (cpdir, cpdir + "-new", 0)]
    for old, new, flags in cases:
        rc = libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags)
        e = ctypes.get_errno()
        if rc == 0 or e != errno.EPERM:
            sys.exit("renameat2(%s, %s, flags %d) gave %s, expected EPERM"
                     % (old, new, flags, "OK" if rc == 0 else errno_name(e)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
