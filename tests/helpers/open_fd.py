#!/usr/bin/env python3
"""Calls on a file the shell holds open (exec 3<FILE), which must not be
opened again: a second open could start or share a backup job of its own.

usage: open_fd.py size FD
         the size fstat reports
       open_fd.py read FD OFFSET
         preads 64 KiB at OFFSET; prints OK or the errno name it failed with
       open_fd.py until-eio FD SIZE SECONDS
         preads 64 KiB at offsets below SIZE not read before (so that no
         page cache answers) until one fails with EIO; prints the
         milliseconds that took.  Fails on any other error, or when
         SECONDS pass first, or when a single read took longer than
         SECONDS.  (SIZE is given: fstat itself may need libvirt.)
"""
import errno
import os
import sys
import time

CHUNK = 64 << 10


def until_eio(fd, size, seconds):
    start = time.monotonic()
    # Strides of 1 MiB + 64 KiB walk the file without touching a read's
    # read-ahead window twice.
    stride = (1 << 20) + CHUNK
    offset = 0
    while True:
        began = time.monotonic()
        try:
            os.pread(fd, CHUNK, offset)
        except OSError as e:
            if e.errno != errno.EIO:
                raise SystemExit("read at %d failed with %s, expected EIO"
                                 % (offset, errno.errorcode.get(e.errno, e.errno)))
            took = time.monotonic() - began
            if took > seconds:
                raise SystemExit("the read that gave EIO took %.1f s" % took)
            print(int((time.monotonic() - start) * 1000))
            return 0
        if time.monotonic() - began > seconds:
            raise SystemExit("a read at %d took %.1f s" % (offset, time.monotonic() - began))
        if time.monotonic() - start > seconds:
            raise SystemExit("reads still succeed after %d s" % seconds)
        offset = (offset + stride) % max(size - CHUNK, 1)
        time.sleep(0.02)  # pacing the reads, not waiting for anything


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "size":
        print(os.fstat(int(sys.argv[2])).st_size)
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "read":
        try:
            os.pread(int(sys.argv[2]), CHUNK, int(sys.argv[3]))
            print("OK")
        except OSError as e:
            print(errno.errorcode.get(e.errno, str(e.errno)))
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "until-eio":
        return until_eio(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
