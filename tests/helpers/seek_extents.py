#!/usr/bin/env python3
"""Prints the data extents of a file as lseek's SEEK_DATA and SEEK_HOLE
report them, one "start end" line each (end exclusive), merged.

usage: seek_extents.py PATH
"""
import errno
import os
import sys


def extents(fd):
    """The (start, end) data extents of open file FD."""
    size = os.fstat(fd).st_size
    found = []
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:
                break
            raise
        end = os.lseek(fd, start, os.SEEK_HOLE)
        if found and found[-1][1] == start:
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))
        pos = end
    return found


def main():
    fd = os.open(sys.argv[1], os.O_RDONLY)
    try:
        for start, end in extents(fd):
            print(start, end)
    finally:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
