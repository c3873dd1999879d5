#!/bin/bash
# libvirtd dies (kill -9) and comes back: the mount stays; calls made while
# it is down fail with EIO within 5 s; the mount works again by itself; a
# mkdir cut off by the loss reports what really happened.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
qemu_define vm2
cpfs_mount -o cache_timeout=0.5 "$LV_URI"

mkdir "$MNT/vm1/a" "$MNT/vm1/a/b" "$MNT/vm2/x"

# 1. Killed in the middle of a walk.
( for i in $(seq 200); do
      find "$MNT" >/dev/null 2>&1; cat "$MNT"/vm*/xml >/dev/null 2>&1; : >"$SCRATCH/walking"
  done ) &
walker=$!
# Once a whole walk is done the next has begun: kill libvirtd during it.
wait_until 5 test -e "$SCRATCH/walking" || fail "the walker did not walk"
qemu_kill_libvirtd
killed_at=$(date +%s%N)
# Uncached names force calls to libvirt while it is down.
start=$(date +%s%N)
got=$(errno_of mkdir "$MNT/vm1/a/b/down")
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$got" = EIO ] || fail "mkdir while libvirtd is down gave $got, expected EIO"
[ "$took" -lt 5000 ] || fail "mkdir while libvirtd is down took ${took} ms"
# The walk rendered a/xml just before the kill, and a document is reused
# for cache_timeout/2 (0.25 s): read it once that has passed, so that the
# read needs libvirt.
wait_until 5 sh -c '[ "$(date +%s%N)" -gt "$1" ]' sh $((killed_at + 500000000)) ||
    fail "the clock does not move"
start=$(date +%s%N)
got=$(errno_of readall "$MNT/vm1/a/xml")
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$got" = EIO ] || fail "reading xml while libvirtd is down gave $got, expected EIO"
[ "$took" -lt 5000 ] || fail "read while libvirtd is down took ${took} ms"
mountpoint -q "$MNT" || fail "the mount went away with libvirtd"
log_has "lost the connection to libvirt"
pass "calls fail with EIO within 5 s while libvirtd is down (last: ${took} ms)"

qemu_restart_libvirtd
wait "$walker" || true
wait_until 10 test -d "$MNT/vm1/a/b" || fail "the mount did not come back after libvirtd"
log_has "reconnected to libvirt"
trees_agree vm1 || fail "vm1 differs from virsh after restart"
trees_agree vm2 || fail "vm2 differs from virsh after restart"
names=$(virsh_checkpoints vm1) || fail "virsh cannot list the checkpoints"
! printf '%s\n' "$names" | grep -q down || fail "mkdir 'down' left a checkpoint"
mkdir "$MNT/vm1/a/b/after" || fail "mkdir after reconnecting failed"
pass "the mount works again after libvirtd restarted, and agrees with virsh"

# 2. Killed during a run of mkdirs: every mkdir that returned 0 left a
# checkpoint, every one that failed left none.
results=$SCRATCH/mkdir-results
(
    # Until three mkdirs succeeded after the restart, for at most 30 s (a
    # count would run out while libvirtd is down: failures come at once).
    parent=$MNT/vm1/a/b/after
    after=0
    i=0
    deadline=$(( $(date +%s) + 30 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        i=$((i + 1))
        if mkdir "$parent/m$i" 2>/dev/null; then
            echo "m$i ok"
            parent=$parent/m$i
            [ -e "$SCRATCH/restarted" ] && after=$((after + 1))
            [ "$after" -ge 3 ] && break
        else
            echo "m$i failed"
            sleep 0.05  # pacing the retries, not waiting for anything
        fi
    done
) >"$results" &
maker=$!
wait_until 20 grep -q "m3 ok" "$results" || fail "mkdirs did not start"
qemu_kill_libvirtd
wait_until 20 grep -q "m[0-9]* failed" "$results" || fail "no mkdir failed while libvirtd was down"
qemu_restart_libvirtd
touch "$SCRATCH/restarted"
wait "$maker"
ok=$(grep -c ' ok' "$results")
failed=$(grep -c ' failed' "$results")
virsh_names=$(virsh_lv checkpoint-list vm1 --name)
while read -r name outcome; do
    if [ "$outcome" = ok ]; then
        echo "$virsh_names" | grep -qx "$name" || fail "mkdir $name returned 0 but libvirt has no such checkpoint"
    elif echo "$virsh_names" | grep -qx "$name"; then
        # Allowed only when the daemon said it could not know: libvirtd did
        # not come back within the call's 4.5 s.
        grep -q "create checkpoint '$name': outcome unknown" "$LOG" ||
            fail "mkdir $name failed but libvirt has the checkpoint"
    fi
done <"$results"
wait_until 5 sh -c "[ \"\$(cd $MNT/vm1 && find . -mindepth 1 -type d | wc -l)\" = $(echo "$virsh_names" | grep -c .) ]" ||
    fail "the tree and virsh disagree on the number of checkpoints"
trees_agree vm1 || fail "vm1 differs from virsh after the mkdir run"
pass "mkdir outcomes across a libvirtd kill are truthful ($ok created, $failed failed)"

# 3. Killed during a run of rmdirs (always the oldest, as retention does):
# every rmdir that returned 0 removed its checkpoint, every failed one left it.
rm -f "$SCRATCH/restarted"
results=$SCRATCH/rmdir-results
chain=$(tree_of_virsh vm1 | awk '{ print $2, $1 }' | tsort 2>/dev/null | grep -vx -- -)
(
    # The chain from its root: each rmdir takes the root, the next becomes
    # the root.  A failed rmdir is tried again (the listing may fail too
    # while libvirtd is down), for at most 20 s.
    after=0
    for name in $chain; do
        deadline=$(( $(date +%s) + 20 ))
        while :; do
            if err=$(rmdir "$MNT/vm1/$name" 2>&1); then
                echo "$name ok"
                break
            fi
            # Gone: an earlier try deleted it after all (its outcome was
            # unknown: libvirtd did not come back within the call's 4.5 s).
            case $err in *"No such file or directory"*) echo "$name gone"; break ;; esac
            echo "$name failed"
            [ "$(date +%s)" -lt "$deadline" ] || break
            sleep 0.05  # pacing the retries, not waiting for anything
        done
        [ -e "$SCRATCH/restarted" ] && after=$((after + 1))
        [ "$after" -ge 3 ] && break
    done
    exit 0
) >"$results" &
remover=$!
wait_until 20 grep -q " ok" "$results" || fail "rmdirs did not start"
qemu_kill_libvirtd
wait_until 20 grep -q " failed" "$results" || fail "no rmdir failed while libvirtd was down"
qemu_restart_libvirtd
touch "$SCRATCH/restarted"
wait "$remover"
virsh_names=$(virsh_lv checkpoint-list vm1 --name)
# A name may fail several times, then succeed: its last outcome counts.
for name in $(awk '{ print $1 }' "$results" | sort -u); do
    last=$(grep "^$name " "$results" | tail -1 | cut -d' ' -f2)
    if [ "$last" = ok ]; then
        echo "$virsh_names" | grep -qx "$name" && fail "rmdir $name returned 0 but libvirt still has it"
    elif [ "$last" = gone ]; then
        echo "$virsh_names" | grep -qx "$name" && fail "rmdir $name found no checkpoint but libvirt has it"
        grep -q "delete checkpoint '$name': outcome unknown" "$LOG" ||
            fail "rmdir $name failed, yet deleted it, without logging that its outcome was unknown"
    else
        echo "$virsh_names" | grep -qx "$name" || fail "rmdir $name failed but the checkpoint is gone"
    fi
done
wait_until 5 sh -c "[ \"\$(cd $MNT/vm1 && find . -mindepth 1 -type d | wc -l)\" = $(echo "$virsh_names" | grep -c .) ]" ||
    fail "the tree and virsh disagree on the number of checkpoints after the rmdir run"
trees_agree vm1 || fail "vm1 differs from virsh after the rmdir run"
pass "rmdir outcomes across a libvirtd kill are truthful ($(grep -c ' ok' "$results") deleted, $(grep -c ' failed' "$results") failed, $(grep -c ' gone' "$results") with an outcome logged as unknown)"

cpfs_umount
