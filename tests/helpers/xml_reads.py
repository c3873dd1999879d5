#!/usr/bin/env python3
"""Reads of an xml file through the mount return the right bytes, and an
open file keeps the document it was opened with (t-xml-read.sh).

usage: xml_reads.py offsets XML REF
         pread at every third offset (1 and 17 bytes), 500 random ones,
         backwards, and past EOF, then sequential 37-byte reads: all equal
         the bytes of REF (a copy read before)
       xml_reads.py parent-removed XML REF MIDDLE NEWXML
         with XML open and 10 bytes read, rmdir MIDDLE (XML's parent):
         the descriptor still reads REF in full, preads match REF and end at
         its end; a new open of NEWXML (the moved checkpoint's xml) gives the
         new, shorter document naming the new parent "a", and stat agrees
       xml_reads.py checkpoint-removed XML REF CPDIR
         with XML open, rmdir CPDIR (its checkpoint): the path is gone, the
         descriptor still reads REF in full
Exits with a message on the first difference.
"""
import os
import random
import sys


def read_to_eof(fd, size):
    """Everything from fd's offset on, in reads of SIZE bytes."""
    data = b""
    while True:
        chunk = os.read(fd, size)
        if not chunk:
            return data
        data += chunk


def offsets(path, ref):
    with open(ref, "rb") as f:
        want = f.read()
    n = len(want)
    fd = os.open(path, os.O_RDONLY)
    rnd = random.Random(4)
    checks = [(off, size) for off in range(0, n + 40, 3) for size in (1, 17)]
    checks += [(rnd.randrange(0, n + 100), rnd.choice((1, 2, 100, 511, 4096, 65536)))
               for _ in range(500)]
    checks += [(off, 4096) for off in range(n - 1, -1, -97)]          # backwards
    checks += [(n, 1), (n + 1, 100), (1 << 20, 4096), (1 << 40, 10)]  # past EOF
    for off, size in checks:
        got = os.pread(fd, size, off)
        if got != want[off:off + size]:
            sys.exit("pread(%d bytes at %d): got %r, expected %r"
                     % (size, off, got[:40], want[off:off + size][:40]))
    # Sequential reads in odd sizes give the whole document, then EOF.
    os.lseek(fd, 0, os.SEEK_SET)
    if read_to_eof(fd, 37) != want:
        sys.exit("sequential 37-byte reads differ")
    os.close(fd)


def parent_removed(oldpath, ref, middle, newpath):
    with open(ref, "rb") as f:
        old = f.read()
    fd = os.open(oldpath, os.O_RDONLY)
    head = os.read(fd, 10)
    # Its parent goes: the document changes (its parent is now a) and shrinks.
    os.rmdir(middle)
    rest = read_to_eof(fd, 7)
    if head + rest != old:
        sys.exit("the old descriptor switched documents: read %r..." % (head + rest)[-80:])
    for off in (0, 5, len(old) - 20, len(old) - 1):
        if os.pread(fd, 40, off) != old[off:off + 40]:
            sys.exit("pread at %d on the old descriptor differs from the old document" % off)
    if os.pread(fd, 10, len(old)) != b"":
        sys.exit("the old descriptor reads past its document's end")
    with open(newpath, "rb") as f:
        new = f.read()
    if new == old or b"<name>a</name>" not in new.split(b"<creationTime>")[0]:
        sys.exit("a new open does not return the new document (parent a): %r" % new[:120])
    if len(new) >= len(old):
        sys.exit("test bug: the new document should be shorter")
    if os.stat(newpath).st_size != len(new):
        sys.exit("stat size %d of the changed document, %d bytes read"
                 % (os.stat(newpath).st_size, len(new)))
    os.close(fd)


def checkpoint_removed(path, ref, cpdir):
    with open(ref, "rb") as f:
        old = f.read()
    fd = os.open(path, os.O_RDONLY)
    os.rmdir(cpdir)
    if os.path.exists(path):
        sys.exit("%s still exists after rmdir" % path)
    got = read_to_eof(fd, 100)
    if got != old:
        sys.exit("the descriptor of a removed checkpoint lost its document: %r" % got[:80])


def main():
    cmds = {"offsets": offsets, "parent-removed": parent_removed,
            "checkpoint-removed": checkpoint_removed}
    cmd = sys.argv[1]
    if cmd not in cmds:
        raise SystemExit("unknown command " + cmd)
    cmds[cmd](*sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
