#!/bin/sh
# Coherence and concurrency: readers during mkdir/rmdir see only ENOENT,
# parallel mkdirs are serialized (one winner, one chain), changes in different
# directories and domains at once do not interfere, the daemon stays up.
. "$TESTS_SRC/lib.sh"

. "$TESTS_SRC/lib-checkpoints.sh"

# race distinct|same|mixed DOMDIR PREFIX ROUNDS [N]: rounds of syscalls
# started together in several processes (see helpers/race.py).
race() { "$PYTHON" "$HELPERS/race.py" "$@"; }

# readers DIR SECONDS: starts reader loops (ls -R, find, cat of every xml,
# stat of everything, a parser of every xml) until $SCRATCH/stop appears or
# SECONDS pass; each writes its errors to $SCRATCH/reader.N.err (see judged).
READERS=
readers() {
    rm -f "$SCRATCH/stop" "$SCRATCH"/reader.*
    top=$1
    k=0
    for cmd in 'ls -R "$top"' 'find "$top"' 'find "$top" -name xml -exec cat {} +' \
               'find "$top" -exec stat {} +' 'ls -lR "$top"' \
               '"$PYTHON" "$HELPERS/checkpoints.py" walkread "$top"'; do
        k=$((k + 1))
        : >"$SCRATCH/reader.$k.err"
        (
            end=$(( $(date +%s) + $2 ))
            i=0
            while [ ! -e "$SCRATCH/stop" ] && [ "$(date +%s)" -lt "$end" ] && [ $i -lt 5000 ]; do
                judged "$SCRATCH/reader.$k.err" eval "$cmd"
                i=$((i + 1))
            done
            echo "$i" >"$SCRATCH/reader.$k.count"
        ) &
        READERS="$READERS $!"
    done
}
# readers_done: stops the readers and checks they all ran and saw nothing
# but ENOENT for something just deleted.
readers_done() {
    touch "$SCRATCH/stop"
    for p in $READERS; do wait "$p" || bad "reader $p exited $?"; done
    READERS=
    k=0
    for f in "$SCRATCH"/reader.*.count; do
        [ -e "$f" ] && k=$((k + 1))
        [ "$(cat "$f")" -ge 1 ] || bad "a reader never ran ($f)"
    done
    [ "$k" -eq 6 ] || bad "$k of the 6 readers reported how often they ran"
    SEEN_ENOENT=$(cat "$SCRATCH"/reader.*.err | grep -c 'No such file or directory' || true)
    other=$(cat "$SCRATCH"/reader.*.err | grep -v 'No such file or directory' || true)
    [ -z "$other" ] || bad "readers saw errors other than ENOENT: $(echo "$other" | sort | uniq -c | sort -rn | head -20)"
    rm -f "$SCRATCH/stop"
}

# only_named DOMDIR PREFIX: every checkpoint of DOMDIR has a name starting
# with PREFIX (nothing of another domain's leaked in).
only_named() {
    on_names=$(cpx names "$1") || { bad "cannot list the names in $1: $on_names"; return 0; }
    for on_name in $on_names; do
        case $on_name in
            "$2"*) ;;
            *) bad "$(basename "$1") holds foreign names: $on_names"; return 0 ;;
        esac
    done
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
    echo "$i" >"$SCRATCH/gamma.count"
) 2>"$SCRATCH/gamma.err"
wait "$pa" || bad "alpha: $(cat "$SCRATCH/alpha.out")"
wait "$pb" || bad "beta: $(cat "$SCRATCH/beta.out")"
readers_done
[ -s "$SCRATCH/gamma.err" ] && bad "gamma-off mkdir did not give ENOTSUP: $(head -3 "$SCRATCH/gamma.err")"
[ "$(cat "$SCRATCH/gamma.count")" -ge 1 ] || bad "no mkdir in gamma-off ran while alpha changed"
check_tree "$MNT/alpha" chain
check_tree "$MNT/beta" chain
[ "$(cpx count "$MNT/alpha")" = 12 ] || bad "alpha holds $(cpx count "$MNT/alpha") checkpoints, expected 12"
[ "$(cpx count "$MNT/beta")" = 8 ] || bad "beta holds $(cpx count "$MNT/beta") checkpoints, expected 8"
[ "$(cpx count "$MNT/gamma-off")" = 0 ] || bad "gamma-off holds checkpoints"
only_named "$MNT/alpha" al
only_named "$MNT/beta" be
when_cache_expired
check_tree "$MNT/alpha" chain
check_tree "$MNT/beta" chain
[ "$(cpx count "$MNT/alpha")" = 12 ] && [ "$(cpx count "$MNT/beta")" = 8 ] ||
    bad "libvirt holds $(cpx count "$MNT/alpha") in alpha, $(cpx count "$MNT/beta") in beta"
section "alpha and beta changed at once without interfering"

finish
