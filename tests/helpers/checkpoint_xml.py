#!/usr/bin/env python3
"""Checkpoint XML documents: check one read through the mount, or read and
edit one written by virsh (the qemu tier's redefinitions).

usage: checkpoint_xml.py check FILE NAME PARENT DOMAIN
         the document is a <domaincheckpoint> named NAME whose parent is
         PARENT ("" for a root: no <parent> at all), with a creationTime
         (epoch seconds) and the embedded <domain> DOMAIN with its devices
       checkpoint_xml.py parent FILE
         print the <parent><name>, or "-" for a root
       checkpoint_xml.py set-parent FILE NAME
         rewrite FILE with NAME as its <parent><name>
       checkpoint_xml.py add-description FILE TEXT
         rewrite FILE with a <description> TEXT after its <name>
       checkpoint_xml.py disk-size FILE DISK
         print the size= of DISK's <disk> (virsh checkpoint-dumpxml --size)
Exits with a message on the first problem.
"""
import sys
import xml.etree.ElementTree as ET


def check(path, name, parent, domain):
    """The first problem of the document at PATH, or None."""
    root = ET.parse(path).getroot()
    if root.tag != "domaincheckpoint":
        return "root element is <%s>" % root.tag
    if root.findtext("name") != name:
        return "<name> is %r, expected %r" % (root.findtext("name"), name)
    p = root.find("parent")
    if parent:
        if p is None or p.findtext("name") != parent:
            return ("<parent><name> is %r, expected %r"
                    % (None if p is None else p.findtext("name"), parent))
    elif p is not None:
        return "a root checkpoint has a <parent>"
    ct = root.findtext("creationTime")
    if not ct or not ct.isdigit() or int(ct) < 1000000000:
        return "<creationTime> is %r" % ct
    dom = root.find("domain")
    if dom is None or dom.findtext("name") != domain or dom.find("devices") is None:
        return "no embedded <domain> named %s with its devices" % domain
    return None


def main():
    cmd, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "check":
        problem = check(path, *args)
        if problem:
            sys.exit("%s: %s" % (path, problem))
    elif cmd == "parent":
        name = ET.parse(path).getroot().findtext("parent/name")
        print(name if name else "-")
    elif cmd == "set-parent":
        tree = ET.parse(path)
        tree.getroot().find("parent/name").text = args[0]
        tree.write(path)
    elif cmd == "add-description":
        tree = ET.parse(path)
        description = ET.Element("description")
        description.text = args[0]
        tree.getroot().insert(1, description)
        tree.write(path)
    elif cmd == "disk-size":
        for disk in ET.parse(path).getroot().findall("disks/disk"):
            if disk.get("name") == args[0] and disk.get("size", "").isdigit():
                print(disk.get("size"))
                break
        else:
            raise SystemExit("%s: no size for disk %s" % (path, args[0]))
    else:
        raise SystemExit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
