#!/bin/sh
# The driver's backup calls (driver/backup.c) and NBD reader (driver/nbd.c)
# on a real libvirtd and QEMU, through tests/qemu/backup-calls.c: an
# incremental pull job starts, a second is EBUSY at once (libvirt itself
# would wait 30 s for the job lock), the job's export shows exactly the
# bytes written since the checkpoint, abort ends it; a shut off domain is
# ENOTSUP, a checkpoint whose bitmap is gone (or the checkpoint itself)
# ESTALE.  virsh judges the numbers.  The driver's epoch counts one more
# connection after libvirtd restarted.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
PROBE=$BUILD_DIR/tests/backup-calls
[ -x "$PROBE" ] || fail "no $PROBE"
qemu_start_libvirtd
qemu_define one
qemu_define off --off
J=$SCRATCH/job
mkdir -p "$J"
chown $LV_USER_ID:$LV_USER_ID "$J"

virsh_lv checkpoint-create-as one c1 >/dev/null || fail "checkpoint-create-as"
# Through QEMU's block layer, so that the bitmap records it.
dev=/machine/peripheral/virtio-disk0/virtio-backend
virsh_lv qemu-monitor-command one --hmp "qemu-io -d $dev \"write -P 0x22 8M 128k\"" >/dev/null ||
    fail "qemu-io write"
virsh_lv qemu-monitor-command one --hmp "qemu-io -d $dev \"flush\"" >/dev/null || fail "flush"

out=$("$PROBE" "$LV_URI" job one "$J" c1) || fail "backup-calls job: $out"
echo "$out" | grep '^ok'
capacity=$(virsh_lv domblkinfo one vda | awk '/^Capacity:/ {print $2}')
echo "$out" | grep -qx "block-info $capacity [0-9]*" ||
    fail "block info: virsh says capacity $capacity; we said: $(echo "$out" | grep block-info)"
pass "block info: capacity $capacity as virsh domblkinfo says"
size=$(virsh_lv checkpoint-dumpxml one c1 --size --no-domain | sed -n "s/.*name='vda'.* size='\([0-9]*\)'.*/\1/p")
[ "$size" = 131072 ] || fail "virsh: c1's size is '$size'"
echo "$out" | grep -qx "checkpoint-size $size" || fail "checkpoint size: virsh says $size"
pass "checkpoint c1's changed bytes: $size, as virsh checkpoint-dumpxml --size says"
wait_until 10 test ! -e "$J/t-vda.scratch" || fail "the scratch file outlived the job"
pass "libvirt removed the scratch file when the job ended"

out=$("$PROBE" "$LV_URI" inactive off "$J") || fail "backup-calls inactive: $out"
echo "$out"

node=$(virsh_lv qemu-monitor-command one '{"execute":"query-named-block-nodes"}' |
    "$PYTHON" -c 'import json, sys
print([n["node-name"] for n in json.load(sys.stdin)["return"]
       if any(b["name"] == "c1" for b in n.get("dirty-bitmaps", []))][0])') ||
    fail "no node holds bitmap c1"
virsh_lv qemu-monitor-command one \
    "{\"execute\":\"block-dirty-bitmap-remove\",\"arguments\":{\"node\":\"$node\",\"name\":\"c1\"}}" \
    >/dev/null || fail "remove bitmap c1"
out=$("$PROBE" "$LV_URI" stale one "$J" c1) || fail "backup-calls stale: $out"
echo "$out"
out=$("$PROBE" "$LV_URI" stale one "$J" gone) || fail "backup-calls stale (no checkpoint): $out"
echo "$out"

# The epoch: the probe waits on a fifo while libvirtd is killed and started.
mkfifo "$SCRATCH/go"
"$PROBE" "$LV_URI" epoch one "$J" <"$SCRATCH/go" >"$SCRATCH/epoch.out" 2>&1 &
probe=$!
exec 3>"$SCRATCH/go"
wait_until 10 grep -qx "epoch 1" "$SCRATCH/epoch.out" || fail "epoch: $(cat "$SCRATCH/epoch.out")"
qemu_kill_libvirtd
qemu_restart_libvirtd
echo go >&3
exec 3>&-
wait "$probe" || fail "backup-calls epoch: $(cat "$SCRATCH/epoch.out")"
grep '^ok' "$SCRATCH/epoch.out"
