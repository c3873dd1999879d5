#!/usr/bin/env python3
"""Holds a file of a fleet mount open across a reload that removes or
replaces its host: opens FILE (reading nothing, so that no page cache can
answer later), sends SIGHUP to PID, waits until the reload shows (WAITPATH
is gone: stat fails with ENOENT; or there: stat succeeds; up to SECONDS,
default 10), then reads FILE through the descriptor opened before.  Prints
"read=R pread=R fstat=R": OK or the errno name of a read, of a read at
another offset, and of fstat.

usage: reload_held_file.py FILE PID WAITPATH gone|there [SECONDS]
Exits 1 when the reload does not show in time.
"""
import os
import signal
import sys
import time

from common import errno_name


def attempt(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return errno_name(e)


def shown(waitpath, want):
    """Whether WAITPATH is as the reload makes it (want: gone or there)."""
    try:
        os.stat(waitpath)
        return want == "there"
    except FileNotFoundError:
        return want == "gone"


def main():
    path, pid, waitpath, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
    fd = os.open(path, os.O_RDONLY)
    os.kill(pid, signal.SIGHUP)
    end = time.monotonic() + seconds
    while not shown(waitpath, want):
        if time.monotonic() > end:
            print("%s is not %s %g s after SIGHUP" % (waitpath, want, seconds))
            return 1
        time.sleep(0.02)  # polling for the reload, with a deadline
    results = (attempt(lambda: os.read(fd, 4096)),
               attempt(lambda: os.pread(fd, 100, 1)),
               attempt(lambda: os.fstat(fd)))
    os.close(fd)
    print("read=%s pread=%s fstat=%s" % results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
