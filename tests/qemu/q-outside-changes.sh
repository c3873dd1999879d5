#!/bin/sh
# Checkpoints created, deleted or redefined by virsh on the same libvirtd show
# in the mount within cache_timeout (1 s here).
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define out
cpfs_mount -o cache_timeout=1 "$LV_URI"
D=$MNT/out

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# shows WHAT CONDITION...: CONDITION holds within 3 s (cache_timeout is 1 s);
# prints how long it took.
shows() {
    what=$1; shift
    t0=$(now_ms)
    wait_until 3 "$@" || fail "$what: not shown within 3 s (cache_timeout=1)"
    "$@" || fail "$what: not shown"
    pass "$what (after $(( $(now_ms) - t0 )) ms)"
}

lists() { ls "$1" | grep -qx "$2"; }
gone() { [ ! -e "$1/$2" ] && ! ls "$1" | grep -qx "$2"; }

# Read the tree first, so that the daemon and the kernel hold a listing.
[ "$(ls "$D")" = xml ] || fail "out starts with $(ls "$D")"
virsh_lv checkpoint-create-as out c1 >/dev/null || fail "virsh creates c1"
shows "a checkpoint created by virsh appears" lists "$D" c1
[ -f "$D/c1/xml" ] || fail "c1 has no xml"

ls -R "$D" >/dev/null
virsh_lv checkpoint-create-as out c2 >/dev/null || fail "virsh creates c2"
shows "a child created by virsh appears below its parent" lists "$D/c1" c2
virsh_lv checkpoint-create-as out c3 >/dev/null || fail "virsh creates c3"
shows "a grandchild created by virsh appears" lists "$D/c1/c2" c3
virsh_lv checkpoint-create-as out c4 >/dev/null || fail "virsh creates c4"
shows "another one appears" lists "$D/c1/c2/c3" c4
check_tree out

ls -R "$D" >/dev/null
virsh_lv checkpoint-delete out c4 >/dev/null || fail "virsh deletes c4"
shows "a checkpoint deleted by virsh disappears" gone "$D/c1/c2/c3" c4
check_tree out

# A middle one deleted outside: its child moves up.
virsh_lv checkpoint-create-as out c5 >/dev/null || fail "virsh creates c5"
shows "c5 appears" lists "$D/c1/c2/c3" c5
virsh_lv checkpoint-delete out c3 >/dev/null || fail "virsh deletes c3"
moved_up() { gone "$D/c1/c2" c3 && lists "$D/c1/c2" c5; }
shows "a middle checkpoint deleted by virsh disappears, its child moves up" moved_up
check_tree out
virsh_lv checkpoint-delete out c5 >/dev/null || fail "virsh deletes c5"
virsh_lv checkpoint-create-as out c3 >/dev/null || fail "virsh creates c3 again"
shows "c3 appears below c2" lists "$D/c1/c2" c3

# A redefined branch: c3 gets c1 as its parent.
ls -R "$D" >/dev/null
redefine_parent out c3 c1
branched() { lists "$D/c1" c3 && gone "$D/c1/c2" c3 && lists "$D/c1" c2; }
shows "a checkpoint redefined with another parent moves there" branched
[ "$(virsh_parent out c3)" = c1 ] || fail "virsh: c3's parent is $(virsh_parent out c3)"
[ "$(xml_parent "$D/c1/c3/xml")" = c1 ] || fail "c1/c3/xml names parent $(xml_parent "$D/c1/c3/xml")"
check_tree out

# A document that changes while its parent stays (a redefinition with a
# description): the page cache held the old one, yet reads show the new one
# in full, and stat agrees with what is read.
X=$D/c1/c2/xml
cat "$X" >/dev/null && cat "$X" >"$SCRATCH/c2-before.xml" || fail "cannot read c2/xml"
[ "$(fincore -nb -o RES "$X" | tr -d ' ')" -gt 0 ] || fail "c2/xml is not in the page cache"
rd_xml=$LV_DIR/redefine-out-c2-described.xml
virsh_lv checkpoint-dumpxml out c2 >"$rd_xml" || fail "checkpoint-dumpxml out c2"
virsh_lv checkpoint-delete --metadata out c2 >/dev/null || fail "checkpoint-delete --metadata c2"
"$PYTHON" "$HELPERS/checkpoint_xml.py" add-description "$rd_xml" \
    "kept for the audit of $(printf 'x%.0s' $(seq 40))" || fail "cannot edit $rd_xml"
virsh_lv checkpoint-create --redefine out "$rd_xml" >/dev/null || fail "redefine c2 with a description"
described() { grep -q "kept for the audit of" "$X"; }
shows "a checkpoint redefined with a description under the same parent shows it" described
virsh_lv checkpoint-dumpxml out c2 >"$SCRATCH/c2-virsh.xml" || fail "checkpoint-dumpxml out c2"
for i in 1 2 3; do
    cmp -s "$X" "$SCRATCH/c2-virsh.xml" || fail "c2/xml read $i differs from virsh checkpoint-dumpxml"
    [ "$(stat -c %s "$X")" -eq "$(wc -c <"$SCRATCH/c2-virsh.xml")" ] ||
        fail "c2/xml: stat size $(stat -c %s "$X"), document $(wc -c <"$SCRATCH/c2-virsh.xml") bytes"
done
pass "the changed document reads in full, the same as virsh's, and stat agrees"

# A change of the same size: c6 is made with a description, cached, then
# redefined with the description in capitals.  Size and time stay, so only
# the daemon can tell that the kernel's cached pages are stale.
virsh_lv checkpoint-create-as out c6 --description "kept for the audit of $(printf '%040d' 0)" \
    >/dev/null || fail "virsh creates c6"
c6_found() { [ -n "$(find "$D" -type d -name c6)" ]; }
wait_until 3 c6_found || fail "c6 does not show"
X=$(find "$D" -type d -name c6)/xml
cat "$X" >/dev/null && cat "$X" >/dev/null || fail "cannot read $X"
[ "$(fincore -nb -o RES "$X" | tr -d ' ')" -gt 0 ] || fail "c6/xml is not in the page cache"
rd_xml=$LV_DIR/redefine-out-c6.xml
virsh_lv checkpoint-dumpxml out c6 | sed 's/kept for the audit of/KEPT FOR THE AUDIT OF/' >"$rd_xml" ||
    fail "checkpoint-dumpxml out c6"
virsh_lv checkpoint-delete --metadata out c6 >/dev/null || fail "checkpoint-delete --metadata c6"
virsh_lv checkpoint-create --redefine out "$rd_xml" >/dev/null || fail "redefine c6"
redescribed() { grep -q "KEPT FOR THE AUDIT OF" "$X"; }
shows "a description changed to one of the same length shows" redescribed
virsh_lv checkpoint-dumpxml out c6 >"$SCRATCH/c6-virsh.xml" || fail "checkpoint-dumpxml out c6"
cmp -s "$X" "$SCRATCH/c6-virsh.xml" || fail "c6/xml differs from virsh checkpoint-dumpxml"
pass "a same-size change is not hidden by the page cache"

cpfs_umount
pass "unmounted cleanly"
