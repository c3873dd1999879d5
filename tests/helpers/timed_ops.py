#!/usr/bin/env python3
"""Runs filesystem operations in parallel, each in its own process, and
prints one line per operation: NAME MILLISECONDS RESULT.

Usage: timed_ops.py NAME=KIND:PATH ...   KIND is one of
  ls (os.listdir), cat (read the whole file), find (os.walk), stat,
  mkdir.  RESULT is OK or the errno name.

Each operation runs in a child process so that one stuck in the kernel (D
state) does not stop the others from being timed; the parent waits for all
of them, up to --deadline seconds (default 60), and reports a process still
running then as HUNG."""
import errno
import os
import sys
import time


def run(kind, path):
    if kind == "ls":
        os.listdir(path)
    elif kind == "cat":
        with open(path, "rb") as f:
            while f.read(65536):
                pass
    elif kind == "find":
        for _ in os.walk(path):
            pass
    elif kind == "stat":
        os.stat(path)
    elif kind == "mkdir":
        os.mkdir(path)
    else:
        raise SystemExit("unknown operation " + kind)


def main():
    args = sys.argv[1:]
    deadline = 60.0
    if args and args[0].startswith("--deadline="):
        deadline = float(args.pop(0).split("=", 1)[1])
    children = {}
    for spec in args:
        name, rest = spec.split("=", 1)
        kind, path = rest.split(":", 1)
        rfd, wfd = os.pipe()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                run(kind, path)
                result = "OK"
            except OSError as e:
                result = errno.errorcode.get(e.errno, str(e.errno))
            os.write(wfd, result.encode())
            os._exit(0)
        os.close(wfd)
        children[pid] = (name, start, rfd)
    end = time.monotonic() + deadline
    done = {}
    while children and time.monotonic() < end:
        pid, _ = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.01)
            continue
        name, start, rfd = children.pop(pid)
        took = (time.monotonic() - start) * 1000
        done[name] = (took, os.read(rfd, 64).decode() or "DIED")
        os.close(rfd)
    for name, start, _ in children.values():
        done[name] = ((time.monotonic() - start) * 1000, "HUNG")
    for name in sorted(done):
        print("%s %d %s" % (name, done[name][0], done[name][1]))


if __name__ == "__main__":
    main()
