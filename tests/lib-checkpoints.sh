# Helpers shared by the checkpoint tests (t-mkdir, t-rmdir, t-node-domains,
# t-concurrency): source after lib.sh.

# Run python by its real path: a version manager's shim (pyenv) costs a lot
# per call, and these tests make hundreds of calls (errno_of included).
PY_REAL=$(python3 -c 'import sys; print(sys.executable)') || fail "no python3"
mkdir -p "$SCRATCH/bin" && ln -sf "$PY_REAL" "$SCRATCH/bin/python3"
PATH=$SCRATCH/bin:$PATH

BAD=0
# bad MSG: records a failed check and goes on, so that one bug does not hide
# the next; finish turns any into a failure.
bad() { echo "FAIL: $*" >&2; BAD=$((BAD + 1)); }
# section MSG: reports the checks since the previous section.
BAD_SEEN=0
section() {
    if [ "$BAD" -gt "$BAD_SEEN" ]; then echo "not ok - $*"; else pass "$@"; fi
    BAD_SEEN=$BAD
}
finish() {
    cpfs_umount
    [ "$BAD" -eq 0 ] || fail "$BAD check(s) failed (see FAIL lines above)"
    pass "all checks"
}

# log_mark / log_new_has REGEX: a line matching REGEX appeared in the daemon
# log after the last log_mark (waits up to 5 s: another process writes it).
log_mark() { LOGMARK=$(wc -l <"$LOG"); }
log_new() { tail -n +"$((LOGMARK + 1))" "$LOG"; }
log_new_has() {
    wait_until 5 sh -c 'tail -n +"$1" "$2" | grep -qE -- "$3"' sh "$((LOGMARK + 1))" "$LOG" "$1"
}

# cpx: checks of checkpoint directories through the mount (python, one
# process, no caching of its own).
CPX=$SCRATCH/cpx.py
cat >"$CPX" <<'PY'
import errno, os, stat, sys
import xml.etree.ElementTree as ET

def doc(d):
    with open(os.path.join(d, "xml"), "rb") as f:
        data = f.read()
    return data, ET.fromstring(data)

def field(root, what):
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

def subdirs(d):
    return sorted(e.name for e in os.scandir(d) if e.is_dir(follow_symlinks=False))

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

def check(dom, chain):
    """Every checkpoint directory agrees with its own xml and the spec."""
    errs, seen = [], {}
    dst = os.stat(dom)
    entries = sorted(os.listdir(dom))
    if "xml" not in entries:
        errs.append(dom + ": no xml")
    for path, pname in walk(dom):
        name = os.path.basename(path)
        try:
            st = os.stat(path)
            xst = os.stat(os.path.join(path, "xml"))
            data, root = doc(path)
        except OSError as e:
            errs.append("%s: %s" % (path, e))
            continue
        if name in seen:
            errs.append("%s: name also at %s" % (path, seen[name]))
        seen[name] = path
        if field(root, "name") != name:
            errs.append("%s: xml names %r" % (path, field(root, "name")))
        if field(root, "domain") != os.path.basename(dom):
            errs.append("%s: xml describes domain %r" % (path, field(root, "domain")))
        if field(root, "parent") != pname:
            errs.append("%s: xml parent %r, directory parent %r"
                        % (path, field(root, "parent"), pname))
        if stat.S_IMODE(st.st_mode) != 0o755 or not stat.S_ISDIR(st.st_mode):
            errs.append("%s: mode %o" % (path, st.st_mode))
        if stat.S_IMODE(xst.st_mode) != 0o444 or not stat.S_ISREG(xst.st_mode):
            errs.append("%s/xml: mode %o" % (path, xst.st_mode))
        if xst.st_size != len(data):
            errs.append("%s/xml: size %d, read %d bytes" % (path, xst.st_size, len(data)))
        created = field(root, "created")
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
    if chain and len(subdirs(dom)) > 1:
        errs.append("%s: %d roots in what must be a chain" % (dom, len(subdirs(dom))))
    return errs

def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "get":                     # get DIR FIELD
        print(field(doc(args[0])[1], args[1]))
    elif cmd == "count":                 # count DOMDIR
        print(len(walk(args[0])))
    elif cmd == "names":                 # names DOMDIR: sorted names, one line
        print(" ".join(sorted(os.path.basename(p) for p, _ in walk(args[0]))))
    elif cmd == "tree":                  # tree DOMDIR: relative paths, sorted
        print(" ".join(sorted(os.path.relpath(p, args[0]) for p, _ in walk(args[0]))))
    elif cmd == "leaf":                  # leaf DOMDIR: the end of the chain
        d = args[0]
        while True:
            k = subdirs(d)
            if len(k) > 1:
                raise SystemExit("%s: not a chain (%r)" % (d, k))
            if not k:
                break
            d = os.path.join(d, k[0])
        print(d)
    elif cmd in ("check", "check-chain"):  # check DOMDIR
        errs = check(args[0], cmd == "check-chain")
        for e in errs:
            print(e)
        return 1 if errs else 0
    elif cmd == "mk":                    # mk PATH PARENTNAME: mkdir, then look at once
        path, want_parent = args
        d, name = os.path.split(path)
        try:
            os.mkdir(path, 0o700)
        except OSError as e:
            print("mkdir: " + errno.errorcode.get(e.errno, str(e.errno)))
            return 1
        errs = []
        try:
            st = os.stat(path)
            if not stat.S_ISDIR(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o755:
                errs.append("mode %o, expected a 0755 directory" % st.st_mode)
            xst = os.stat(os.path.join(path, "xml"))
            data, root = doc(path)
            if xst.st_size != len(data):
                errs.append("xml size %d, read %d bytes" % (xst.st_size, len(data)))
            if field(root, "name") != name:
                errs.append("xml names %r" % field(root, "name"))
            if field(root, "parent") != want_parent:
                errs.append("xml parent %r, expected %r" % (field(root, "parent"), want_parent))
            if name not in os.listdir(d):
                errs.append("not listed in " + d)
            if sorted(os.listdir(path)) != ["xml"]:
                errs.append("new directory holds %r" % sorted(os.listdir(path)))
        except OSError as e:
            errs.append("right after mkdir: %s" % e)
        for e in errs:
            print(e)
        return 1 if errs else 0
    elif cmd == "walkread":              # walkread DIR: parse every xml; ENOENT is fine
        bad = 0
        for top, dirs, files in os.walk(args[0]):
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
    else:
        raise SystemExit("unknown command " + cmd)
    return 0

sys.exit(main())
PY
cpx() { python3 "$CPX" "$@"; }

# mk PATH PARENT: mkdir must succeed, and the directory, its xml (naming
# PARENT as parent; empty for a root) and the listing entry be there at once.
mk() {
    out=$(cpx mk "$1" "$2") || fail "mkdir $1: $out"
}

# check_tree DOMDIR [chain]: the whole tree agrees with the xml files.
check_tree() {
    out=$(cpx "check${2:+-chain}" "$1") || bad "tree of $1: $out"
}

# when_cache_expired: returns once the daemon must have re-read libvirt
# (cache_timeout is 1 s by default), so listings then show libvirt's truth.
when_cache_expired() {
    t_exp=$(( $(date +%s%N) + 1200000000 ))
    wait_until 5 sh -c '[ "$(date +%s%N)" -gt "$1" ]' sh "$t_exp"
}
