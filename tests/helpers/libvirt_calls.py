#!/usr/bin/env python3
"""Prints the daemon's count of libvirt calls so far: the mount root's
extended attribute user.checkpointfs.libvirt_calls (the qemu tier measures
what a walk costs with it).

usage: libvirt_calls.py MOUNT
Fails (traceback) when the attribute cannot be read.
"""
import os
import sys


def main():
    print(os.getxattr(sys.argv[1], "user.checkpointfs.libvirt_calls").decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
