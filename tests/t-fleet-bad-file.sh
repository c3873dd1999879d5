#!/bin/sh
# A hosts file that cannot be read or is malformed stops the mount at
# startup: exit 1, exactly one line on stderr, "checkpointfs: FILE: why" or
# "checkpointfs: FILE:LINE: what", nothing mounted, no daemon left.  The
# boundary cases of the host names mount.
. "$TESTS_SRC/lib.sh"

OUT=$SCRATCH/out
ERR=$SCRATCH/err
HF=$SCRATCH/fleet.conf
GOOD=test:///default

mounted() {
    awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# startup_fails WHAT PREFIX [RUNNER...]: checkpointfs on $HF (run by
# RUNNER, e.g. setpriv, if given) exits 1 with exactly one line on stderr,
# which starts with PREFIX; nothing is mounted on $MNT, no daemon left.
startup_fails() {
    what=$1 prefix=$2
    shift 2
    rc=0
    "$@" "$CHECKPOINTFS" "$HF" "$MNT" >"$OUT" 2>"$ERR" </dev/null || rc=$?
    [ "$rc" -eq 1 ] || fail "$what: exit status $rc, expected 1 (stderr: $(cat "$ERR"))"
    lines=$(wc -l <"$ERR")
    records=$(awk 'END { print NR }' "$ERR")
    [ "$lines" -eq 1 ] && [ "$records" -eq 1 ] ||
        fail "$what: expected exactly one line on stderr, got: [$(cat "$ERR")]"
    line=$(cat "$ERR")
    case $line in
        "$prefix"*) ;;
        *) fail "$what: stderr is '$line', expected it to start with '$prefix'" ;;
    esac
    ! mounted "$MNT" || fail "$what: something is mounted on $MNT"
    [ -z "$(daemon_pids "$MNT")" ] || fail "$what: a daemon was left running"
    pass "$what: exit 1, one line '$line', nothing mounted"
}

# bad_file WHAT LINE TEXT: $HF holds TEXT (printf %b); the mount fails
# naming $HF:LINE.
bad_file() {
    printf '%b' "$3" >"$HF"
    startup_fails "$1" "checkpointfs: $HF:$2: "
}

# --- the file itself --------------------------------------------------------
HF=$SCRATCH/nosuch.conf
startup_fails "a hosts file that does not exist" "checkpointfs: $HF: No such file or directory"
HF=$SCRATCH/adir
mkdir "$HF"
startup_fails "a directory as hosts file" "checkpointfs: $HF: "
HF=$SCRATCH/fleet.conf

# Unreadable: as a user other than root (root reads any file).
printf '[lab]\nuri=%s\n' "$GOOD" >"$HF"
if [ "$(id -u)" = 0 ]; then
    chmod 755 "$SCRATCH"
    chmod 600 "$HF"
    if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$CHECKPOINTFS" 2>/dev/null; then
        startup_fails "an unreadable hosts file (as uid 65534)" \
            "checkpointfs: $HF: Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups
    else
        echo "note: uid 65534 cannot run $CHECKPOINTFS; the unreadable case is not run"
    fi
    chmod 700 "$SCRATCH"
else
    chmod 000 "$HF"
    startup_fails "an unreadable hosts file" "checkpointfs: $HF: Permission denied"
fi
chmod 644 "$HF"

# --- malformed contents -----------------------------------------------------
bad_file "a line that is neither group nor key" 3 \
    "[lab]\nuri=$GOOD\nthis is not a key\n"
bad_file "a group header without its ]" 4 \
    "# hosts\n[lab]\nuri=$GOOD\n[hv1\nuri=$GOOD\n"
bad_file "a key outside any group" 2 \
    "# hosts\nuri=$GOOD\n[lab]\nuri=$GOOD\n"
bad_file "a group without uri" 3 \
    "[lab]\nuri=$GOOD\n[hv1]\nreadonly=true\n[hv2]\nuri=$GOOD\n"
bad_file "an empty last group" 3 \
    "[lab]\nuri=$GOOD\n[hv1]\n"
bad_file "an unknown key" 3 \
    "[lab]\nuri=$GOOD\nurl=$GOOD\n"
grep -q "url" "$ERR" || fail "the unknown key's message does not name it: $(cat "$ERR")"
bad_file "a duplicate group" 5 \
    "[lab]\nuri=$GOOD\n[hv1]\nuri=$GOOD\n[lab]\nuri=$GOOD\n"
bad_file "a duplicate key" 3 \
    "[lab]\nuri=$GOOD\nuri=test:///default\n"
bad_file "readonly that is no boolean" 3 \
    "[lab]\nuri=$GOOD\nreadonly=maybe\n"
bad_file "backup_scratch that is no absolute path" 3 \
    "[lab]\nuri=$GOOD\nbackup_scratch=scratch\n"
bad_file "an empty uri" 2 \
    "[lab]\nuri=\n"
bad_file "a line that is not UTF-8" 3 \
    "[lab]\nuri=$GOOD\n# caf\0351\n"

# Group names are directory names, with the rules of checkpoint names.
long=$(printf '%0248d' 0 | tr 0 a)
for name in .hidden xml 'a b' a/b "$long" 'ü' '.' '..'; do
    bad_file "group name '$(printf '%.20s' "$name")' ($(printf '%s' "$name" | wc -c) bytes)" 3 \
        "[lab]\nuri=$GOOD\n[$name]\nuri=$GOOD\n"
done

# ... and -f changes nothing: the same line, before any mount.
printf '[lab]\nuri=%s\nbogus line\n' "$GOOD" >"$HF"
rc=0
"$CHECKPOINTFS" -f "$HF" "$MNT" >"$OUT" 2>"$ERR" </dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "-f: exit status $rc, expected 1"
[ "$(wc -l <"$ERR")" -eq 1 ] && grep -qF "checkpointfs: $HF:3: " "$ERR" ||
    fail "-f: stderr is [$(cat "$ERR")]"
! mounted "$MNT" || fail "-f: something is mounted"
pass "with -f: exit 1, the same one line"

# --- the boundaries that are fine -------------------------------------------
long=$(printf '%0247d' 0 | tr 0 a)
printf '[%s]\nuri=%s\n[_x.y-z]\nuri=%s\n[0]\nuri=%s\n[-]\nuri=%s\n' "$long" "$GOOD" "$GOOD" "$GOOD" "$GOOD" >"$HF"
cpfs_mount "$HF"
[ "$(LC_ALL=C ls -A "$MNT" | tr '\n' ' ')" = "- 0 _x.y-z $long " ] ||
    fail "the root lists [$(ls -A "$MNT" | tr '\n' ' ')]"
cpfs_umount
pass "host names of 247 bytes, a lone -, and with _ . - and digits mount"
