#!/bin/sh
# While virsh creates and deletes checkpoints in a loop, readers walking the
# mount see no error but ENOENT for something just deleted, and the daemon
# stays up.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define mc
cpfs_mount -o cache_timeout=0.2 "$LV_URI"

WERR=$SCRATCH/writer.err
WDONE=$SCRATCH/writer.done
: >"$WERR"

# The writer: up to 40 rounds or 20 s.  Each round creates one checkpoint
# and, once four exist, deletes the oldest (a root) or the second oldest (a
# middle one, whose children move up), alternately.
(
    set +e
    deadline=$(( $(date +%s) + 20 ))
    keep=
    i=0
    while [ $i -lt 40 ] && [ "$(date +%s)" -lt "$deadline" ]; do
        i=$((i + 1))
        virsh_lv checkpoint-create-as mc "m$i" >/dev/null 2>>"$WERR" ||
            echo "writer: create m$i failed" >>"$WERR"
        keep="$keep m$i"
        set -- $keep
        if [ $# -gt 3 ]; then
            if [ $((i % 2)) -eq 0 ]; then victim=$1; else victim=$2; fi
            virsh_lv checkpoint-delete mc "$victim" >/dev/null 2>>"$WERR" ||
                echo "writer: delete $victim failed" >>"$WERR"
            keep=$(for c in $keep; do [ "$c" = "$victim" ] || printf ' %s' "$c"; done)
        fi
    done
    echo "$i" >"$WDONE"
) &
WPID=$!

# A reader: walks, reads every xml and stats everything, over and over until
# the writer is done (at most 60 s).  Its stderr collects every error.
reader() {
    rerr=$SCRATCH/reader$1.err
    : >"$rerr"
    passes=0 xmls=0
    deadline=$(( $(date +%s) + 60 ))
    while [ ! -e "$WDONE" ] && [ "$(date +%s)" -lt "$deadline" ]; do
        judged "$rerr" find "$MNT"
        n=$(find "$MNT" -name xml -type f -exec cat {} + 2>>"$rerr" | grep -c '</domaincheckpoint>' || true)
        xmls=$((xmls + n))
        judged "$rerr" find "$MNT" -exec stat -c '%n %s %Y %h' {} +
        judged "$rerr" ls -lR "$MNT"
        passes=$((passes + 1))
    done
    echo "$passes $xmls" >"$SCRATCH/reader$1.count"
}
reader 1 &
R1=$!
reader 2 &
R2=$!

wait "$WPID" || fail "the writer failed"
wait "$R1" || fail "reader 1 failed"
wait "$R2" || fail "reader 2 failed"

[ -s "$WDONE" ] || fail "the writer did not finish"
rounds=$(cat "$WDONE")
[ ! -s "$WERR" ] || fail "virsh failed in the writer: $(head -5 "$WERR")"
[ "$rounds" -ge 10 ] || fail "the writer managed only $rounds rounds"

for r in 1 2; do
    read -r passes xmls <"$SCRATCH/reader$r.count"
    [ "$passes" -ge 2 ] || fail "reader $r made only $passes passes"
    [ "$xmls" -gt 0 ] || fail "reader $r never read a checkpoint's xml"
    others=$(grep -v 'No such file or directory' "$SCRATCH/reader$r.err" || true)
    [ -z "$others" ] || fail "reader $r saw errors other than ENOENT:
$(echo "$others" | head -20)"
    pass "reader $r: $passes passes, $xmls checkpoint documents read, $(wc -l <"$SCRATCH/reader$r.err") ENOENT, no other error"
done
pass "writer: $rounds rounds of virsh create/delete"

kill -0 "$CPFS_PID" 2>/dev/null || fail "the daemon died"
mountpoint -q "$MNT" || fail "the mount is gone"
same() { v=$(virsh_checkpoints mc) && m=$(mnt_checkpoints mc) && [ "$v" = "$m" ]; }
wait_until 3 same || fail "afterwards the mount shows [$(echo $(mnt_checkpoints mc))], virsh [$(echo $(virsh_checkpoints mc))]"
check_tree mc
pass "the daemon stayed up and agrees with virsh afterwards"

cpfs_umount
pass "unmounted cleanly"
