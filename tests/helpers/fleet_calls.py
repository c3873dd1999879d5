#!/usr/bin/env python3
"""Checks that a fleet mount's root counts the libvirt calls of all its
hosts: its user.checkpointfs.libvirt_calls equals the sum of the host
directories' own.  Hosts may make calls meanwhile (reconnect attempts), so
it reads the hosts, the root, the hosts again, and judges only a round in
which no host's count moved; it tries for up to SECONDS (default 5).

usage: fleet_calls.py MOUNT [SECONDS]
Prints "root=N HOST=N ..." of the judged round; exits 1 when the root is
not the sum (or no quiet round came), printing the last round.
"""
import os
import sys
import time

NAME = "user.checkpointfs.libvirt_calls"


def calls(path):
    return int(os.getxattr(path, NAME).decode())


def main():
    mnt = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    hosts = sorted(os.listdir(mnt))
    end = time.monotonic() + seconds
    line = ""
    while True:
        before = {h: calls(os.path.join(mnt, h)) for h in hosts}
        root = calls(mnt)
        after = {h: calls(os.path.join(mnt, h)) for h in hosts}
        line = "root=%d " % root + " ".join("%s=%d" % (h, after[h]) for h in hosts)
        if before == after:
            if root == sum(after.values()):
                print(line)
                return 0
            print("the root's count is not the sum of the hosts': " + line)
            return 1
        if time.monotonic() > end:
            break
        time.sleep(0.05)  # pacing the rounds, not waiting for anything
    print("no round without calls in %g s: %s" % (seconds, line))
    return 1


if __name__ == "__main__":
    sys.exit(main())
