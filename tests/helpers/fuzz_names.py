#!/usr/bin/env python3
"""Fuzzes mkdir names through a mounted checkpointfs.

usage: fuzz_names.py MOUNT/DOMAIN SEED COUNT

Tries COUNT random names (random bytes, every byte value a path component can
hold, lengths 0 to 1100) as mkdir in the leaf of the domain's chain, plus a
fixed set of edge cases.  A name may only be created when it is allowed:
[A-Za-z0-9_-][A-Za-z0-9_.-]*, at most 247 bytes, not "xml".  Afterwards the
tree must hold exactly the names whose mkdir returned 0.
"""
import errno
import os
import random
import re
import sys

ALLOWED = re.compile(rb"[A-Za-z0-9_-][A-Za-z0-9_.-]*\Z")
EXPECTED_ERRNOS = {errno.EINVAL, errno.ENAMETOOLONG, errno.EEXIST}


def allowed(name):
    return 0 < len(name) <= 247 and name != b"xml" and ALLOWED.match(name)


def main():
    domain_dir = os.fsencode(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    count = int(sys.argv[3])
    component_bytes = [b for b in range(1, 256) if b != ord("/")]
    cases = [b"", b".", b"..", b"xml", b"-", b"_", b"a" * 247, b"b" * 248, b"c" * 1024,
             b"d" * 1100, b".hidden", b"a b", b"\xc3\xa9t\xc3\xa9", b"a\nb", b"a\\b",
             b"0", b"a.", b"a..b", b"-rf", b"x" * 255, b"x" * 256]
    for _ in range(count):
        length = rng.choice([rng.randint(0, 8), rng.randint(0, 300), rng.randint(0, 1100)])
        alphabet = component_bytes if rng.random() < 0.5 else list(
            b"abcXYZ019_-.")
        cases.append(bytes(rng.choice(alphabet) for _ in range(length)))

    created = []
    bad = 0
    # The chain soon outgrows PATH_MAX: work relative to the leaf's fd.
    leaf_fd = os.open(domain_dir, os.O_RDONLY | os.O_DIRECTORY)
    for name in cases:
        try:
            os.mkdir(name if name else b"", dir_fd=leaf_fd)
        except OSError as e:
            if allowed(name) and e.errno not in (errno.EEXIST,):
                print("allowed name %r refused: %s" % (name[:60], os.strerror(e.errno)))
                bad += 1
            elif not allowed(name) and e.errno not in EXPECTED_ERRNOS | {errno.ENOENT}:
                # ENOENT only for the empty name.
                print("name %r gave unexpected %s" % (name[:60], errno.errorcode[e.errno]))
                bad += 1
            continue
        if not allowed(name):
            print("disallowed name %r was created" % name[:60])
            bad += 1
        created.append(name)
        new_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=leaf_fd)
        os.close(leaf_fd)
        leaf_fd = new_fd
    os.close(leaf_fd)

    found = []
    def walk(fd):
        for entry in map(os.fsencode, os.listdir(fd)):
            if entry == b"xml":
                continue
            found.append(entry)
            sub = os.open(entry, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            try:
                walk(sub)
            finally:
                os.close(sub)
    top = os.open(domain_dir, os.O_RDONLY | os.O_DIRECTORY)
    walk(top)
    os.close(top)
    if sorted(found) != sorted(created):
        print("the tree holds %d checkpoints, %d mkdirs succeeded" % (len(found), len(created)))
        bad += 1
    print("%d names tried, %d created, %d problems" % (len(cases), len(created), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
