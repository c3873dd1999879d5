# Helpers for the real-hypervisor tier: a private libvirtd session daemon,
# run as an unprivileged user, with small QEMU domains (TCG, no OS).
# Source after tests/lib.sh.  Provides:
#   qemu_start_libvirtd      start the daemon; sets LV_URI, LV_DIR
#   qemu_define NAME [--disks N] [--raw] [--off] [--password PW]
#                            define (and unless --off, start) a domain
#   virsh_lv ARGS...         virsh on the test daemon
#   qemu_bitmaps DOM         names of the dirty bitmaps of DOM's disks, one
#                            "node bitmap" pair a line, sorted
#   virsh_parent DOM CP      CP's parent as virsh reports it, "-" for a root
#   virsh_checkpoints DOM    DOM's checkpoint names as virsh lists them, sorted
#   mnt_checkpoints DOM      the checkpoint directories under $MNT/DOM, sorted
#   xml_parent FILE          <parent><name> of a checkpoint XML file, or "-"
#   check_tree DOM           the mount's tree of DOM agrees with virsh: same
#                            names, every directory's parent directory is
#                            virsh's parent, and so is its xml's <parent>
#   redefine_parent DOM CP P re-attach CP below P from outside (REDEFINE)
#   cpfs_calls               the daemon's count of libvirt calls so far
# The daemon is stopped by its pid when the test exits.

LV_USER_ID=65534
LV_DIR=$SCRATCH/libvirt
LV_PID=

command -v libvirtd >/dev/null || skip "libvirtd is not installed (scripts/deps --qemu)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
command -v qemu-img >/dev/null || skip "qemu-img is not installed"

as_lv_user() {
    setpriv --reuid=$LV_USER_ID --regid=$LV_USER_ID --clear-groups "$@"
}

qemu_cleanup() {
    if [ -n "$LV_PID" ] && kill -0 "$LV_PID" 2>/dev/null; then
        # Domains die with their daemon's session; stop them first, quickly.
        for d in $(virsh_lv list --name 2>/dev/null); do
            virsh_lv destroy "$d" >/dev/null 2>&1 || true
        done
        kill "$LV_PID" 2>/dev/null || true
        wait_until 10 sh -c "! kill -0 $LV_PID" || kill -9 "$LV_PID" 2>/dev/null || true
    fi
    # Any QEMU left over from this daemon.
    pkill -9 -f "qemu-system-x86_64.*$LV_DIR" 2>/dev/null || true
}

# lib.sh's cleanup runs on EXIT; chain ours in front of it.  cleanup takes
# the exit status from $?, so hand it the test's own status, not the one of
# qemu_cleanup (which would turn every failure into a pass).
trap 'lv_status=$?; set +e; qemu_report $lv_status; qemu_cleanup; (exit $lv_status); cleanup' EXIT

# qemu_report STATUS: after a failure, whether libvirtd still ran and the end
# of its log, since a lost libvirtd explains many a failure.
qemu_report() {
    [ "$1" -ne 0 ] && [ "$1" -ne 77 ] && [ -n "$LV_PID" ] || return 0
    if kill -0 "$LV_PID" 2>/dev/null; then
        echo "--- libvirtd (pid $LV_PID) was still running ---" >&2
    else
        echo "--- libvirtd (pid $LV_PID) was NOT running any more ---" >&2
    fi
    if [ -s "$LV_DIR/libvirtd.log" ]; then
        echo "--- libvirtd log (last 15 lines) ---" >&2
        tail -n 15 "$LV_DIR/libvirtd.log" >&2
    fi
}

# launch_libvirtd: starts the daemon in the background on $LV_DIR; sets
# LV_PID.  exec, so that $! is libvirtd itself and kill reaches it.
launch_libvirtd() {
    (
        export HOME=$LV_DIR XDG_CONFIG_HOME=$LV_DIR/config \
            XDG_CACHE_HOME=$LV_DIR/cache XDG_RUNTIME_DIR=$LV_DIR/run
        exec setpriv --reuid=$LV_USER_ID --regid=$LV_USER_ID --clear-groups \
            libvirtd --timeout=900
    ) >>"$LV_DIR/libvirtd.log" 2>&1 &
    LV_PID=$!
}

qemu_start_libvirtd() {
    mkdir -p "$LV_DIR/config" "$LV_DIR/cache" "$LV_DIR/run" "$LV_DIR/images"
    chmod 755 "$SCRATCH"
    chown -R $LV_USER_ID:$LV_USER_ID "$LV_DIR"
    LV_SOCK=$LV_DIR/run/libvirt/libvirt-sock
    LV_URI="qemu+unix:///session?socket=$LV_SOCK"
    launch_libvirtd
    wait_until 30 test -S "$LV_SOCK" || fail "libvirtd did not start: $(tail -5 "$LV_DIR/libvirtd.log")"
    wait_until 30 virsh -c "$LV_URI" version || fail "libvirtd does not answer"
}

virsh_lv() {
    virsh -q -c "$LV_URI" "$@"
}

qemu_define() {
    name=$1; shift
    disks=1 format=qcow2 start=1 password=
    while [ $# -gt 0 ]; do
        case $1 in
            --disks) disks=$2; shift ;;
            --raw) format=raw ;;
            --off) start=0 ;;
            --password) password=$2; shift ;;
        esac
        shift
    done
    xml=$LV_DIR/$name.xml
    {
        echo "<domain type='qemu'><name>$name</name>"
        echo "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        echo "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
        echo "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
        i=0
        for dev in vda vdb vdc vdd; do
            [ $i -lt "$disks" ] || break
            img=$LV_DIR/images/$name-$dev.$format
            as_lv_user qemu-img create -q -f "$format" "$img" 64M
            echo "<disk type='file' device='disk'><driver name='qemu' type='$format'/>"
            echo "<source file='$img'/><target dev='$dev' bus='virtio'/></disk>"
            i=$((i + 1))
        done
        if [ -n "$password" ]; then
            echo "<graphics type='vnc' port='-1' listen='127.0.0.1' passwd='$password'/>"
        fi
        echo "</devices></domain>"
    } >"$xml"
    virsh_lv define "$xml" >/dev/null || fail "cannot define $name"
    if [ "$start" = 1 ]; then
        virsh_lv start "$name" >/dev/null || fail "cannot start $name"
    fi
}

# qemu_bitmaps DOM: "node bitmap" lines for the persistent dirty bitmaps of
# every block node of DOM, sorted.
qemu_bitmaps() {
    virsh_lv qemu-monitor-command "$1" '{"execute":"query-named-block-nodes"}' |
        "$PYTHON" -c '
import json, sys
for node in json.load(sys.stdin)["return"]:
    if node.get("drv") != "qcow2":
        continue
    for bm in node.get("dirty-bitmaps", []):
        if bm.get("persistent"):
            print(node["file"].rsplit("/", 1)[-1], bm["name"])
' | sort
}

# virsh_parent DOM CP: the parent virsh reports for CP, or "-" for a root.
virsh_parent() {
    p=$(virsh_lv checkpoint-parent "$1" "$2" 2>/dev/null) || p=-
    echo "${p:--}"
}

# qemu_restart_libvirtd: starts the test daemon again on the same state
# (after it was killed); its domains and checkpoints are still there.
qemu_restart_libvirtd() {
    launch_libvirtd
    wait_until 30 virsh -c "$LV_URI" version || fail "libvirtd did not come back"
}

# qemu_kill_libvirtd: kill -9, and wait until it is gone.
qemu_kill_libvirtd() {
    kill -9 "$LV_PID"
    wait "$LV_PID" 2>/dev/null || true
    rm -f "$LV_SOCK"
}

# tree_of_mount DOM: "checkpoint parent" lines (parent "-" for a root) as
# the mount shows them, sorted.
tree_of_mount() {
    (cd "$MNT/$1" && find . -mindepth 1 -type d) | sed 's|^\./||' |
        awk -F/ '{ print $NF, (NF > 1 ? $(NF-1) : "-") }' | sort
}

# tree_of_virsh DOM: the same lines as libvirt reports them.
tree_of_virsh() {
    virsh_lv checkpoint-list "$1" --parent | awk 'NF { print $1, ($5 == "" ? "-" : $5) }' | sort
}

# virsh_checkpoints DOM: DOM's checkpoint names according to virsh, sorted.
virsh_checkpoints() {
    virsh_lv checkpoint-list "$1" --name | sed '/^$/d' | sort
}

# mnt_checkpoints DOM: names of the checkpoint directories below $MNT/DOM.
mnt_checkpoints() {
    (cd "$MNT/$1" && find . -mindepth 1 -type d) | sed 's|.*/||' | sort
}

# xml_parent FILE: the <parent><name> of a checkpoint XML document, or "-".
xml_parent() {
    "$PYTHON" -c '
import sys
import xml.etree.ElementTree as ET
name = ET.parse(sys.argv[1]).getroot().findtext("parent/name")
print(name if name else "-")
' "$1"
}

# check_tree DOM: the mount shows DOM's checkpoints exactly as virsh does.
check_tree() {
    ct_dom=$1
    ct_virsh=$(virsh_checkpoints "$ct_dom")
    ct_mnt=$(mnt_checkpoints "$ct_dom")
    [ "$ct_virsh" = "$ct_mnt" ] ||
        fail "$ct_dom: virsh lists [$(echo $ct_virsh)], the mount [$(echo $ct_mnt)]"
    for ct_path in $(cd "$MNT/$ct_dom" && find . -mindepth 1 -type d | sed 's|^\./||'); do
        ct_cp=${ct_path##*/}
        case $ct_path in
            */*) ct_dir=${ct_path%/*}; ct_mparent=${ct_dir##*/} ;;
            *) ct_mparent=- ;;
        esac
        ct_vparent=$(virsh_parent "$ct_dom" "$ct_cp")
        ct_xparent=$(xml_parent "$MNT/$ct_dom/$ct_path/xml") ||
            fail "$ct_dom: cannot read $ct_path/xml"
        [ "$ct_mparent" = "$ct_vparent" ] ||
            fail "$ct_dom: $ct_path is below '$ct_mparent' in the mount, virsh says parent '$ct_vparent'"
        [ "$ct_xparent" = "$ct_vparent" ] ||
            fail "$ct_dom: $ct_path/xml names parent '$ct_xparent', virsh says '$ct_vparent'"
    done
}

# redefine_parent DOM CP NEWPARENT: from outside the mount, drops CP's
# metadata and redefines it with NEWPARENT as its parent (its bitmaps stay).
redefine_parent() {
    rp_xml=$LV_DIR/redefine-$1-$2.xml
    virsh_lv checkpoint-dumpxml "$1" "$2" >"$rp_xml" || fail "checkpoint-dumpxml $1 $2"
    virsh_lv checkpoint-delete --metadata "$1" "$2" >/dev/null ||
        fail "checkpoint-delete --metadata $1 $2"
    "$PYTHON" -c '
import sys
import xml.etree.ElementTree as ET
tree = ET.parse(sys.argv[1])
tree.getroot().find("parent/name").text = sys.argv[2]
tree.write(sys.argv[1])
' "$rp_xml" "$3" || fail "cannot edit $rp_xml"
    virsh_lv checkpoint-create "$1" "$rp_xml" --redefine >/dev/null ||
        fail "checkpoint-create --redefine $1 $2"
}

# cpfs_calls: the number of libvirt calls the daemon has made so far.
cpfs_calls() {
    "$PYTHON" -c '
import os, sys
print(os.getxattr(sys.argv[1], "user.checkpointfs.libvirt_calls").decode())
' "$MNT"
}
