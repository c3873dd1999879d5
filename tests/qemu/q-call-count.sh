#!/bin/sh
# A walk of the tree costs a bounded number of libvirt calls per domain per
# cache window, not calls per lookup or stat: counted with the root's
# user.checkpointfs.libvirt_calls attribute.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

DOMS=3 CPS=5
for d in $(seq $DOMS); do
    qemu_define "cc$d"
    for c in $(seq $CPS); do
        virsh_lv checkpoint-create-as "cc$d" "d${d}c$c" >/dev/null || fail "virsh creates d${d}c$c"
    done
done
cpfs_mount -o cache_timeout=60 "$LV_URI"

calls0=$(cpfs_calls)
[ "$calls0" -ge 0 ] 2>/dev/null || fail "the call counter reads '$calls0'"
entries=$(find "$MNT" | wc -l)
calls1=$(cpfs_calls)
# root + per domain: itself, xml, and per checkpoint a directory and an xml.
want_entries=$(( 1 + DOMS * (2 + 2 * CPS) ))
[ "$entries" -eq "$want_entries" ] || fail "find listed $entries entries, expected $want_entries"

find "$MNT" >/dev/null
calls2=$(cpfs_calls)
find "$MNT" -printf '%s %T@ %n\n' >"$SCRATCH/stat1"
calls3=$(cpfs_calls)
find "$MNT" -printf '%s %T@ %n\n' >"$SCRATCH/stat2"
calls4=$(cpfs_calls)

cold=$(( calls1 - calls0 ))
warm=$(( calls2 - calls1 ))
stat1=$(( calls3 - calls2 ))
stat2=$(( calls4 - calls3 ))
bound=$(( 1 + DOMS * (3 + CPS) ))
echo "# $DOMS domains x $CPS checkpoints: cold walk $cold calls (bound $bound), warm walk $warm," \
     "first stat pass $stat1, second stat pass $stat2"

[ "$cold" -gt 0 ] || fail "the cold walk made no libvirt call: is the counter counting?"
[ "$cold" -le "$bound" ] ||
    fail "the cold walk of $DOMS domains x $CPS checkpoints cost $cold libvirt calls, more than $bound"
pass "cold walk: $cold calls <= 1 + domains x (3 + checkpoints) = $bound"
[ "$warm" -eq 0 ] || fail "a warm walk within cache_timeout cost $warm libvirt calls, expected 0"
pass "warm walk: 0 calls"
[ "$stat2" -eq 0 ] || fail "a second stat pass within cache_timeout cost $stat2 libvirt calls, expected 0"
pass "second stat pass: 0 calls"
# The listing read every checkpoint's document already, so the first stat
# pass renders only each domain's xml, once.
[ "$stat1" -le "$DOMS" ] ||
    fail "the first stat pass cost $stat1 libvirt calls, more than $DOMS (one per domain xml)"
pass "first stat pass: $stat1 calls <= $DOMS (one per domain xml)"
# Reading every checkpoint's xml within cache_timeout costs nothing either.
calls5=$(cpfs_calls)
find "$MNT" -mindepth 2 -name xml -exec cat {} + >/dev/null || fail "reading every xml failed"
calls6=$(cpfs_calls)
[ $(( calls6 - calls5 )) -le "$DOMS" ] ||
    fail "reading every xml cost $(( calls6 - calls5 )) libvirt calls, more than $DOMS (one per domain xml)"
pass "reading every xml: $(( calls6 - calls5 )) calls <= $DOMS"
cmp -s "$SCRATCH/stat1" "$SCRATCH/stat2" || fail "the two stat passes differ"
[ -z "$(find "$MNT" -name xml -size 0)" ] || fail "an xml file has size 0 in stat"

cpfs_umount
pass "unmounted cleanly"
