#!/bin/sh
# A shell whose cwd is a checkpoint that rmdir of its parent moves up keeps
# working: `ls ..` and `cd -P ..` reach the new parent, `pwd -P` names the
# new place, without anyone else looking the moved checkpoint up (issue 8,
# fault 3).
. "$TESTS_SRC/lib.sh"

cpfs_mount test:///default
D=$MNT/test
mkdir "$D/mon" "$D/mon/tue" "$D/mon/tue/wed" || fail "mkdir of the chain failed"

# The admin's shell: sits in mon/tue until told that mon is gone, then
# reports what it sees.  Nothing else may look up $D/tue or list $D before
# it is done: that would move the kernel's entry by itself.
READY=$SCRATCH/in-tue GONE=$SCRATCH/mon-gone OUT=$SCRATCH/shell.out
(
    cd "$D/mon/tue" || exit 2
    : >"$READY"
    wait_until 20 test -e "$GONE" || exit 3
    # The daemon fixes the kernel's entries just after the rmdir's reply.
    wait_until 5 ls .. || { echo "ls ..: $(ls .. 2>&1)"; exit 4; }
    echo "ls: $(ls .. | tr '\n' ' ')"
    echo "pwd: $(pwd -P)"
    cd -P .. || exit 5
    echo "up: $(pwd -P)"
) >"$OUT" 2>&1 &
SHELL_PID=$!
wait_until 10 test -e "$READY" || fail "the shell did not get into mon/tue"
[ "$(readlink "/proc/$SHELL_PID/cwd")" = "$D/mon/tue" ] || fail "the shell's cwd is not mon/tue"

rmdir "$D/mon" || fail "rmdir mon failed"
: >"$GONE"
rc=0
wait "$SHELL_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "the shell in the moved checkpoint failed ($rc): $(cat "$OUT")"
grep -qx "ls: tue xml " "$OUT" || fail "ls .. from the moved checkpoint: $(cat "$OUT")"
grep -qx "pwd: $D/tue" "$OUT" || fail "pwd -P in the moved checkpoint: $(cat "$OUT")"
grep -qx "up: $D" "$OUT" || fail "cd -P .. from the moved checkpoint: $(cat "$OUT")"
pass "ls .., pwd -P and cd -P .. work in a checkpoint moved up by rmdir"

# Its own child moved with it.
[ "$(ls "$D/tue/wed")" = xml ] || fail "tue/wed lists '$(ls "$D/tue/wed" | tr '\n' ' ')'"
[ "$(ls "$D")" = "tue
xml" ] || fail "the domain lists '$(ls "$D" | tr '\n' ' ')'"
pass "the moved subtree is whole"
cpfs_umount
