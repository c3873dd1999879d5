#!/usr/bin/env python3
"""Checks of issue 8's filesystem faults, each through real system calls on
a mounted checkpointfs.  usage: fs_checks.py CHECK DOMAIN_DIR
Prints one line per failed check and exits 1 if any failed.

rewinddir      lseek 0 on an open directory shows checkpoints made and
               deleted since the opendir
mkdirat-stale  mkdirat through a fd of a checkpoint deleted and made again
               under its name gives ENOENT and creates nothing; with two
               shell commands after DOMAIN_DIR, they delete and make the
               checkpoint "a" again outside the mount (else rmdir and mkdir do)
dino           readdir's d_ino is what lstat says, for entries never looked up
nlink          fstat of an open xml whose checkpoint is deleted gives nlink 0
"""
import errno
import os
import subprocess
import sys
import time

FAILS = []


def bad(msg):
    FAILS.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def listing(fd):
    """The names readdir gives from the current offset of FD."""
    return sorted(os.listdir(fd))


def check_rewinddir(dom):
    os.mkdir(os.path.join(dom, "r1"))
    fd = os.open(dom, os.O_RDONLY | os.O_DIRECTORY)
    try:
        first = listing(fd)
        if first != ["r1", "xml"]:
            bad("first listing is %r" % first)
        os.mkdir(os.path.join(dom, "r1", "r2"))
        os.rmdir(os.path.join(dom, "r1"))   # r2 moves up into DOM
        os.lseek(fd, 0, os.SEEK_SET)
        again = listing(fd)
        if again != ["r2", "xml"]:
            bad("after rewind the listing is %r, expected ['r2', 'xml']" % again)
    finally:
        os.close(fd)
    os.rmdir(os.path.join(dom, "r2"))


def remake_outside(a, delete, create):
    """Deletes A with the shell command DELETE and makes it again with
    CREATE; returns once the mount shows the new one (another inode)."""
    before = os.lstat(a).st_ino
    subprocess.run(delete, shell=True, check=True)
    # libvirt's creation times have whole seconds, and a checkpoint of the
    # same name and time is taken for the same one: make it in the next.
    second = int(time.time())
    while int(time.time()) == second:
        time.sleep(0.02)
    subprocess.run(create, shell=True, check=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if os.lstat(a).st_ino != before:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    bad("the mount did not show the new %s within 5 s" % a)


def check_mkdirat_stale(dom, *outside):
    a = os.path.join(dom, "a")
    os.mkdir(a)
    fd = os.open(a, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if outside:
            remake_outside(a, *outside)
        else:
            os.rmdir(a)
            os.mkdir(a)          # the same name, another checkpoint
        try:
            os.mkdir("child", dir_fd=fd)
            bad("mkdirat through the deleted a's fd succeeded")
        except OSError as e:
            if e.errno != errno.ENOENT:
                bad("mkdirat through the deleted a's fd gave %s, expected ENOENT"
                    % errno.errorcode.get(e.errno, e.errno))
    finally:
        os.close(fd)
    if os.path.lexists(os.path.join(a, "child")):
        bad("the new a got the child")
        os.rmdir(os.path.join(a, "child"))
    os.rmdir(a)


def check_dino(dom):
    # The root, the domain and a checkpoint, each read before anything in
    # it is looked up (the mount is fresh, the checkpoints made outside
    # the kernel's view by the caller).
    for d in (os.path.dirname(dom), dom, os.path.join(dom, "d1")):
        seen = {e.name: e.inode() for e in os.scandir(d)}
        if not seen:
            bad("%s lists nothing" % d)
        for name, ino in sorted(seen.items()):
            if ino in (0, 0xffffffff):
                bad("%s/%s: readdir gives d_ino %d" % (d, name, ino))
            st = os.lstat(os.path.join(d, name))
            if st.st_ino != ino:
                bad("%s/%s: readdir gives d_ino %d, lstat %d" % (d, name, ino, st.st_ino))


def check_nlink(dom):
    c = os.path.join(dom, "n1")
    os.mkdir(c)
    fd = os.open(os.path.join(c, "xml"), os.O_RDONLY)
    try:
        if os.fstat(fd).st_nlink != 1:
            bad("open xml has nlink %d before rmdir" % os.fstat(fd).st_nlink)
        os.rmdir(c)
        # The daemon tells the kernel just after the rmdir's reply.
        deadline = time.monotonic() + 2
        while os.fstat(fd).st_nlink != 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if os.fstat(fd).st_nlink != 0:
            bad("open xml keeps nlink %d after rmdir" % os.fstat(fd).st_nlink)
        if not os.read(fd, 100).startswith(b"<domaincheckpoint"):
            bad("open xml no longer reads its document after rmdir")
    finally:
        os.close(fd)


CHECKS = {
    "rewinddir": check_rewinddir,
    "mkdirat-stale": check_mkdirat_stale,
    "dino": check_dino,
    "nlink": check_nlink,
}


def main():
    CHECKS[sys.argv[1]](*sys.argv[2:])
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
