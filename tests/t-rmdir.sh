#!/bin/sh
# rmdir deletes a checkpoint: leaves, middles (children move up), roots,
# subtrees with find -depth, retention by age, and what it refuses
# (issue 2, "rmdir deletes a checkpoint").
. "$TESTS_SRC/lib.sh"

# ---- helpers shared by the checkpoint tests (t-mkdir, t-rmdir, t-node-domains,
# t-concurrency); kept in each file because lib.sh belongs to everyone.

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
# ---- end of helpers

cpfs_mount test:///default
D=$MNT/test
[ "$(cpx count "$D")" = 0 ] || fail "test:///default starts with checkpoints"

# build DIR NAME...: a chain of new checkpoints below DIR (each checked by mk).
build() {
    b_dir=$1; shift
    if [ "$b_dir" = "$D" ]; then b_parent=; else b_parent=$(basename "$b_dir"); fi
    for b_name; do
        mk "$b_dir/$b_name" "$b_parent"
        b_dir=$b_dir/$b_name
        b_parent=$b_name
    done
}
# expect_tree WHAT: the checkpoint directories below $D, relative and sorted.
expect_tree() {
    e_got=$(cpx tree "$D")
    [ "$e_got" = "$1" ] || bad "tree is '$e_got', expected '$1'"
}
# clear_domain: removes every checkpoint with the documented one-liner.
clear_domain() {
    find "$D" -mindepth 1 -depth -type d -exec rmdir {} + ||
        bad "find -depth -exec rmdir on the whole domain failed"
    [ "$(cpx count "$D")" = 0 ] || bad "checkpoints left after removing them all: $(cpx tree "$D")"
}

# --- rmdir of a leaf.
build "$D" a b c d
rmdir "$D/a/b/c/d" || bad "rmdir of the leaf failed"
[ "$(errno_of lstat "$D/a/b/c/d")" = ENOENT ] || bad "the deleted leaf is still there"
[ "$(ls "$D/a/b/c")" = xml ] || bad "the deleted leaf's parent lists '$(ls "$D/a/b/c" | tr '\n' ' ')'"
expect_tree "a a/b a/b/c"
check_tree "$D" chain
expect_errno ENOENT rmdir "$D/a/b/c/d"
section "rmdir of a leaf deletes it; again gives ENOENT"

# Deleting the leaf made its parent libvirt's current checkpoint.
mk "$D/a/b/c/d2" c
section "after deleting the leaf, mkdir in its parent works"

# --- rmdir of a middle checkpoint: its directory holds xml and a child.
[ "$(ls "$D/a/b")" = "c
xml" ] || bad "a/b does not hold c and xml"
rmdir "$D/a/b" || bad "rmdir of a middle checkpoint failed"
expect_tree "a a/c a/c/d2"
[ "$(cpx get "$D/a/c" parent)" = a ] || bad "c moved up but its xml names parent '$(cpx get "$D/a/c" parent)'"
[ "$(cpx get "$D/a/c/d2" parent)" = c ] || bad "d2's xml names parent '$(cpx get "$D/a/c/d2" parent)'"
[ "$(errno_of lstat "$D/a/b/c")" = ENOENT ] || bad "the old path a/b/c still resolves"
expect_errno ENOENT rmdir "$D/a/b"
expect_errno ENOENT rmdir "$D/a/b/c"
check_tree "$D" chain
section "rmdir of a middle checkpoint deletes it and its children move up"

# The leaf stayed libvirt's current checkpoint: mkdir goes there, not in the middle.
mk "$D/a/c/d2/e" d2
expect_errno EPERM mkdir "$D/a/c/f"
expect_tree "a a/c a/c/d2 a/c/d2/e"

# --- rmdir of a root with children: they become roots.
rmdir "$D/a" || bad "rmdir of a root with children failed"
expect_tree "c c/d2 c/d2/e"
[ "$(cpx get "$D/c" parent)" = "" ] || bad "c is a root but its xml names parent '$(cpx get "$D/c" parent)'"
check_tree "$D" chain
section "rmdir of a root makes its children roots"

# --- EPERM on a domain directory; the domain stays.
log_mark
expect_errno EPERM rmdir "$D"
log_new_has "test" || bad "rmdir of a domain directory logged nothing"
[ "$(ls "$MNT")" = test ] || bad "the mount root lists '$(ls "$MNT" | tr '\n' ' ')' after rmdir of the domain"
rmdir "$D" 2>/dev/null && bad "shell rmdir of a domain directory succeeded"
expect_tree "c c/d2 c/d2/e"
expect_errno ENOTDIR rmdir "$D/xml"
expect_errno ENOTDIR rmdir "$D/c/xml"
section "EPERM on a domain directory"

# --- the current-checkpoint rule after deletes: a->b->c, rmdir c, then b is
# where mkdir goes and a refuses.
clear_domain
build "$D" a b c
rmdir "$D/a/b/c" || bad "rmdir a/b/c failed"
mk "$D/a/b/n" b
before=$(cpx tree "$D")
expect_errno EPERM mkdir "$D/a/m"
[ "$(cpx tree "$D")" = "$before" ] || bad "refused mkdir a/m changed the tree"
# Deleting back to a makes a current again.
rmdir "$D/a/b/n" && rmdir "$D/a/b" || bad "rmdir back to a failed"
mk "$D/a/m" a
expect_tree "a a/m"
check_tree "$D" chain
section "after deletes, mkdir works in the new leaf and EPERM above it"

# --- a whole subtree with find -depth -exec rmdir {} +.
clear_domain
build "$D" x1 x2 x3 x4 x5
err=$(find "$D/x1/x2/x3" -depth -type d -exec rmdir {} + 2>&1) || bad "find -depth -exec rmdir failed: $err"
[ -z "$err" ] || bad "find -depth -exec rmdir said: $err"
expect_tree "x1 x1/x2"
mk "$D/x1/x2/y" x2
check_tree "$D" chain
section "find DIR -depth -type d -exec rmdir {} + removes the subtree and leaves the rest"

# --- rm -rf fails on xml (EPERM) and the checkpoint survives.
before=$(cpx tree "$D")
if err=$(rm -rf "$D/x1/x2/y" 2>&1); then bad "rm -rf of a leaf checkpoint succeeded"; fi
echo "$err" | grep -q 'Operation not permitted' || bad "rm -rf did not report EPERM: $err"
if err=$(rm -rf "$D/x1" 2>&1); then bad "rm -rf of a root checkpoint succeeded"; fi
echo "$err" | grep -q 'Operation not permitted' || bad "rm -rf did not report EPERM: $err"
expect_errno EPERM unlink "$D/x1/x2/y/xml"
expect_errno EPERM unlink "$D/xml"
[ "$(cpx tree "$D")" = "$before" ] || bad "rm -rf changed the tree to '$(cpx tree "$D")'"
cat "$D/x1/x2/y/xml" >/dev/null || bad "y/xml unreadable after rm -rf"
section "rm -rf fails with EPERM and the checkpoints survive"

# --- retention by age: directories carry the checkpoint's creation time.
clear_domain
build "$D" old1 old2
t_old=$(cpx get "$D/old1/old2" created)
wait_until 5 sh -c '[ "$(date +%s)" -gt "$1" ]' sh "$t_old" || fail "the clock does not move"
REF=$SCRATCH/ref
touch "$REF"
t_ref=$(date +%s)
wait_until 5 sh -c '[ "$(date +%s)" -gt "$1" ]' sh "$t_ref" || fail "the clock does not move"
build "$D/old1/old2" new1 new2
[ "$(stat -c %Y "$D/old1")" = "$(cpx get "$D/old1" created)" ] || bad "old1's mtime is not its creationTime"
[ "$(stat -c %Y "$D/old1/old2/new1/new2/xml")" = "$(cpx get "$D/old1/old2/new1/new2" created)" ] ||
    bad "new2/xml's mtime is not its creationTime"
[ "$(find "$D" -mindepth 1 -type d -mtime -1 | wc -l)" = 4 ] || bad "find -mtime -1 does not list the 4 checkpoints"
[ "$(find "$D" -mindepth 1 -type d -mtime +0 | wc -l)" = 0 ] || bad "find -mtime +0 lists new checkpoints"
[ "$(find "$D" -mindepth 1 -type d ! -newer "$REF" | wc -l)" = 2 ] || bad "find ! -newer does not list the 2 old checkpoints"
find "$D" -mindepth 1 -depth -type d -mtime +7 -exec rmdir {} + || bad "retention with nothing to drop failed"
expect_tree "old1 old1/old2 old1/old2/new1 old1/old2/new1/new2"
err=$(find "$D" -mindepth 1 -depth -type d ! -newer "$REF" -exec rmdir {} + 2>&1) || bad "retention failed: $err"
[ -z "$err" ] || bad "retention said: $err"
expect_tree "new1 new1/new2"
[ "$(cpx get "$D/new1" parent)" = "" ] || bad "new1 kept as the oldest but its xml names a parent"
check_tree "$D" chain
section "retention by age with find -depth ... -exec rmdir"

# --- all of it reached libvirt: once the cache has expired the listing is
# libvirt's own; and the leaf is still libvirt's current checkpoint.
when_cache_expired
expect_tree "new1 new1/new2"
mk "$D/new1/new2/last" new2
check_tree "$D" chain
section "libvirt agrees after the cache expired"

finish
