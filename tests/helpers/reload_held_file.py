#!/usr/bin/env python3
"""Holds a file of a fleet mount open across a reload that removes its host:
opens FILE (reading nothing, so that no page cache can answer later), sends
SIGHUP to PID, waits until HOSTDIR is gone (stat fails with ENOENT; up to
SECONDS, default 10), then reads FILE through the descriptor opened before.
Prints the errno name of that read, or OK; a second read from another
offset, and fstat, are reported the same way: "read=R pread=R fstat=R".

usage: reload_held_file.py FILE PID HOSTDIR [SECONDS]
Exits 1 when HOSTDIR does not go away in time.
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


def main():
    path, pid, hostdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    fd = os.open(path, os.O_RDONLY)
    os.kill(pid, signal.SIGHUP)
    end = time.monotonic() + seconds
    while True:
        try:
            os.stat(hostdir)
        except FileNotFoundError:
            break
        except OSError as e:
            print("stat %s failed with %s, expected ENOENT" % (hostdir, errno_name(e)))
            return 1
        if time.monotonic() > end:
            print("%s still there %g s after SIGHUP" % (hostdir, seconds))
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
