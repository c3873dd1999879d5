#!/bin/sh
# The Debian package as an administrator uses it: scripts/package builds it
# (lintian: no errors, no warnings), `apt-get install ./checkpointfs_*.deb`
# installs it, `mount -t fuse.checkpointfs` mounts test:///default with the
# installed /usr/bin/checkpointfs (anything in /usr/local is hidden), mkdir
# and an xml work, umount unmounts, and `apt-get purge` removes every file
# `dpkg -L` listed.  Changes the machine (installs, then purges), so it runs
# as root in its own suite: meson test --suite package.
if [ -z "${CPFS_PACKAGE_IN_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
    for tool in dpkg-buildpackage dh lintian apt-get unshare; do
        command -v $tool >/dev/null 2>&1 ||
            { echo "SKIP: $tool is not installed (scripts/deps installs it)"; exit 77; }
    done
    # Someone's own install is not ours to purge.
    if dpkg-query -W -f='${Status}' checkpointfs 2>/dev/null | grep -q 'installed'; then
        echo "SKIP: checkpointfs is installed on this machine already"
        exit 77
    fi
    CPFS_PACKAGE_IN_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

. "$TESTS_SRC/lib.sh"
export DEBIAN_FRONTEND=noninteractive
SRC=$TESTS_SRC/..
DEB=$SCRATCH/deb
FILES=$SCRATCH/dpkg-L

installed() {
    dpkg-query -W -f='${Status}' checkpointfs 2>/dev/null | grep -q 'ok installed'
}
# Whatever happens, the package does not stay on the machine.
trap 'st=$?; set +e; if installed; then apt-get purge -y -q checkpointfs >/dev/null; fi
      (exit $st); cleanup' EXIT

version=$(sed -n '1s/^checkpointfs (\([^)]*\)).*/\1/p' "$SRC/debian/changelog")
arch=$(dpkg --print-architecture)

# --- build ------------------------------------------------------------------
"$SRC/scripts/package" "$DEB" >"$SCRATCH/package.log" 2>&1 ||
    { tail -n 40 "$SCRATCH/package.log" >&2; fail "scripts/package failed"; }
for f in "checkpointfs_${version}_$arch.deb" "checkpointfs-dbgsym_${version}_$arch.deb" \
         "checkpointfs_${version}_$arch.changes"; do
    [ -f "$DEB/$f" ] || fail "scripts/package made no $f: $(ls "$DEB")"
done
! grep -E '^[EW]: ' "$DEB/lintian.log" || fail "lintian reports errors or warnings"
pass "scripts/package builds checkpointfs $version; lintian: no errors, no warnings"

# --- install ----------------------------------------------------------------
(cd "$DEB" && apt-get install -y -q "./checkpointfs_${version}_$arch.deb") >"$SCRATCH/apt.log" 2>&1 ||
    { tail -n 20 "$SCRATCH/apt.log" >&2; fail "apt-get install of the .deb failed"; }
installed || fail "checkpointfs is not installed after apt-get install"
dpkg -L checkpointfs >"$FILES"
for f in /usr/bin/checkpointfs /usr/share/man/man1/checkpointfs.1.gz \
         /usr/share/doc/checkpointfs/copyright \
         /usr/share/doc/checkpointfs/examples/var-lib-checkpointfs.mount \
         /usr/share/doc/checkpointfs/examples/fstab; do
    grep -qxF "$f" "$FILES" && [ -f "$f" ] || fail "the package does not install $f"
done
/usr/bin/checkpointfs -V | grep -qx "checkpointfs version $version" ||
    fail "the installed binary is not version $version: $(/usr/bin/checkpointfs -V)"
pass "apt-get install ./checkpointfs_${version}_$arch.deb: binary, man page, examples"

# --- mount -t fuse.checkpointfs ------------------------------------------------
# mount.fuse3 looks for checkpointfs in its default PATH, /usr/local first:
# hide what may be there, so only the package's binary can answer.
mkdir "$SCRATCH/empty"
for d in /usr/local/sbin /usr/local/bin; do
    if [ -d "$d" ]; then
        mount --bind "$SCRATCH/empty" "$d" || fail "cannot hide $d"
    fi
done
mount -t fuse.checkpointfs test:///default "$MNT" || fail "mount -t fuse.checkpointfs failed"
pid=$(daemon_pids "$MNT")
[ -n "$pid" ] && [ "$(readlink -f "/proc/$pid/exe")" = /usr/bin/checkpointfs ] ||
    fail "the mount is not served by /usr/bin/checkpointfs (pid '$pid')"
[ "$(findmnt -n -o FSTYPE "$MNT")" = fuse.checkpointfs ] || fail "the mount's type is not fuse.checkpointfs"
mkdir "$MNT/test/packaged" || fail "mkdir on the installed binary's mount failed"
grep -q '<name>packaged</name>' "$MNT/test/packaged/xml" || fail "the new checkpoint's xml is wrong"
grep -q '<name>test</name>' "$MNT/test/xml" || fail "the domain's xml is wrong"
umount "$MNT" || fail "umount failed"
wait_until 10 sh -c "! kill -0 $pid" || fail "the daemon did not exit after umount"
pass "mount -t fuse.checkpointfs test:///default with the installed binary: mkdir, xml, umount"

# --- purge ------------------------------------------------------------------
apt-get purge -y -q checkpointfs >"$SCRATCH/apt.log" 2>&1 ||
    { tail -n 20 "$SCRATCH/apt.log" >&2; fail "apt-get purge failed"; }
! dpkg-query -W -f='${Status}' checkpointfs 2>/dev/null | grep -q 'installed' ||
    fail "dpkg still knows checkpointfs after purge: $(dpkg-query -W -f='${Status}' checkpointfs)"
left=
while read -r f; do
    [ -d "$f" ] && continue   # directories are shared (/usr/bin)
    [ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$FILES"
[ -z "$left" ] || fail "files left after purge:$left"
[ ! -d /usr/share/doc/checkpointfs ] || fail "/usr/share/doc/checkpointfs is left after purge"
pass "apt-get purge removes every file dpkg -L listed"
