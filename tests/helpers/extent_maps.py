#!/usr/bin/env python3
"""Extent maps in one form, "START LENGTH" a line for each run of data,
adjacent runs merged, so that the shell tests can compare what different
tools report about the backup files with plain string equality.

usage: extent_maps.py seek FILE
         the data runs lseek(SEEK_DATA/SEEK_HOLE) reports for FILE
       nbdinfo --map URI | extent_maps.py nbd-data
         the runs base:allocation does not call a hole (type bit 0 clear)
       nbdinfo --map=qemu:dirty-bitmap:B URI | extent_maps.py nbd-dirty
         the runs the dirty bitmap marks (type bit 0 set)
       qemu-img map --output=json IMAGE | extent_maps.py qcow2
         the runs allocated in IMAGE itself (present at depth 0, data or
         zero clusters alike), for images opened without their backing
       extent_maps.py ranges START:LENGTH...
         the given runs (sizes as qemu-io takes them: 8M, 64k), merged
"""
import json
import os
import sys

import seek_extents
from sizes import parse_size


def merged(runs):
    """RUNS (start, length) sorted, overlapping or adjacent ones joined."""
    out = []
    for start, length in sorted(r for r in runs if r[1] > 0):
        if out and start <= out[-1][0] + out[-1][1]:
            end = max(out[-1][0] + out[-1][1], start + length)
            out[-1] = (out[-1][0], end - out[-1][0])
        else:
            out.append((start, length))
    return out


def seek_runs(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return [(start, end - start) for start, end in seek_extents.extents(fd)]
    finally:
        os.close(fd)


def nbd_runs(text, want_bit):
    runs = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        start, length, kind = int(fields[0]), int(fields[1]), int(fields[2])
        if (kind & 1) == want_bit:
            runs.append((start, length))
    return runs


def qcow2_runs(text):
    return [(e["start"], e["length"]) for e in json.loads(text)
            if e.get("present") and e.get("depth") == 0]


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "seek" and len(sys.argv) == 3:
        runs = seek_runs(sys.argv[2])
    elif cmd == "nbd-data":
        runs = nbd_runs(sys.stdin.read(), 0)
    elif cmd == "nbd-dirty":
        runs = nbd_runs(sys.stdin.read(), 1)
    elif cmd == "qcow2":
        runs = qcow2_runs(sys.stdin.read())
    elif cmd == "ranges":
        runs = []
        for arg in sys.argv[2:]:
            start, _, length = arg.partition(":")
            runs.append((parse_size(start), parse_size(length)))
    else:
        raise SystemExit(__doc__)
    for start, length in merged(runs):
        print(start, length)
    return 0


if __name__ == "__main__":
    sys.exit(main())
