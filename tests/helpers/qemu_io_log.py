#!/usr/bin/env python3
"""Waits for qemu-io's report in a domain's log (QEMU prints what HMP's
qemu-io did on its stdout, which libvirt writes to the log, not into the
HMP answer): the write and the read-back that guest_write makes must both
be there, whole, with no failure.

usage: qemu_io_log.py LOG START OFFSET LENGTH
         looks at LOG from byte START for "wrote LENGTH/LENGTH bytes at
         offset OFFSET" and "read ..." (the same numbers); OFFSET and
         LENGTH as qemu-io takes them (8M, 64k, 4096)
Exits 0 once both are there; with a message on the first line that reports
a failure, or when 10 s pass first.
"""
import re
import sys
import time

from sizes import parse_size

FAILURE = re.compile(r"failed|error|not found|invalid", re.IGNORECASE)


def main():
    if len(sys.argv) != 5:
        raise SystemExit("usage: qemu_io_log.py LOG START OFFSET LENGTH")
    log, start = sys.argv[1], int(sys.argv[2])
    off, length = parse_size(sys.argv[3]), parse_size(sys.argv[4])
    want = ["wrote %d/%d bytes at offset %d" % (length, length, off),
            "read %d/%d bytes at offset %d" % (length, length, off)]
    deadline = time.monotonic() + 10
    while True:
        with open(log, "rb") as f:
            f.seek(start)
            lines = f.read().decode(errors="replace").splitlines()
        for line in lines:
            if FAILURE.search(line):
                raise SystemExit("qemu-io reported: " + line)
        if all(w in lines for w in want):
            return 0
        if time.monotonic() > deadline:
            raise SystemExit("qemu-io's report is not in %s after 10 s: expected %s, have %s"
                             % (log, want, lines))
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
