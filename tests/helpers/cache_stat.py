#!/usr/bin/env python3
"""Prints one field of what the daemon holds: the mount root's extended
attribute user.checkpointfs.cache, "domains=N documents=N ...".

usage: cache_stat.py MOUNT FIELD
       cache_stat.py MOUNT --names   (the root's attribute names, one a line)
Fails (traceback, or exit 1 for an unknown FIELD) when it cannot be read.
"""
import os
import sys


def main():
    if sys.argv[2] == "--names":
        print("\n".join(sorted(os.listxattr(sys.argv[1]))))
        return 0
    value = os.getxattr(sys.argv[1], "user.checkpointfs.cache").decode()
    fields = dict(item.split("=", 1) for item in value.split())
    if sys.argv[2] not in fields:
        sys.exit("no field %s in %r" % (sys.argv[2], value))
    print(fields[sys.argv[2]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
