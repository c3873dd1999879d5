#!/bin/bash
# Several processes for a bounded time do mkdir, rmdir, ls, stat and cat on
# several domains at once, some racing on the same names.  Afterwards the
# tree equals virsh's view, every mkdir that returned 0 left a checkpoint
# unless an rmdir that returned 0 removed it, and the daemon exits cleanly
# (under the sanitizer build: without a report).
# STRESS_SECONDS sets the duration (default 10; 30 for a longer run).
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
seconds=${STRESS_SECONDS:-10}
qemu_start_libvirtd
domains="s1 s2 s3"
for d in $domains; do qemu_define "$d"; done
cpfs_mount -o cache_timeout=0.3 "$LV_URI"
deadline=$(( $(date +%s) + seconds ))

# Writers log "mkdir NAME ok|fail" and "rmdir NAME ok|fail" lines.
writer() {
    dom=$1 id=$2 log=$SCRATCH/writer-$dom-$id
    n=0
    while [ "$(date +%s)" -lt "$deadline" ] && [ $n -lt 400 ]; do
        n=$((n + 1))
        # The current leaf: the deepest directory (a chain, as mkdir keeps it).
        leaf=$(cd "$MNT/$dom" 2>/dev/null && find . -mindepth 1 -type d 2>/dev/null |
               awk -F/ '{ print NF, $0 }' | sort -n | tail -1 | cut -d' ' -f2-)
        dir=$MNT/$dom/${leaf#./}
        # Races: writers of a domain share a small name space.
        name=n$((RANDOM % 12))
        case $((RANDOM % 3)) in
            0|1) if err=$(mkdir "$dir/$name" 2>&1); then echo "mkdir $name ok $(date +%s.%N)"; else echo "mkdir $name fail ${err##*: }"; fi ;;
            2) victim=$(cd "$MNT/$dom" 2>/dev/null && find . -mindepth 1 -type d 2>/dev/null | shuf -n1)
               [ -n "$victim" ] || continue
               vname=${victim##*/}
               if err=$(rmdir "$MNT/$dom/${victim#./}" 2>&1); then echo "rmdir $vname ok $(date +%s.%N)"; else echo "rmdir $vname fail ${err##*: }"; fi ;;
        esac
    done >"$log"
    return 0
}

reader() {
    log=$SCRATCH/reader-$1.err
    : >"$log"
    while [ "$(date +%s)" -lt "$deadline" ]; do
        # Errors are collected and judged afterwards (see judged).
        judged "$log" ls -R "$MNT"
        judged "$log" find "$MNT" -printf '%s %T@ %n\n'
        judged "$log" find "$MNT" -name xml -exec cat {} +
    done
    return 0
}

pids=
for d in $domains; do
    writer "$d" 1 & pids="$pids $!"
    writer "$d" 2 & pids="$pids $!"
done
reader 1 & pids="$pids $!"
reader 2 & pids="$pids $!"
for p in $pids; do wait "$p"; done

kill -0 "$CPFS_PID" || fail "the daemon died under stress"
# Readers may only have seen things vanish.
if grep -hv 'No such file or directory' "$SCRATCH"/reader-*.err | grep -q .; then
    grep -hv 'No such file or directory' "$SCRATCH"/reader-*.err | head >&2
    fail "readers saw errors other than ENOENT"
fi

ops=$(cat "$SCRATCH"/writer-* | grep -c ' ok ' || true)
[ "$ops" -gt 10 ] || fail "only $ops operations succeeded: the stress did not stress"
for d in $domains; do
    # The last successful operation on each name decides whether it exists
    # (names are reused; per domain, successes are serialized by libvirt).
    # Listings may lag by cache_timeout (0.3 s).
    wait_until 5 trees_agree "$d" || fail "domain $d: the tree differs from virsh after the stress"
    names=$(virsh_lv checkpoint-list "$d" --name)
    for name in $(cat "$SCRATCH"/writer-$d-* | awk '$3 == "ok" && $1 == "mkdir" { print $2 }' | sort -u); do
        created=$(cat "$SCRATCH"/writer-$d-* | grep -c "^mkdir $name ok " || true)
        removed=$(cat "$SCRATCH"/writer-$d-* | grep -c "^rmdir $name ok " || true)
        exists=0
        echo "$names" | grep -qx "$name" && exists=1
        # Each success alternates: created - removed is 1 if it exists, 0 if not.
        [ $((created - removed)) = $exists ] || {
            cat "$SCRATCH"/writer-$d-* | grep " $name " | sort -k4 >&2
            grep "$name" "$LOG" | grep -v "refused: it has child" >&2
            fail "domain $d: $name created $created and removed $removed times, exists=$exists"; }
    done
done
pass "$ops operations in ${seconds}s on 3 domains; the tree equals virsh; every outcome accounted for"
cpfs_umount
