#!/bin/bash
# Domains defined and undefined outside, 300 times over, leave the daemon's
# tables and RSS flat: a domain's state goes when libvirt says it is gone
# (issue 8: the per-domain table grew with every name ever seen).
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
cpfs_mount -o cache_timeout=1 "$LV_URI"
cycles=${CYCLES:-300}
# An inactive domain with no disks: enough for a directory and its xml.
xml=$LV_DIR/cycle.xml

cycle() {
    printf "<domain type='qemu'><name>cycle-%s</name><memory unit='MiB'>16</memory>%s</domain>\n" \
        "$1" "<os><type arch='x86_64' machine='pc'>hvm</type></os>" >"$xml"
    virsh_lv define "$xml" >/dev/null || fail "define cycle-$1"
    # The domain's event shows it at once; its listing and xml make state.
    wait_until 5 test -e "$MNT/cycle-$1/xml" || fail "cycle-$1 does not show"
    cat "$MNT/cycle-$1/xml" >/dev/null || fail "cat cycle-$1/xml"
    virsh_lv undefine "cycle-$1" >/dev/null || fail "undefine cycle-$1"
    wait_until 5 sh -c "! test -e '$MNT/cycle-$1'" || fail "cycle-$1 does not go"
}

for i in $(seq 1 50); do cycle "$i"; done
rss_early=$(rss_kib "$CPFS_PID")
for i in $(seq 51 "$cycles"); do cycle "$i"; done
rss_late=$(rss_kib "$CPFS_PID")
domains=$(cache_stat domains) || fail "cannot read user.checkpointfs.cache"
handles=$(cache_stat handles)
documents=$(cache_stat documents)
echo "after $cycles cycles: domains=$domains handles=$handles documents=$documents" \
    "RSS ${rss_early} KiB at 50, ${rss_late} KiB at $cycles"
[ "$domains" -le 1 ] || fail "$domains domain states held with no domain defined"
[ "$handles" -le 1 ] || fail "$handles domains' handles held with no domain defined"
[ "$documents" -le 1 ] || fail "$documents documents held with no domain defined"
# AddressSanitizer holds freed memory in quarantine: RSS means nothing there.
if ldd "$CHECKPOINTFS" | grep -q libasan; then
    echo "sanitizer build: RSS not judged"
else
    [ $((rss_late - rss_early)) -le 2048 ] ||
        fail "RSS grew from $rss_early to $rss_late KiB over $((cycles - 50)) cycles"
fi
pass "$cycles define/undefine cycles: tables empty, RSS $rss_early -> $rss_late KiB"
cpfs_umount
