#!/bin/sh
# mkdir creates a checkpoint: where it may, what it refuses with which errno,
# and that a refusal leaves nothing behind (issue 2, "mkdir creates a checkpoint").
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

# ===================== test:///default: domain "test" =====================
cpfs_mount test:///default
D=$MNT/test
[ "$(cpx count "$D")" = 0 ] || fail "test:///default starts with checkpoints"

# --- mkdir in an empty domain directory makes a root checkpoint; the mode
# argument (0700) is ignored; directory and xml are there when mkdir returns.
mk "$D/first" ""
section "mkdir in an empty domain makes a root checkpoint, there at once, mode 0755"

# --- mkdir in the leaf makes a child (syscall with mode 0700, then shell tools).
mk "$D/first/second" first
mkdir "$D/first/second/third" || fail "mkdir in the leaf failed"
st=$(stat -c '%F %a' "$D/first/second/third") || fail "stat right after mkdir failed"
[ "$st" = "directory 755" ] || bad "new checkpoint directory is '$st'"
[ "$(cpx get "$D/first/second/third" parent)" = second ] ||
    bad "third's xml does not name 'second' as its parent"
ls "$D/first/second" | grep -qx third || bad "ls of the leaf's parent does not show the new child"
section "mkdir in the leaf makes a child"

# coreutils' mkdir -m chmods after a mode-ignoring mkdir (chmod is EPERM):
# whatever its exit status, the checkpoint exists with 0755.
mkdir -m 700 "$D/first/second/third/fourth" 2>/dev/null || true
[ "$(stat -c '%a' "$D/first/second/third/fourth" 2>/dev/null)" = 755 ] ||
    bad "mkdir -m 700: no 0755 directory"
[ "$(cpx get "$D/first/second/third/fourth" parent)" = third ] ||
    bad "fourth's xml does not name 'third' as its parent"
section "mkdir -m 700 still gives 0755"
LEAF=$D/first/second/third/fourth
check_tree "$D" chain

# refused ERRNO PATH [LOGREGEX]: mkdir PATH fails with ERRNO, creates no
# checkpoint in domain directory $D, and (with LOGREGEX) logs a new line.
refused() {
    r_before=$(cpx names "$D")
    log_mark
    r_got=$(errno_of mkdir "$2")
    [ "$r_got" = "$1" ] || bad "mkdir '$2' gave $r_got, expected $1"
    r_after=$(cpx names "$D")
    [ "$r_after" = "$r_before" ] || bad "mkdir '$2' changed the checkpoints: '$r_before' -> '$r_after'"
    if [ "$1" != EEXIST ] && [ "$(errno_of lstat "$2")" != ENOENT ]; then
        bad "'$2' exists after mkdir was refused"
    fi
    if [ $# -ge 3 ]; then
        log_new_has "$3" || bad "mkdir '$2' ($1) logged no line matching /$3/"
    fi
}

# --- EEXIST: the name exists elsewhere in the domain, or is "xml".
refused EEXIST "$LEAF/first" "first"
refused EEXIST "$LEAF/second" "second"
refused EEXIST "$LEAF/fourth" "fourth"     # the leaf's own name
refused EEXIST "$D/first/second" # same directory: the kernel answers itself
refused EEXIST "$LEAF/xml"
refused EEXIST "$D/xml"
section "EEXIST for a name used anywhere in the domain and for 'xml'"

# --- EINVAL, before libvirt is asked: libvirt's own refusal would log its
# schema message, and our log must name the refused mkdir.
for name in .x .hidden 'a b' 'é' 'a*' 'a:b' 'a@b' "a'b" 'a"b' '<x>' 'a&b' 'a\b' \
            "$(printf 'a\tb')" "$(printf 'na\357\277\275me')" 'a+b' '~a' 'a,b'; do
    refused EINVAL "$LEAF/$name" "mkdir|refused|invalid|name"
    if log_new | grep -q 'validate against schema'; then
        bad "mkdir '$name' reached libvirt (schema error logged)"
    fi
done
section "EINVAL for invalid names, nothing created"

# Names the rule allows, including a leading '-' or '_' and inner dots.
for name in - _x a. 9.9 A-Z_0.9; do
    mk "$LEAF/$name" "$(basename "$LEAF")"
    LEAF=$LEAF/$name
done
section "names starting with '-' or '_' or holding dots are accepted"

# --- 247 bytes is the longest name; 248 and more give ENAMETOOLONG.
long247=L$(printf '%0246d' 0)
long248=L$(printf '%0247d' 0)
long300=L$(printf '%0299d' 0)
[ ${#long247} -eq 247 ] && [ ${#long248} -eq 248 ] || fail "bad name lengths"
refused ENAMETOOLONG "$LEAF/$long248" "mkdir|refused|long|247"
refused ENAMETOOLONG "$LEAF/$long300" "mkdir|refused|long|247"
mk "$LEAF/$long247" "$(basename "$LEAF")"
LEAF=$LEAF/$long247
section "a 247-byte name works, 248 bytes give ENAMETOOLONG"

# --- EPERM where libvirt would not make the directory the parent.
refused EPERM "$MNT/newdomain" "newdomain"
[ "$(ls "$MNT")" = test ] || bad "mount root lists '$(ls "$MNT" | tr '\n' ' ')'"
refused EPERM "$D/another-root" "another-root"
refused EPERM "$D/first/mid" "mid"
refused EPERM "$D/first/second/mid2" "mid2"
section "EPERM at the mount root, in the domain directory and in middle checkpoints"

# Nothing above left anything in libvirt: once the cache has expired the
# listing is libvirt's own, and the leaf is still where mkdir goes.
expect="- 9.9 A-Z_0.9 _x a. first fourth $long247 second third"
expect=$(printf '%s\n' $expect | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
when_cache_expired
got=$(cpx names "$D" | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$expect" ] || bad "libvirt holds '$got', expected '$expect'"
for name in another-root mid mid2; do
    [ "$(errno_of lstat "$D/$name")" = ENOENT ] || bad "'$name' exists after a refused mkdir"
done
# The refused valid names were never created: they can be used in the leaf.
mk "$LEAF/mid" "$long247"
mk "$LEAF/mid/another-root" mid
check_tree "$D" chain
section "failed mkdirs left nothing behind"

cpfs_umount

# ========== node.xml: a shut-off domain; one name in two domains ==========
cpfs_mount "test://$TESTS_SRC/data/node.xml"
[ -d "$MNT/gamma-off" ] || fail "node.xml mount has no gamma-off"
G=$MNT/gamma-off
log_mark
got=$(errno_of mkdir "$G/g1")
[ "$got" = ENOTSUP ] || bad "mkdir on shut-off gamma-off gave $got, expected ENOTSUP"
log_new_has "inactive domain" || bad "ENOTSUP on gamma-off did not log libvirt's message"
[ "$(errno_of lstat "$G/g1")" = ENOENT ] || bad "gamma-off/g1 exists after ENOTSUP"
[ "$(cpx count "$G")" = 0 ] || bad "gamma-off has checkpoints after ENOTSUP"
section "ENOTSUP on a shut-off domain, with libvirt's message logged"

mk "$MNT/alpha/same" ""
mk "$MNT/beta/same" ""
mk "$MNT/alpha/same/next" same
mk "$MNT/beta/same/next" same
[ "$(cpx get "$MNT/alpha/same" domain)" = alpha ] || bad "alpha/same describes another domain"
[ "$(cpx get "$MNT/beta/same" domain)" = beta ] || bad "beta/same describes another domain"
D=$MNT/alpha
refused EEXIST "$MNT/alpha/same/next/same" "same"
check_tree "$MNT/alpha" chain
check_tree "$MNT/beta" chain
when_cache_expired
[ "$(cpx count "$G")" = 0 ] || bad "gamma-off holds a checkpoint in libvirt after ENOTSUP"
[ "$(cpx tree "$MNT/alpha")" = "same same/next" ] || bad "alpha holds '$(cpx tree "$MNT/alpha")'"
[ "$(cpx tree "$MNT/beta")" = "same same/next" ] || bad "beta holds '$(cpx tree "$MNT/beta")'"
section "the same name in two domains"

finish
