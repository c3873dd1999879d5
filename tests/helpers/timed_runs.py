#!/usr/bin/env python3
"""Runs a command COUNT times, one after the other, and prints how long the
runs took in milliseconds: "median=M runs=A,B,C".  Exits 1 (saying which
run and what it printed on stderr) when a run fails: a walk that met an
error is not a measurement.

usage: timed_runs.py COUNT CMD [ARGS...]
"""
import statistics
import subprocess
import sys
import time


def main():
    count = int(sys.argv[1])
    cmd = sys.argv[2:]
    runs = []
    for i in range(count):
        start = time.monotonic()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        took = (time.monotonic() - start) * 1000
        if done.returncode != 0:
            print("run %d of %s exited %d after %d ms: %s"
                  % (i + 1, " ".join(cmd), done.returncode, took,
                     done.stderr.decode(errors="replace").strip()))
            return 1
        runs.append(took)
    print("median=%d runs=%s" % (statistics.median(runs),
                                 ",".join("%d" % r for r in runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
