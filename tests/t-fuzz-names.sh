#!/bin/sh
# Hostile mkdir names through the mount: random bytes of every value a path
# component may hold, lengths 0 to 1100.  Nothing may crash, and only the
# allowed names may be created.
. "$TESTS_SRC/lib.sh"
cpfs_mount test:///default
"$PYTHON" "$HELPERS/fuzz_names.py" "$MNT/test" "${FUZZ_SEED:-$$}" "${FUZZ_COUNT:-1500}" ||
    fail "mkdir name fuzzing found problems"
kill -0 "$CPFS_PID" || fail "the daemon died"
pass "fuzzed mkdir names"
cpfs_umount
