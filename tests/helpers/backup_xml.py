#!/usr/bin/env python3
"""Reads a running backup job's XML (virsh backup-dumpxml, on stdin) and
prints where its NBD server listens and the scratch file of each disk it
backs up, so that a shell test compares plain lines:

  server TRANSPORT NAME-OR-SOCKET PORT   ("-" for what the XML lacks)
  scratch DISK FILE                      one a disk with backup='yes'

usage: backup_xml.py < backup.xml
"""
import sys
import xml.etree.ElementTree as ET


def main():
    root = ET.fromstring(sys.stdin.read())
    if root.tag != "domainbackup":
        raise SystemExit("not a <domainbackup> document: <%s>" % root.tag)
    server = root.find("server")
    if server is None:
        raise SystemExit("the backup XML has no <server>")
    print("server %s %s %s" % (server.get("transport", "-"),
                               server.get("name") or server.get("socket") or "-",
                               server.get("port", "-")))
    for disk in root.findall("disks/disk"):
        if disk.get("backup") != "yes":
            continue
        scratch = disk.find("scratch")
        where = "-"
        if scratch is not None:
            where = scratch.get("file") or scratch.get("dev") or "-"
        print("scratch %s %s" % (disk.get("name"), where))
    return 0


if __name__ == "__main__":
    sys.exit(main())
