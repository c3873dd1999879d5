#!/usr/bin/env python3
"""One field of one disk of a running domain, from its XML on stdin (the
qemu tier's guest_write reaches the disk through its qdev alias, and tests
compare backups against its image file).

usage: virsh dumpxml DOM | domain_disks.py alias|source DISK
         DISK is the <target dev> (vda); alias prints the device's alias
         (virtio-disk0), source the path of its image file
Exits with a message when the domain has no such disk or field.
"""
import sys
import xml.etree.ElementTree as ET


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("alias", "source"):
        raise SystemExit("usage: domain_disks.py alias|source DISK <XML")
    field, disk = sys.argv[1], sys.argv[2]
    root = ET.fromstring(sys.stdin.read())
    for d in root.findall("devices/disk"):
        target = d.find("target")
        if target is None or target.get("dev") != disk:
            continue
        node = d.find("alias") if field == "alias" else d.find("source")
        value = None if node is None else node.get("name" if field == "alias" else "file")
        if not value:
            raise SystemExit("domain_disks.py: disk %s has no %s" % (disk, field))
        print(value)
        return 0
    raise SystemExit("domain_disks.py: the domain has no disk " + disk)


if __name__ == "__main__":
    sys.exit(main())
