#!/usr/bin/env python3
"""Prints the pids of the checkpointfs processes that have PATH among their
arguments, one a line (lib.sh's daemon_pids: is a daemon left behind, which
one serves a mount point).

usage: daemon_pids.py PATH
"""
import os
import sys


def main():
    want = sys.argv[1].encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"checkpointfs" and want in argv:
            print(pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
