#!/usr/bin/env python3
"""Rounds of syscalls started together (a barrier) in several processes,
with what each round may and may not produce (t-concurrency.sh).

usage: race.py distinct DOMDIR PREFIX ROUNDS N
         N mkdirs of distinct names at once in the leaf: one wins, the rest
         get EPERM, and the winner is the new leaf with the right xml parent
       race.py same DOMDIR PREFIX ROUNDS N
         N mkdirs of one name at once in the leaf: one wins, the rest EEXIST
       race.py mixed DOMDIR PREFIX ROUNDS
         below the leaf a chain a-b-c-d-e, then at once rmdir a, rmdir c,
         mkdir e/x and ls c: all succeed (ls may see ENOENT), and the chain
         left is b-d-e-x with every xml naming its directory's parent
Exits 1 after printing each failed check as "FAIL: ..." on stderr.
"""
import os
import sys
import multiprocessing as mp

import common
from common import NotAChain, errno_name, parent_in_xml, subdirs

ctx = mp.get_context("fork")
ERRS = []


def bad(msg):
    print("FAIL: " + msg, file=sys.stderr)
    ERRS.append(msg)


def leaf(dom):
    try:
        return common.leaf(dom)
    except NotAChain as e:
        raise SystemExit("%s: branches %r, expected a chain" % (e.path, e.kids))


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
            q.put((i, errno_name(e)))

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


def chain_below(top):
    """(the directories of the chain below TOP, top down; the directory
    where it branches and its children, or None, None)."""
    got, d = [], top
    while subdirs(d):
        k = subdirs(d)
        if len(k) != 1:
            return got, d, k
        d = os.path.join(d, k[0])
        got.append(d)
    return got, None, None


def mixed_round(dom, prefix, r):
    """One round of mixed: False when the chain is not what it must be."""
    L = leaf(dom)
    n = ["%s%d%s" % (prefix, r, c) for c in "abcde"]
    d = L
    for x in n:
        os.mkdir(os.path.join(d, x), 0o755)
        d = os.path.join(d, x)
    a = os.path.join(L, n[0])
    b = os.path.join(a, n[1])
    c = os.path.join(b, n[2])
    e = os.path.join(c, n[3], n[4])
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
    got, where, kids = chain_below(L)
    if where is not None:
        bad("round %d: %s holds %r" % (r, where, kids))
    if got != want:
        bad("round %d: chain below %s is %r, expected %r" % (r, L, got, want))
        return False
    for path in want:
        p = os.path.dirname(path)
        if parent_in_xml(path) != ("" if p == dom else os.path.basename(p)):
            bad("round %d: %s: xml parent %r" % (r, path, parent_in_xml(path)))
    # Back to one new checkpoint per round: drop the middles.
    for path in reversed(want[:3]):
        os.rmdir(path)
    return True


def mixed(dom, prefix, rounds):
    """Changes at once in different directories of one domain, which the
    kernel does not serialize: the daemon must."""
    for r in range(rounds):
        if not mixed_round(dom, prefix, r):
            return


def main():
    cmd, dom, prefix = sys.argv[1:4]
    args = [int(v) for v in sys.argv[4:]]
    {"distinct": distinct, "same": same, "mixed": mixed}[cmd](dom, prefix, *args)
    return 1 if ERRS else 0


if __name__ == "__main__":
    sys.exit(main())
