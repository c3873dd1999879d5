#!/usr/bin/env python3
"""Checks of checkpoint directories through the mount, in one process with
no caching of its own (lib-checkpoints.sh's cpx, mk and check_tree).

usage: checkpoints.py CMD ARGS
  get DIR FIELD        print a field of DIR/xml (name parent created domain disks)
  count DOMDIR         print the number of checkpoint directories
  names DOMDIR         print their names, sorted, on one line
  tree DOMDIR          print their paths relative to DOMDIR, sorted, on one line
  leaf DOMDIR          print the end of the chain (fails where it branches)
  check DOMDIR         every checkpoint directory agrees with its own xml and
                       the man page: name, domain, parent, modes, size, mtime
                       = creationTime, nlink, only xml besides the children
  check-chain DOMDIR   check, and the tree must be a chain
  mk PATH PARENT       mkdir PATH (mode 0700), then at once: a 0755 directory
                       holding only xml, whose size is exact, that names it and
                       PARENT ("" for a root), listed in its parent
  walkread DIR         parse every xml below DIR (ENOENT is fine: a reader
                       racing deletions)
Exits 1 with the problems on stdout when a check fails.
"""
import os
import stat
import sys
import xml.etree.ElementTree as ET

from common import NotAChain, checkpoint_doc, doc_field, errno_name, leaf, subdirs


def walk(dom):
    """(path, parent name or '') of every checkpoint directory, top down."""
    out, todo = [], [(dom, "")]
    while todo:
        d, pname = todo.pop()
        for s in subdirs(d):
            p = os.path.join(d, s)
            out.append((p, pname))
            todo.append((p, s))
    return out


def check_one(path, pname, dom, chain):
    """The problems of one checkpoint directory."""
    errs = []
    name = os.path.basename(path)
    try:
        st = os.stat(path)
        xst = os.stat(os.path.join(path, "xml"))
        data, root = checkpoint_doc(path)
    except OSError as e:
        return ["%s: %s" % (path, e)]
    if doc_field(root, "name") != name:
        errs.append("%s: xml names %r" % (path, doc_field(root, "name")))
    if doc_field(root, "domain") != os.path.basename(dom):
        errs.append("%s: xml describes domain %r" % (path, doc_field(root, "domain")))
    if doc_field(root, "parent") != pname:
        errs.append("%s: xml parent %r, directory parent %r"
                    % (path, doc_field(root, "parent"), pname))
    if stat.S_IMODE(st.st_mode) != 0o755 or not stat.S_ISDIR(st.st_mode):
        errs.append("%s: mode %o" % (path, st.st_mode))
    if stat.S_IMODE(xst.st_mode) != 0o444 or not stat.S_ISREG(xst.st_mode):
        errs.append("%s/xml: mode %o" % (path, xst.st_mode))
    if xst.st_size != len(data):
        errs.append("%s/xml: size %d, read %d bytes" % (path, xst.st_size, len(data)))
    created = doc_field(root, "created")
    if not created.isdigit() or int(st.st_mtime) != int(created):
        errs.append("%s: mtime %d, creationTime %r" % (path, st.st_mtime, created))
    kids = subdirs(path)
    if st.st_nlink != 2 + len(kids):
        errs.append("%s: nlink %d with %d subdirectories" % (path, st.st_nlink, len(kids)))
    others = sorted(set(os.listdir(path)) - set(kids))
    if others != ["xml"]:
        errs.append("%s: files %r" % (path, others))
    if chain and len(kids) > 1:
        errs.append("%s: %d children in what must be a chain" % (path, len(kids)))
    return errs


def check(dom, chain):
    """Every checkpoint directory agrees with its own xml and the spec."""
    errs, seen = [], {}
    if "xml" not in os.listdir(dom):
        errs.append(dom + ": no xml")
    for path, pname in walk(dom):
        name = os.path.basename(path)
        if name in seen:
            errs.append("%s: name also at %s" % (path, seen[name]))
        seen[name] = path
        errs += check_one(path, pname, dom, chain)
    if chain and len(subdirs(dom)) > 1:
        errs.append("%s: %d roots in what must be a chain" % (dom, len(subdirs(dom))))
    return errs


def mk(path, want_parent):
    """mkdir PATH, then the problems seen at once ([] when none)."""
    d, name = os.path.split(path)
    try:
        os.mkdir(path, 0o700)
    except OSError as e:
        return ["mkdir: " + errno_name(e)]
    errs = []
    try:
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o755:
            errs.append("mode %o, expected a 0755 directory" % st.st_mode)
        xst = os.stat(os.path.join(path, "xml"))
        data, root = checkpoint_doc(path)
        if xst.st_size != len(data):
            errs.append("xml size %d, read %d bytes" % (xst.st_size, len(data)))
        if doc_field(root, "name") != name:
            errs.append("xml names %r" % doc_field(root, "name"))
        if doc_field(root, "parent") != want_parent:
            errs.append("xml parent %r, expected %r" % (doc_field(root, "parent"), want_parent))
        if name not in os.listdir(d):
            errs.append("not listed in " + d)
        if sorted(os.listdir(path)) != ["xml"]:
            errs.append("new directory holds %r" % sorted(os.listdir(path)))
    except OSError as e:
        errs.append("right after mkdir: %s" % e)
    return errs


def walkread(top_dir):
    """Parses every xml below TOP_DIR; 1 when one failed otherwise than ENOENT."""
    bad = 0
    for top, _dirs, files in os.walk(top_dir):
        for f in files:
            try:
                with open(os.path.join(top, f), "rb") as h:
                    ET.fromstring(h.read())
            except FileNotFoundError:
                pass
            except (OSError, ET.ParseError) as e:
                print("%s: %s" % (os.path.join(top, f), e), file=sys.stderr)
                bad = 1
    return bad


def report(errs):
    for e in errs:
        print(e)
    return 1 if errs else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "get":
        print(doc_field(checkpoint_doc(args[0])[1], args[1]))
    elif cmd == "count":
        print(len(walk(args[0])))
    elif cmd == "names":
        print(" ".join(sorted(os.path.basename(p) for p, _ in walk(args[0]))))
    elif cmd == "tree":
        print(" ".join(sorted(os.path.relpath(p, args[0]) for p, _ in walk(args[0]))))
    elif cmd == "leaf":
        try:
            print(leaf(args[0]))
        except NotAChain as e:
            raise SystemExit("%s: not a chain (%r)" % (e.path, e.kids))
    elif cmd in ("check", "check-chain"):
        return report(check(args[0], cmd == "check-chain"))
    elif cmd == "mk":
        return report(mk(*args))
    elif cmd == "walkread":
        return walkread(args[0])
    else:
        raise SystemExit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
