#!/bin/bash
# A libvirtd that stops answering while several calls are in flight at once
# (issue 8, fault 1): every call returns within the 5 s budget however many
# there are, and the daemon survives libvirtd's resume, several rounds over.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define vm1
cpfs_mount -o cache_timeout=1 "$LV_URI"
mkdir "$MNT/vm1/r0"
leaf=$MNT/vm1/r0
rounds=${HUNG_ROUNDS:-3}

for round in $(seq 1 "$rounds"); do
    # Let every cache age, so that each request needs libvirt.
    wait_until 10 test -e "$leaf/xml" || fail "round $round: the leaf $leaf is missing"
    sleep 2.1  # the caches' age, not synchronisation: cache_timeout=1 lets them lag 1 s
    kill -STOP "$LV_PID"
    out=$("$PYTHON" "$HELPERS/timed_ops.py" --deadline=30 \
        "ls-dom=ls:$MNT/vm1" "cat-dom=cat:$MNT/vm1/xml" "ls-root=ls:$MNT" \
        "find-dom=find:$MNT/vm1" "mkdir-leaf=mkdir:$leaf/x$round" \
        "stat-leaf=stat:$leaf/xml" "cat-leaf=cat:$leaf/xml" &
        stopped_at=$(date +%s%N)
        # Resume after 10 s, the hostile test's pause.
        while [ $(( $(date +%s%N) - stopped_at )) -lt 10000000000 ]; do sleep 0.1; done
        kill -CONT "$LV_PID"
        wait)
    kill -CONT "$LV_PID"
    echo "round $round:"; echo "$out" | sed 's/^/  /'
    slow=$(echo "$out" | awk '$2 > 5500 || $3 == "HUNG" || $3 == "DIED"')
    [ -z "$slow" ] || fail "round $round: calls past the 5 s budget: $(echo $slow)"
    kill -0 "$CPFS_PID" 2>/dev/null || fail "round $round: the daemon died"
    # Back by itself: the mount agrees with virsh again.
    wait_until 20 sh -c "ls '$MNT/vm1' >/dev/null" || fail "round $round: the mount did not come back"
    kill -0 "$CPFS_PID" 2>/dev/null || fail "round $round: the daemon died after the resume"
    if [ -d "$leaf/x$round" ]; then leaf=$leaf/x$round; fi
    wait_until 20 sh -c "[ \"\$(virsh -q -c '$LV_URI' checkpoint-list vm1 --name | sed '/^\$/d' | sort)\" = \"\$(cd '$MNT/vm1' && find . -mindepth 1 -type d | sed 's|.*/||' | sort)\" ]" ||
        fail "round $round: the mount and virsh disagree: $(virsh_checkpoints vm1 | tr '\n' ' ') / $(mnt_checkpoints vm1 | tr '\n' ' ')"
    pass "round $round: every call answered within 5.5 s; the daemon lives and agrees with virsh"
done
cpfs_umount
