#!/usr/bin/env python3
"""A change through the mount shows in its domain directory's times at once
(t-tree.sh): with the domain directory open and its attributes freshly
fetched (stat --cached=never), performs OP (mkdir or rmdir) on PATH and
prints the domain directory's "atime mtime ctime" from fstat on the open
descriptor right after.  No path walk, so nothing but the daemon can
refresh what the kernel holds.

usage: change_and_look.py mkdir|rmdir PATH DOMAINDIR
Fails (traceback) when the stat or OP fails.
"""
import os
import subprocess
import sys


def main():
    op, path, dom = sys.argv[1:4]
    if op not in ("mkdir", "rmdir"):
        raise SystemExit("unknown op " + op)
    fd = os.open(dom, os.O_RDONLY | os.O_DIRECTORY)
    subprocess.run(["stat", "--cached=never", dom], check=True, stdout=subprocess.DEVNULL)
    getattr(os, op)(path)
    st = os.fstat(fd)
    print(int(st.st_atime), int(st.st_mtime), int(st.st_ctime))
    return 0


if __name__ == "__main__":
    sys.exit(main())
