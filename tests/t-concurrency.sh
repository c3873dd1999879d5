#!/bin/sh
# Coherence and concurrency: readers during mkdir/rmdir see only ENOENT,
# parallel mkdirs are serialized (one winner, one chain), changes in different
# directories and domains at once do not interfere, the daemon stays up.
. "$TESTS_SRC/lib.sh"

. "$TESTS_SRC/lib-checkpoints.sh"

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
