"""Shared pieces of the test helpers: errno names, checkpoint directories
and their xml documents, read through the mount with no caching of our own.

Every helper in this folder is a script run by a shell test as
`"$PYTHON" "$TESTS_SRC/helpers/NAME.py" ARGS` (plain python3, stdlib only);
its folder is on sys.path then, so `import common` works.
"""
import errno
import os
import xml.etree.ElementTree as ET


def errno_name(err):
    """The errno name of an OSError (or of an errno number), e.g. "EPERM"."""
    number = err.errno if isinstance(err, OSError) else err
    return errno.errorcode.get(number, str(number))


def subdirs(path):
    """The names of the directories in PATH (the child checkpoints), sorted."""
    return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))


class NotAChain(Exception):
    """A directory on the way down holds more than one child checkpoint."""

    def __init__(self, path, kids):
        super().__init__(path, kids)
        self.path, self.kids = path, kids


def leaf(domain_dir):
    """The end of the domain's chain: the directory without child
    checkpoints; raises NotAChain where the tree branches."""
    path = domain_dir
    while True:
        kids = subdirs(path)
        if len(kids) > 1:
            raise NotAChain(path, kids)
        if not kids:
            return path
        path = os.path.join(path, kids[0])


def checkpoint_doc(path):
    """(bytes, parsed root element) of the xml file in directory PATH."""
    with open(os.path.join(path, "xml"), "rb") as f:
        data = f.read()
    return data, ET.fromstring(data)


def doc_field(root, what):
    """One field of a checkpoint document: name, parent ("" for a root),
    created (creationTime), domain (the embedded domain's name) or disks
    (the disk names, sorted, space separated)."""
    if what == "name":
        return root.findtext("name") or ""
    if what == "parent":
        return root.findtext("parent/name") or ""
    if what == "created":
        return root.findtext("creationTime") or ""
    if what == "domain":
        return root.findtext("domain/name") or ""
    if what == "disks":
        return " ".join(sorted(d.get("name") for d in root.findall("disks/disk")))
    raise SystemExit("unknown field " + what)


def parent_in_xml(path):
    """The parent named by the xml in directory PATH, "" for a root."""
    return doc_field(checkpoint_doc(path)[1], "parent")
