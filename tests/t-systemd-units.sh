#!/bin/sh
# Boot: systemd's own tools read the fstab lines of examples/fstab and the
# example unit examples/var-lib-checkpointfs.mount.  systemd-fstab-generator
# turns each fstab line into a mount unit ordered after libvirtd, the remote
# line a remote mount; systemd-analyze verify loads each unit with its
# dependencies and finds no ordering cycle.  The same local line without
# nofail must show one (local-fs.target -> mount -> libvirtd ->
# local-fs.target), so the check can fail.  No systemd runs here: the tools
# work on files.
set -eu
TESTS_SRC=${TESTS_SRC:-$(cd "$(dirname "$0")" && pwd)}
EXAMPLES=$TESTS_SRC/../examples
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

GENERATOR=
for d in /lib/systemd/system-generators /usr/lib/systemd/system-generators; do
    [ -x "$d/systemd-fstab-generator" ] && GENERATOR=$d/systemd-fstab-generator && break
done
[ -n "$GENERATOR" ] && command -v systemd-analyze >/dev/null ||
    { echo "SKIP: systemd is not installed (scripts/deps installs it)"; exit 77; }

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cpfs-test.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

# libvirt's units: the installed ones, else stand-ins with their ordering.
UNITS=$SCRATCH/units
mkdir "$UNITS"
for u in libvirtd.service libvirtd.socket; do
    [ -e "/lib/systemd/system/$u" ] || [ -e "/usr/lib/systemd/system/$u" ] ||
        cp "$TESTS_SRC/data/systemd/$u" "$UNITS/"
done

# generate FSTAB: runs the generator on FSTAB into $SCRATCH/gen.
generate() {
    rm -rf "$SCRATCH/gen"
    mkdir -p "$SCRATCH/gen/normal" "$SCRATCH/gen/early" "$SCRATCH/gen/late"
    SYSTEMD_FSTAB=$1 "$GENERATOR" "$SCRATCH/gen/normal" "$SCRATCH/gen/early" "$SCRATCH/gen/late" ||
        fail "systemd-fstab-generator failed on $(cat "$1")"
}

# verify UNITFILE: systemd-analyze verify's report on UNITFILE, with the
# generated units and libvirt's on the unit path.
verify() {
    SYSTEMD_UNIT_PATH=$SCRATCH/gen/normal:$UNITS: systemd-analyze verify --man=no "$1" 2>&1 || true
}

# has UNITFILE LINE: UNITFILE holds LINE.
has() {
    grep -qxF "$2" "$1" || fail "$(basename "$1") lacks '$2':
$(cat "$1")"
}

# --- the documented fstab lines -------------------------------------------------
grep -E '^#?[a-z+]+://' "$EXAMPLES/fstab" | sed 's/^#//' >"$SCRATCH/fstab"
[ "$(wc -l <"$SCRATCH/fstab")" -eq 2 ] || fail "examples/fstab should hold a local and a remote line"
grep -qF ' fuse.checkpointfs ' "$SCRATCH/fstab" || fail "examples/fstab lines are not fuse.checkpointfs"
generate "$SCRATCH/fstab"

local_unit=$SCRATCH/gen/normal/var-lib-checkpointfs.mount
[ -f "$local_unit" ] || fail "no unit for /var/lib/checkpointfs: $(ls -R "$SCRATCH/gen")"
has "$local_unit" 'After=libvirtd.service'
has "$local_unit" 'Requires=libvirtd.socket'
has "$local_unit" 'Type=fuse.checkpointfs'
has "$local_unit" 'What=qemu:///system'
[ -L "$SCRATCH/gen/normal/local-fs.target.wants/var-lib-checkpointfs.mount" ] ||
    fail "the local mount is not started at boot (not wanted by local-fs.target)"
! grep -q '^Before=local-fs.target' "$local_unit" || fail "the local mount comes before local-fs.target"
report=$(verify "$local_unit")
! printf '%s\n' "$report" | grep -qi 'cycle' || fail "ordering cycle for the fstab line: $report"
pass "fstab line for qemu:///system: a unit after libvirtd, started at boot, no ordering cycle"

remote_unit=$(ls "$SCRATCH"/gen/normal/mnt-*.mount)
# _netdev makes it a network mount: wanted by remote-fs.target, and
# systemd orders such mounts after network-online.target.
[ -L "$SCRATCH/gen/normal/remote-fs.target.wants/$(basename "$remote_unit")" ] ||
    fail "the remote mount is not wanted by remote-fs.target"
report=$(verify "$remote_unit")
! printf '%s\n' "$report" | grep -qi 'cycle' || fail "ordering cycle for the remote line: $report"
pass "fstab line for qemu+ssh (_netdev): a remote mount (remote-fs.target), no cycle"

# Without nofail the local line is a boot-time ordering cycle.
grep 'qemu:///system' "$SCRATCH/fstab" | sed 's/nofail,//' >"$SCRATCH/fstab-nofail"
generate "$SCRATCH/fstab-nofail"
report=$(verify "$local_unit")
printf '%s\n' "$report" | grep -qi 'ordering cycle' ||
    fail "without nofail systemd-analyze should find an ordering cycle: $report"
pass "without nofail the same line is an ordering cycle, as documented"

# --- the example unit -------------------------------------------------------------
unit=$SCRATCH/var-lib-checkpointfs.mount
cp "$EXAMPLES/var-lib-checkpointfs.mount" "$unit"
has "$unit" 'What=qemu:///system'
has "$unit" 'Where=/var/lib/checkpointfs'
grep -qE '^After=.*libvirtd\.service' "$unit" || fail "the example unit is not ordered after libvirtd"
rm -rf "$SCRATCH/gen"; mkdir -p "$SCRATCH/gen/normal"
report=$(verify "$unit")
[ -z "$report" ] || fail "systemd-analyze verify reports on the example unit: $report"
pass "examples/var-lib-checkpointfs.mount: after libvirtd, systemd-analyze verify is silent"
