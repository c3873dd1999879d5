#!/bin/sh
# Coherence and concurrency: readers during mkdir/rmdir see only ENOENT,
# parallel mkdirs are serialized (one winner, one chain), changes in different
# directories and domains at once do not interfere, the daemon stays up.
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

# race.py: rounds of syscalls started together (a barrier) in several
# processes, with what each round may and may not produce.
RACE=$SCRATCH/race.py
cat >"$RACE" <<'PY'
import errno, os, sys
import multiprocessing as mp
import xml.etree.ElementTree as ET

ctx = mp.get_context("fork")

def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno))

def subdirs(d):
    return sorted(e.name for e in os.scandir(d) if e.is_dir(follow_symlinks=False))

def leaf(dom):
    d = dom
    while True:
        k = subdirs(d)
        if len(k) > 1:
            raise SystemExit("%s: branches %r, expected a chain" % (d, k))
        if not k:
            return d
        d = os.path.join(d, k[0])

def parent_in_xml(d):
    with open(os.path.join(d, "xml"), "rb") as f:
        return ET.fromstring(f.read()).findtext("parent/name") or ""

def together(actions):
    """Runs each action in its own process, all released at once; returns
    "OK" or the errno name for each."""
    barrier = ctx.Barrier(len(actions))
    q = ctx.Queue()

    def worker(i, fn):
        try:
            barrier.wait(timeout=30)
        except Exception:
            q.put((i, "BARRIER"))
            return
        try:
            fn()
            q.put((i, "OK"))
        except OSError as e:
            q.put((i, ename(e)))

    procs = [ctx.Process(target=worker, args=(i, fn)) for i, fn in enumerate(actions)]
    for p in procs:
        p.start()
    res = [None] * len(actions)
    for _ in actions:
        i, r = q.get(timeout=60)
        res[i] = r
    for p in procs:
        p.join(60)
    return res

def mkdir_at(path):
    return lambda: os.mkdir(path, 0o755)

ERRS = []

def bad(msg):
    print("FAIL: " + msg, file=sys.stderr)
    ERRS.append(msg)

def expect_new_leaf(dom, old_leaf, name):
    new = leaf(dom)
    if new != os.path.join(old_leaf, name):
        bad("after %s won, the leaf is %s" % (name, new))
    elif parent_in_xml(new) != ("" if old_leaf == dom else os.path.basename(old_leaf)):
        bad("%s: xml parent %r, directory %s" % (new, parent_in_xml(new), old_leaf))

def distinct(dom, prefix, rounds, n):
    """n distinct names at once in the leaf: one wins, the rest get EPERM."""
    for r in range(rounds):
        L = leaf(dom)
        names = ["%s%d_%d" % (prefix, r, i) for i in range(n)]
        res = together([mkdir_at(os.path.join(L, x)) for x in names])
        won = [x for x, v in zip(names, res) if v == "OK"]
        lost = sorted(set(v for v in res if v != "OK"))
        if len(won) != 1 or not set(lost) <= {"EPERM"}:
            bad("round %d in %s: %r" % (r, L, list(zip(names, res))))
        if len(won) == 1:
            expect_new_leaf(dom, L, won[0])

def same(dom, prefix, rounds, n):
    """n mkdirs of one name at once in the leaf: one wins, the rest EEXIST."""
    for r in range(rounds):
        L = leaf(dom)
        name = "%s%d" % (prefix, r)
        res = together([mkdir_at(os.path.join(L, name)) for _ in range(n)])
        if res.count("OK") != 1 or set(res) != {"OK", "EEXIST"} and n > 1:
            bad("round %d in %s: %r" % (r, L, res))
        if res.count("OK") == 1:
            expect_new_leaf(dom, L, name)

def mixed(dom, prefix, rounds):
    """Changes at once in different directories of one domain, which the
    kernel does not serialize: the daemon must."""
    for r in range(rounds):
        L = leaf(dom)
        n = ["%s%d%s" % (prefix, r, c) for c in "abcde"]
        d = L
        for x in n:
            os.mkdir(os.path.join(d, x), 0o755)
            d = os.path.join(d, x)
        a = os.path.join(L, n[0])
        b = os.path.join(a, n[1])
        c = os.path.join(b, n[2])
        dd = os.path.join(c, n[3])
        e = os.path.join(dd, n[4])
        fd_l = os.open(L, os.O_RDONLY | os.O_DIRECTORY)
        fd_b = os.open(b, os.O_RDONLY | os.O_DIRECTORY)
        fd_e = os.open(e, os.O_RDONLY | os.O_DIRECTORY)
        x = prefix + str(r) + "x"
        res = together([
            lambda: os.rmdir(n[0], dir_fd=fd_l),          # a root or middle
            lambda: os.rmdir(n[2], dir_fd=fd_b),          # a middle further down
            lambda: os.mkdir(x, 0o755, dir_fd=fd_e),       # in the leaf
            lambda: os.listdir(c),                         # a reader on the way
        ])
        for fd in (fd_l, fd_b, fd_e):
            os.close(fd)
        if res[:3] != ["OK", "OK", "OK"] or res[3] not in ("OK", "ENOENT"):
            bad("round %d below %s: rmdir a, rmdir c, mkdir e/x, ls c gave %r" % (r, L, res))
        want = [os.path.join(L, n[1]), os.path.join(L, n[1], n[3]),
                os.path.join(L, n[1], n[3], n[4]), os.path.join(L, n[1], n[3], n[4], x)]
        got, d = [], L
        while subdirs(d):
            k = subdirs(d)
            if len(k) != 1:
                bad("round %d: %s holds %r" % (r, d, k))
                break
            d = os.path.join(d, k[0])
            got.append(d)
        if got != want:
            bad("round %d: chain below %s is %r, expected %r" % (r, L, got, want))
            return
        for path in want:
            p = os.path.dirname(path)
            if parent_in_xml(path) != ("" if p == dom else os.path.basename(p)):
                bad("round %d: %s: xml parent %r" % (r, path, parent_in_xml(path)))
        # Back to one new checkpoint per round: drop the middles.
        for path in reversed(want[:3]):
            os.rmdir(path)

def main():
    cmd, dom, prefix = sys.argv[1:4]
    args = [int(v) for v in sys.argv[4:]]
    {"distinct": distinct, "same": same, "mixed": mixed}[cmd](dom, prefix, *args)
    return 1 if ERRS else 0

sys.exit(main())
PY
race() { python3 "$RACE" "$@"; }

# readers DIR SECONDS: starts reader loops (ls -R, find, cat of every xml,
# stat of everything, a parser of every xml) until $SCRATCH/stop appears or
# SECONDS pass; each writes its errors to $SCRATCH/reader.N.err.
READERS=
readers() {
    rm -f "$SCRATCH/stop" "$SCRATCH"/reader.*
    k=0
    for cmd in 'ls -R "$1"' 'find "$1"' 'find "$1" -name xml -exec cat {} +' \
               'find "$1" -exec stat {} +' 'ls -lR "$1"' \
               'python3 "$CPX" walkread "$1"'; do
        k=$((k + 1))
        (
            end=$(( $(date +%s) + $2 ))
            i=0
            while [ ! -e "$SCRATCH/stop" ] && [ "$(date +%s)" -lt "$end" ] && [ $i -lt 5000 ]; do
                eval "$cmd" >/dev/null 2>>"$SCRATCH/reader.$k.err" || true
                i=$((i + 1))
            done
            echo "$i" >"$SCRATCH/reader.$k.count"
        ) &
        READERS="$READERS $!"
    done
}
# readers_done: stops the readers and checks they ran and saw nothing but
# ENOENT for something just deleted.
readers_done() {
    touch "$SCRATCH/stop"
    for p in $READERS; do wait "$p" || bad "reader $p exited $?"; done
    READERS=
    for f in "$SCRATCH"/reader.*.count; do
        [ "$(cat "$f")" -ge 1 ] || bad "a reader never ran ($f)"
    done
    SEEN_ENOENT=$(cat "$SCRATCH"/reader.*.err | grep -c 'No such file or directory' || true)
    other=$(cat "$SCRATCH"/reader.*.err | grep -v 'No such file or directory' || true)
    [ -z "$other" ] || bad "readers saw errors other than ENOENT: $(echo "$other" | sort | uniq -c | sort -rn | head -20)"
    rm -f "$SCRATCH/stop"
}

# ================= test:///default, refreshes every 0.2 s =================
cpfs_mount -o cache_timeout=0.2 test:///default
D=$MNT/test
mk "$D/base1" ""
mk "$D/base1/base2" base1
BASE=$D/base1/base2

# --- readers while one process makes and deletes checkpoints (middles too).
readers "$MNT" 30
(
    end=$(( $(date +%s) + 6 ))
    i=0
    while [ $i -lt 300 ] && [ "$(date +%s)" -lt "$end" ]; do
        i=$((i + 1))
        mkdir "$BASE/w$i" && mkdir "$BASE/w$i/v$i" && mkdir "$BASE/w$i/v$i/u$i" &&
            rmdir "$BASE/w$i/v$i" &&      # a middle: u moves up to w
            rmdir "$BASE/w$i" &&          # a middle: u moves up to base2
            rmdir "$BASE/u$i" || echo "writer round $i failed" >&2
    done
    echo "$i" >"$SCRATCH/writer.count"
) 2>"$SCRATCH/writer.err"
readers_done
[ -s "$SCRATCH/writer.err" ] && bad "the writer failed: $(head -5 "$SCRATCH/writer.err")"
[ "$(cat "$SCRATCH/writer.count")" -ge 3 ] || bad "the writer made only $(cat "$SCRATCH/writer.count") rounds"
[ "$(cpx tree "$D")" = "base1 base1/base2" ] || bad "after the writer the tree is '$(cpx tree "$D")'"
check_tree "$D" chain
section "readers saw only ENOENT ($SEEN_ENOENT times) while $(cat "$SCRATCH/writer.count") rounds of mkdir/rmdir ran"

# --- distinct names at once in the leaf: one wins per round.
out=$(race distinct "$D" d 15 8 2>&1) || bad "parallel mkdir of distinct names: $out"
check_tree "$D" chain
[ "$(cpx count "$D")" = 17 ] || bad "after 15 rounds of parallel mkdir there are $(cpx count "$D") checkpoints, expected 17"
section "parallel mkdirs of distinct names: one per round, one chain"

# --- the same name at once: one wins, the rest EEXIST.
out=$(race same "$D" s 15 8 2>&1) || bad "parallel mkdir of one name: $out"
check_tree "$D" chain
[ "$(cpx count "$D")" = 32 ] || bad "after 15 rounds of one name there are $(cpx count "$D") checkpoints, expected 32"
section "parallel mkdirs of one name: one wins, the rest EEXIST"

# --- changes in different directories at once, with readers.
readers "$MNT" 60
out=$(race mixed "$D" m 10 2>&1) || bad "concurrent rmdir/rmdir/mkdir in one domain: $out"
readers_done
check_tree "$D" chain
[ "$(cpx count "$D")" = 42 ] || bad "after 10 mixed rounds there are $(cpx count "$D") checkpoints, expected 42"
section "concurrent rmdirs and mkdir in different directories of one domain (readers: $SEEN_ENOENT ENOENT)"

# libvirt agrees once the cache expired, and its current checkpoint is the leaf.
before=$(cpx tree "$D")
when_cache_expired
[ "$(cpx tree "$D")" = "$before" ] || bad "the tree changed when re-read from libvirt"
L=$(cpx leaf "$D")
mk "$L/final" "$(basename "$L")"
check_tree "$D" chain
cpfs_umount
section "daemon stayed up and exited 0"

# ============ node.xml: alpha and beta at once do not interfere ============
cpfs_mount "test://$TESTS_SRC/data/node.xml"
readers "$MNT" 60
race distinct "$MNT/alpha" al 12 6 >"$SCRATCH/alpha.out" 2>&1 &
pa=$!
race mixed "$MNT/beta" be 8 >"$SCRATCH/beta.out" 2>&1 &
pb=$!
(
    i=0
    while [ $i -lt 200 ] && kill -0 "$pa" 2>/dev/null; do
        i=$((i + 1))
        [ "$(errno_of mkdir "$MNT/gamma-off/g$i")" = ENOTSUP ] || echo "gamma-off mkdir $i" >&2
    done
) 2>"$SCRATCH/gamma.err"
wait "$pa" || bad "alpha: $(cat "$SCRATCH/alpha.out")"
wait "$pb" || bad "beta: $(cat "$SCRATCH/beta.out")"
readers_done
[ -s "$SCRATCH/gamma.err" ] && bad "gamma-off mkdir did not give ENOTSUP: $(head -3 "$SCRATCH/gamma.err")"
check_tree "$MNT/alpha" chain
check_tree "$MNT/beta" chain
[ "$(cpx count "$MNT/alpha")" = 12 ] || bad "alpha holds $(cpx count "$MNT/alpha") checkpoints, expected 12"
[ "$(cpx count "$MNT/beta")" = 8 ] || bad "beta holds $(cpx count "$MNT/beta") checkpoints, expected 8"
[ "$(cpx count "$MNT/gamma-off")" = 0 ] || bad "gamma-off holds checkpoints"
cpx names "$MNT/alpha" | tr ' ' '\n' | grep -qv '^al' && bad "alpha holds foreign names: $(cpx names "$MNT/alpha")"
cpx names "$MNT/beta" | tr ' ' '\n' | grep -qv '^be' && bad "beta holds foreign names: $(cpx names "$MNT/beta")"
when_cache_expired
check_tree "$MNT/alpha" chain
check_tree "$MNT/beta" chain
[ "$(cpx count "$MNT/alpha")" = 12 ] && [ "$(cpx count "$MNT/beta")" = 8 ] ||
    bad "libvirt holds $(cpx count "$MNT/alpha") in alpha, $(cpx count "$MNT/beta") in beta"
section "alpha and beta changed at once without interfering"

finish
