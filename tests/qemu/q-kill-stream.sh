#!/bin/bash
# libvirtd killed and restarted over and over while mkdirs run (issue 8,
# fault 2: a kill between libvirt's create and the read-back made mkdir say
# EIO for a checkpoint that existed, logging no "outcome unknown").  Every
# mkdir that returned 0 made its checkpoint; every one that failed made none,
# unless the daemon logged that its outcome was unknown.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
cpfs_mount -o cache_timeout=0.5 "$LV_URI"
seconds=${STREAM_SECONDS:-30}
results=$SCRATCH/results
stop=$SCRATCH/stop

# The deepest checkpoint directory of vm1's chain, as the mount shows it.
leaf_dir() {
    (cd "$MNT/vm1" && find . -mindepth 1 -type d) 2>/dev/null |
        awk -F/ '{ print NF, $0 }' | sort -n | tail -1 | cut -d' ' -f2- | sed 's|^\./||'
}

(
    i=0
    parent=
    while [ ! -e "$stop" ]; do
        i=$((i + 1))
        if mkdir "$MNT/vm1/${parent:+$parent/}m$i" 2>/dev/null; then
            echo "m$i ok"
            parent=${parent:+$parent/}m$i
        else
            echo "m$i failed"
            # It may exist after all (outcome unknown): go on from the leaf.
            parent=$(leaf_dir)
            sleep 0.05  # pacing the retries, not waiting for anything
        fi
    done
) >"$results" &
maker=$!

end=$(( $(date +%s) + seconds ))
kills=0
while [ "$(date +%s)" -lt "$end" ]; do
    # Kill at an unpredictable point of a create.
    sleep "0.$(( RANDOM % 9 + 1 ))"
    qemu_kill_libvirtd
    kills=$((kills + 1))
    sleep "0.$(( RANDOM % 5 ))"
    qemu_restart_libvirtd
    wait_until 20 grep -q "reconnected to libvirt" "$LOG" || fail "the daemon did not reconnect"
done
touch "$stop"
wait "$maker"
kill -0 "$CPFS_PID" 2>/dev/null || fail "the daemon died"

virsh_names=$(virsh_checkpoints vm1) || fail "cannot list vm1's checkpoints"
lies=0
while read -r name outcome; do
    if [ "$outcome" = ok ]; then
        echo "$virsh_names" | grep -qx "$name" ||
            fail "mkdir $name returned 0 but libvirt has no such checkpoint"
    elif echo "$virsh_names" | grep -qx "$name"; then
        grep -q "create checkpoint '$name': outcome unknown" "$LOG" || {
            echo "mkdir $name failed but libvirt has it, and no outcome unknown was logged" >&2
            lies=$((lies + 1))
        }
    fi
done <"$results"
[ "$lies" = 0 ] || fail "$lies mkdirs failed yet created their checkpoint, unannounced"
wait_until 10 sh -c "[ \"\$(cd $MNT/vm1 && find . -mindepth 1 -type d | sed 's|.*/||' | sort)\" = \"$virsh_names\" ]" ||
    fail "the mount and virsh disagree after the stream"
pass "$kills kills in ${seconds} s: $(grep -c ' ok' "$results") mkdirs made, $(grep -c ' failed' "$results") failed, every outcome truthful"
cpfs_umount
