#!/usr/bin/env python3
"""Prints the first of COUNT consecutive TCP ports on 127.0.0.1 that nobody
listens on or holds now (each one bound and released), for a test's
libvirtd and backup exports.  Ports are drawn at random below the kernel's
ephemeral range, so that no outgoing connection is given one meanwhile and
tests running in parallel rarely draw the same.

usage: free_ports.py COUNT
"""
import random
import socket
import sys


def ephemeral_low():
    """The lowest port the kernel hands out to unbound sockets."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def all_free(first, count):
    """Whether ports FIRST..FIRST+COUNT-1 can each be bound on 127.0.0.1."""
    for port in range(first, first + count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def main():
    count = int(sys.argv[1])
    high = min(ephemeral_low(), 65536) - count
    for _ in range(200):
        first = random.randrange(20000, high)
        if all_free(first, count):
            print(first)
            return 0
    raise SystemExit("no %d consecutive free ports on 127.0.0.1" % count)


if __name__ == "__main__":
    sys.exit(main())
