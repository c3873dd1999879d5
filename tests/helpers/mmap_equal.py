#!/usr/bin/env python3
"""Maps a file read-only with mmap(2) and checks that its bytes equal those
of another file (a copy made with read(2)).

usage: mmap_equal.py MAPPED COPY
Exits 1 with a message on the first difference.
"""
import mmap
import os
import sys

CHUNK = 1 << 20


def main():
    mapped, copy = sys.argv[1], sys.argv[2]
    with open(mapped, "rb") as f, open(copy, "rb") as c:
        size = os.fstat(f.fileno()).st_size
        if size != os.fstat(c.fileno()).st_size:
            print("sizes differ: %d and %d" % (size, os.fstat(c.fileno()).st_size))
            return 1
        with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
            for off in range(0, size, CHUNK):
                if m[off:off + CHUNK] != c.read(CHUNK):
                    print("the mapping differs from the copy in the MiB at %d" % off)
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
