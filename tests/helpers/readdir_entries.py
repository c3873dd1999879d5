#!/usr/bin/env python3
"""Prints "NAME TYPE" per entry of a directory in the order readdir(3)
returns them (t-tree.sh's entries), TYPE from d_type itself: d = DT_DIR,
f = DT_REG, ? = DT_UNKNOWN, else the number.  No stat() fallback that would
hide a missing d_type.

usage: readdir_entries.py DIR
Exits with a message when opendir or readdir fails.
"""
import ctypes
import ctypes.util
import os
import sys


class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


TYPE_LETTERS = {0: "?", 4: "d", 8: "f"}


def main():
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.opendir.restype = ctypes.c_void_p
    libc.opendir.argtypes = [ctypes.c_char_p]
    libc.readdir64.restype = ctypes.POINTER(Dirent)
    libc.readdir64.argtypes = [ctypes.c_void_p]
    libc.closedir.argtypes = [ctypes.c_void_p]
    d = libc.opendir(os.fsencode(sys.argv[1]))
    if not d:
        sys.exit("opendir %s: %s" % (sys.argv[1], os.strerror(ctypes.get_errno())))
    while True:
        ctypes.set_errno(0)
        e = libc.readdir64(d)
        if not e:
            if ctypes.get_errno():
                sys.exit("readdir: " + os.strerror(ctypes.get_errno()))
            break
        t = e.contents.d_type
        print(e.contents.d_name.decode(), TYPE_LETTERS.get(t, str(t)))
    libc.closedir(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
