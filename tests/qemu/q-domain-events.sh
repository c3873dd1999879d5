#!/bin/sh
# Domain lifecycle events: with a long cache_timeout, a domain defined or
# undefined outside shows at once; one started or stopped outside keeps its
# directory and checkpoints, and its xml follows.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd

qemu_define ev
cpfs_mount -o cache_timeout=60 "$LV_URI"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
lists() { ls "$1" | grep -qx "$2"; }
root_links() { [ "$(stat -c %h "$MNT")" -eq $(( 2 + $1 )) ]; }

mkdir "$MNT/ev/c1" "$MNT/ev/c1/c2" || fail "mkdir ev/c1/c2"

# Warm every cache: the root listing, its link count, a negative lookup.
[ "$(ls "$MNT")" = ev ] || fail "the root lists $(ls "$MNT")"
root_links 1 || fail "root nlink $(stat -c %h "$MNT"), expected 3"
[ ! -e "$MNT/newdom" ] || fail "newdom exists before it is defined"

t0=$(now_ms)
qemu_define newdom --off
defined() { lists "$MNT" newdom && [ -d "$MNT/newdom" ] && root_links 2; }
wait_until 5 defined || fail "a domain defined outside did not show within 5 s (ls: $(ls "$MNT" | tr '\n' ' '), nlink $(stat -c %h "$MNT"))"
[ "$(ls "$MNT/newdom")" = xml ] || fail "newdom lists $(ls "$MNT/newdom")"
grep -q "<name>newdom</name>" "$MNT/newdom/xml" || fail "newdom/xml is not its description"
pass "a domain defined outside appears at once ($(( $(now_ms) - t0 )) ms, cache_timeout=60)"

t0=$(now_ms)
virsh_lv undefine newdom >/dev/null || fail "virsh undefine newdom"
undefined() { ! lists "$MNT" newdom && [ ! -e "$MNT/newdom" ] && root_links 1; }
wait_until 5 undefined || fail "a domain undefined outside did not go within 5 s (ls: $(ls "$MNT" | tr '\n' ' '))"
pass "a domain undefined outside disappears at once ($(( $(now_ms) - t0 )) ms)"

# Started and stopped outside.
X=$MNT/ev/xml
running_xml() { grep -q "<domain type='qemu' id='[0-9]*'" "$X"; }
size_right() { [ "$(stat -c %s "$X")" -eq "$(wc -c <"$X")" ]; }
running_xml || fail "the running domain's xml has no id: $(head -1 "$X")"
size_right || fail "ev/xml: stat says $(stat -c %s "$X") bytes, reading gives $(wc -c <"$X")"
size_running=$(stat -c %s "$X")
[ "$size_running" -gt 0 ] || fail "ev/xml is empty"

virsh_lv destroy ev >/dev/null || fail "virsh destroy ev"
stopped() { ! running_xml && size_right; }
wait_until 5 stopped || fail "after destroy: xml $(head -1 "$X"), stat $(stat -c %s "$X") bytes, read $(wc -c <"$X")"
[ "$(stat -c %s "$X")" -ne "$size_running" ] ||
    fail "test bug: the XML of the stopped domain has the running one's size"
[ -d "$MNT/ev/c1/c2" ] || fail "the stopped domain lost its checkpoints: $(ls -R "$MNT/ev")"
lists "$MNT" ev || fail "the stopped domain is not listed"
check_tree ev
pass "a domain stopped outside keeps its checkpoints; its xml shows it stopped, with the right size"

virsh_lv start ev >/dev/null || fail "virsh start ev"
started() { running_xml && size_right; }
wait_until 5 started || fail "after start: xml $(head -1 "$X"), stat $(stat -c %s "$X") bytes, read $(wc -c <"$X")"
[ -d "$MNT/ev/c1/c2" ] || fail "the restarted domain lost its checkpoints: $(ls -R "$MNT/ev")"
check_tree ev
pass "a domain started outside keeps its checkpoints; its xml shows it running"

cpfs_umount
pass "unmounted cleanly"
