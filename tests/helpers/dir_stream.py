#!/usr/bin/env python3
"""A directory stream held open across a change, read with libc's own
opendir/readdir/rewinddir (what ls and find use).

usage: dir_stream.py DIR
         opens DIR, prints "open" and waits for a line on stdin; then reads
         the stream to its end and prints the errno readdir stopped with
         ("0" for a plain end), rewinds, reads again and prints that errno:
         "read=ERRNO rewound=ERRNO", errno names.
"""
import ctypes
import ctypes.util
import errno
import os
import sys

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.c_void_p
libc.readdir.argtypes = [ctypes.c_void_p]
libc.rewinddir.argtypes = [ctypes.c_void_p]
libc.closedir.argtypes = [ctypes.c_void_p]


def read_to_end(stream):
    """Reads entries until readdir returns NULL; the errno it set, by name."""
    while True:
        ctypes.set_errno(0)
        if not libc.readdir(stream):
            err = ctypes.get_errno()
            return errno.errorcode.get(err, "0") if err else "0"


def main():
    stream = libc.opendir(os.fsencode(sys.argv[1]))
    if not stream:
        raise SystemExit("opendir %s: %s" % (sys.argv[1], os.strerror(ctypes.get_errno())))
    print("open", flush=True)
    sys.stdin.readline()
    read = read_to_end(stream)
    libc.rewinddir(stream)
    rewound = read_to_end(stream)
    libc.closedir(stream)
    print("read=%s rewound=%s" % (read, rewound), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
