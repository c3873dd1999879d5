# Helpers for the real-hypervisor tier: a private libvirtd session daemon,
# run as an unprivileged user, with small QEMU domains (TCG, no OS).
# Source after tests/lib.sh.  Provides:
#   qemu_start_libvirtd      start the daemon; sets LV_URI, LV_DIR
#   qemu_start_libvirtd_tcp PORT
#                            the same, the daemon also listening on TCP at
#                            127.0.0.1:PORT (no TLS, no auth); sets LV_TCP_URI
#   lv_start_extra DIR [PORT]
#                            a further libvirtd serving the test driver, on
#                            its own socket (and TCP PORT); sets LVX_PID,
#                            LVX_SOCK
#   cpfs_mount_second DIR LOG [OPTIONS and URI...]
#                            another checkpointfs daemon on DIR; sets CPFS2_PID
#   qemu_define NAME [--disks N] [--raw] [--off] [--password PW]
#                            define (and unless --off, start) a domain
#   virsh_lv ARGS...         virsh on the test daemon
#   qemu_bitmaps DOM         names of the dirty bitmaps of DOM's disks, one
#                            "node bitmap" pair a line, sorted
#   virsh_parent DOM CP      CP's parent as virsh reports it, "-" for a root
#   virsh_checkpoints DOM    DOM's checkpoint names as virsh lists them, sorted
#   mnt_checkpoints DOM      the checkpoint directories under $MNT/DOM, sorted
#   tree_of_mount DOM, tree_of_virsh DOM
#                            "checkpoint parent" lines, as the mount and as
#                            virsh show them
#   trees_agree DOM          the two are the same
#   xml_parent FILE          <parent><name> of a checkpoint XML file, or "-"
#   check_tree DOM           the mount's tree of DOM agrees with virsh: same
#                            names, every directory's parent directory is
#                            virsh's parent, and so is its xml's <parent>
#   redefine_parent DOM CP P re-attach CP below P from outside (REDEFINE)
#   cpfs_calls               the daemon's count of libvirt calls so far
#   guest_write DOM DISK PATTERN OFFSET LENGTH, guest_zero DOM DISK OFFSET LENGTH
#                            write (zeroes) through QEMU's block layer, as a
#                            guest would: dirty bitmaps record it; flushed
#   disk_image DOM DISK      the path of the disk's image file
#   backup_uri FILE          the NBD URI of an open backup file's job
#   backup_socket FILE       the unix socket of that URI
#   backup_mount [OPTIONS]   cpfs_mount of $LV_URI, scratch files in $LV_SCRATCH
#   scratch_files            the scratch files there, one line
#   backup_running DOM, backup_ended DOM
#                            a backup job runs / none runs on DOM
#   qemu_backup_begin DOM CHECKPOINT|- DISK...
#                            another tool's pull-mode job (virsh backup-begin)
#                            on DISK...; its socket is $QEMU_JOB/nbd.sock
#   qemu_block_node DOM DISK the node name of DISK's qcow2 node (for QMP)
# The helpers that print a listing return 1 with a message on stderr when
# virsh or the mount fails, printing nothing: assign their output first
# (x=$(virsh_checkpoints D) fails the test under set -e), since
# [ -z "$(virsh_checkpoints D)" ] would pass on a failure.
# The daemon and its QEMUs are stopped by their pids when the test exits.

LV_USER_ID=65534
LV_DIR=$SCRATCH/libvirt
# libvirt's scratch files of the backup jobs (-o backup_scratch): the test's
# own, so that none is left in /var/tmp.
LV_SCRATCH=$LV_DIR/scratch
LV_PID=
# --listen when the daemon serves TCP too (qemu_start_libvirtd_tcp).
LV_LISTEN=
# A second checkpointfs mount of the test (cpfs_mount_second).
CPFS2_MNT= CPFS2_PID=
# The pids of further libvirtds (lv_start_extra).
LV_EXTRA_PIDS=

command -v libvirtd >/dev/null || skip "libvirtd is not installed (scripts/deps --qemu)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
command -v qemu-img >/dev/null || skip "qemu-img is not installed"

as_lv_user() {
    setpriv --reuid=$LV_USER_ID --regid=$LV_USER_ID --clear-groups "$@"
}

qemu_cleanup() {
    # The further daemons (lv_start_extra); one may be frozen (SIGSTOP).
    for lx_pid in $LV_EXTRA_PIDS; do
        kill -CONT "$lx_pid" 2>/dev/null || true
        kill "$lx_pid" 2>/dev/null || true
        wait_until 10 sh -c "! kill -0 $lx_pid" || kill -9 "$lx_pid" 2>/dev/null || true
    done
    if [ -n "$CPFS2_MNT" ] && grep -qF " $CPFS2_MNT fuse" /proc/self/mounts 2>/dev/null; then
        fusermount3 -u "$CPFS2_MNT" 2>/dev/null || fusermount3 -uz "$CPFS2_MNT" 2>/dev/null || true
    fi
    if [ -n "$CPFS2_PID" ] && kill -0 "$CPFS2_PID" 2>/dev/null; then
        kill "$CPFS2_PID" 2>/dev/null || true
    fi
    if [ -n "$LV_PID" ] && kill -0 "$LV_PID" 2>/dev/null; then
        # Domains die with their daemon's session; stop them first, quickly.
        for d in $(virsh_lv list --name 2>/dev/null); do
            virsh_lv destroy "$d" >/dev/null 2>&1 || true
        done
        kill "$LV_PID" 2>/dev/null || true
        wait_until 10 sh -c "! kill -0 $LV_PID" || kill -9 "$LV_PID" 2>/dev/null || true
    fi
    # Any QEMU left over from this daemon (killed with -9, its domains not
    # destroyed), by the pid files it wrote; the command line must name our
    # folder, lest a reused pid be someone else's.
    # (driver.pid there is libvirtd's own.)
    for pidfile in "$LV_DIR"/run/libvirt/qemu/run/*.pid; do
        [ -f "$pidfile" ] && [ "${pidfile##*/}" != driver.pid ] || continue
        qpid=$(cat "$pidfile" 2>/dev/null) || continue
        if tr '\0' ' ' 2>/dev/null <"/proc/$qpid/cmdline" | grep -qF "$LV_DIR"; then
            kill -9 "$qpid" 2>/dev/null || true
        fi
    done
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
            libvirtd --timeout=900 $LV_LISTEN
    ) >>"$LV_DIR/libvirtd.log" 2>&1 &
    LV_PID=$!
}

qemu_start_libvirtd() {
    mkdir -p "$LV_DIR/config" "$LV_DIR/cache" "$LV_DIR/run" "$LV_DIR/images" "$LV_SCRATCH"
    chmod 755 "$SCRATCH"
    chown -R $LV_USER_ID:$LV_USER_ID "$LV_DIR"
    LV_SOCK=$LV_DIR/run/libvirt/libvirt-sock
    LV_URI="qemu+unix:///session?socket=$LV_SOCK"
    launch_libvirtd
    wait_until 30 test -S "$LV_SOCK" || fail "libvirtd did not start: $(tail -5 "$LV_DIR/libvirtd.log")"
    wait_until 30 virsh -c "$LV_URI" version || fail "libvirtd does not answer"
}

# qemu_start_libvirtd_tcp PORT: qemu_start_libvirtd, the daemon listening on
# 127.0.0.1:PORT as well, TCP without TLS or authentication (loopback only:
# anyone on this machine may use it for the test's life).  A session daemon
# reads its libvirtd.conf from $XDG_CONFIG_HOME/libvirt.
qemu_start_libvirtd_tcp() {
    mkdir -p "$LV_DIR/config/libvirt"
    {
        echo 'listen_tls = 0'
        echo 'listen_tcp = 1'
        echo "tcp_port = \"$1\""
        echo 'listen_addr = "127.0.0.1"'
        echo 'auth_tcp = "none"'
    } >"$LV_DIR/config/libvirt/libvirtd.conf"
    LV_LISTEN=--listen
    qemu_start_libvirtd
    LV_TCP_URI=qemu+tcp://127.0.0.1:$1/session
    wait_until 30 virsh -c "$LV_TCP_URI" version ||
        fail "libvirtd does not answer on $LV_TCP_URI: $(tail -5 "$LV_DIR/libvirtd.log")"
}

# lv_start_extra DIR [PORT]: another private session libvirtd, with DIR as
# its home and runtime folder and no domains: it serves the test driver,
# each client connection its own state (test+unix:///default?socket=
# $LVX_SOCK); with PORT it also listens on 127.0.0.1:PORT, TCP without TLS
# or authentication (test+tcp://127.0.0.1:PORT/default).  Sets LVX_PID and
# LVX_SOCK; stopped by its pid when the test exits.
lv_start_extra() {
    lx_dir=$1 lx_listen=
    mkdir -p "$lx_dir/config/libvirt" "$lx_dir/cache" "$lx_dir/run"
    if [ -n "${2:-}" ]; then
        {
            echo 'listen_tls = 0'
            echo 'listen_tcp = 1'
            echo "tcp_port = \"$2\""
            echo 'listen_addr = "127.0.0.1"'
            echo 'auth_tcp = "none"'
        } >"$lx_dir/config/libvirt/libvirtd.conf"
        lx_listen=--listen
    fi
    chmod 755 "$SCRATCH"
    chown -R $LV_USER_ID:$LV_USER_ID "$lx_dir"
    (
        export HOME=$lx_dir XDG_CONFIG_HOME=$lx_dir/config \
            XDG_CACHE_HOME=$lx_dir/cache XDG_RUNTIME_DIR=$lx_dir/run
        exec setpriv --reuid=$LV_USER_ID --regid=$LV_USER_ID --clear-groups \
            libvirtd --timeout=900 $lx_listen
    ) >>"$lx_dir/libvirtd.log" 2>&1 &
    LVX_PID=$!
    LV_EXTRA_PIDS="$LV_EXTRA_PIDS $LVX_PID"
    LVX_SOCK=$lx_dir/run/libvirt/libvirt-sock
    wait_until 30 test -S "$LVX_SOCK" || fail "libvirtd in $lx_dir did not start: $(tail -5 "$lx_dir/libvirtd.log")"
    wait_until 30 virsh -c "test+unix:///default?socket=$LVX_SOCK" version ||
        fail "libvirtd in $lx_dir does not answer"
    if [ -n "${2:-}" ]; then
        wait_until 30 virsh -c "test+tcp://127.0.0.1:$2/default" version ||
            fail "libvirtd in $lx_dir does not answer on 127.0.0.1:$2: $(tail -5 "$lx_dir/libvirtd.log")"
    fi
}

# cpfs_mount_second DIR LOG [checkpointfs options and URI...]: mounts another
# daemon on DIR, logging to LOG; sets CPFS2_PID; returns once mounted.  It is
# unmounted and stopped when the test exits.
cpfs_mount_second() {
    CPFS2_MNT=$1 cm_log=$2; shift 2
    mkdir -p "$CPFS2_MNT"
    "$CHECKPOINTFS" -f "$@" "$CPFS2_MNT" >"$cm_log" 2>&1 &
    CPFS2_PID=$!
    wait_until 20 mountpoint -q "$CPFS2_MNT" ||
        fail "the second checkpointfs did not mount: $(tail -5 "$cm_log")"
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
    qb_json=$(virsh_lv qemu-monitor-command "$1" '{"execute":"query-named-block-nodes"}') ||
        { echo "FAIL: virsh qemu-monitor-command $1 failed" >&2; return 1; }
    qb_lines=$(printf '%s' "$qb_json" | "$PYTHON" "$HELPERS/qemu_bitmaps.py" block-nodes) ||
        return 1
    [ -z "$qb_lines" ] || printf '%s\n' "$qb_lines" | sort
}

# virsh_parent DOM CP: the parent virsh reports for CP, or "-" for a root
# (virsh's "has no parent" error); any other failure prints nothing and
# returns 1, so that it never passes for a root.
virsh_parent() {
    if vp=$(LC_ALL=C virsh -q -c "$LV_URI" checkpoint-parent "$1" "$2" 2>"$SCRATCH/virsh-parent.err"); then
        echo "${vp:--}"
    elif grep -q "has no parent" "$SCRATCH/virsh-parent.err"; then
        echo -
    else
        echo "FAIL: virsh checkpoint-parent $1 $2: $(cat "$SCRATCH/virsh-parent.err")" >&2
        return 1
    fi
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
    mnt_dirs "$1" || return 1
    printf '%s' "$MNT_DIRS" | sed 's|^\./||' |
        awk -F/ 'NF { print $NF, (NF > 1 ? $(NF-1) : "-") }' | sort
}

# tree_of_virsh DOM: the same lines as libvirt reports them.
tree_of_virsh() {
    virsh_list "$1" --parent || return 1
    printf '%s' "$VIRSH_LIST" | awk 'NF { print $1, ($5 == "" ? "-" : $5) }' | sort
}

# trees_agree DOM: the mount shows DOM's checkpoints and parents as virsh does.
trees_agree() {
    ta_mount=$(tree_of_mount "$1") && ta_virsh=$(tree_of_virsh "$1") &&
        [ "$ta_mount" = "$ta_virsh" ]
}

# virsh_checkpoints DOM: DOM's checkpoint names according to virsh, sorted.
virsh_checkpoints() {
    virsh_list "$1" --name || return 1
    printf '%s' "$VIRSH_LIST" | sed '/^$/d' | sort
}

# mnt_checkpoints DOM: names of the checkpoint directories below $MNT/DOM.
mnt_checkpoints() {
    mnt_dirs "$1" || return 1
    printf '%s' "$MNT_DIRS" | sed '/^$/d; s|.*/||' | sort
}

# virsh_list DOM ARGS...: virsh checkpoint-list DOM ARGS into $VIRSH_LIST
# (one line each, newline-terminated); 1 with a message when virsh fails.
virsh_list() {
    vl_dom=$1; shift
    VIRSH_LIST=$(virsh_lv checkpoint-list "$vl_dom" "$@") ||
        { echo "FAIL: virsh checkpoint-list $vl_dom $* failed" >&2; return 1; }
    [ -z "$VIRSH_LIST" ] || VIRSH_LIST="$VIRSH_LIST
"
}

# mnt_dirs DOM: the directories below $MNT/DOM as find prints them (./a,
# ./a/b), into $MNT_DIRS; 1 with a message when find fails.
mnt_dirs() {
    MNT_DIRS=$(cd "$MNT/$1" && find . -mindepth 1 -type d) ||
        { echo "FAIL: find in $MNT/$1 failed" >&2; return 1; }
    [ -z "$MNT_DIRS" ] || MNT_DIRS="$MNT_DIRS
"
}

# xml_parent FILE: the <parent><name> of a checkpoint XML document, or "-".
xml_parent() {
    "$PYTHON" "$HELPERS/checkpoint_xml.py" parent "$1"
}

# check_tree DOM: the mount shows DOM's checkpoints exactly as virsh does.
check_tree() {
    ct_dom=$1
    ct_virsh=$(virsh_checkpoints "$ct_dom") || fail "$ct_dom: virsh cannot list the checkpoints"
    ct_mnt=$(mnt_checkpoints "$ct_dom") || fail "$ct_dom: cannot walk the mount"
    [ "$ct_virsh" = "$ct_mnt" ] ||
        fail "$ct_dom: virsh lists [$(echo $ct_virsh)], the mount [$(echo $ct_mnt)]"
    mnt_dirs "$ct_dom" || fail "$ct_dom: cannot walk the mount"
    for ct_path in $(printf '%s' "$MNT_DIRS" | sed 's|^\./||'); do
        ct_cp=${ct_path##*/}
        case $ct_path in
            */*) ct_dir=${ct_path%/*}; ct_mparent=${ct_dir##*/} ;;
            *) ct_mparent=- ;;
        esac
        ct_vparent=$(virsh_parent "$ct_dom" "$ct_cp") || fail "$ct_dom: no parent of $ct_cp from virsh"
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
    "$PYTHON" "$HELPERS/checkpoint_xml.py" set-parent "$rp_xml" "$3" || fail "cannot edit $rp_xml"
    virsh_lv checkpoint-create "$1" "$rp_xml" --redefine >/dev/null ||
        fail "checkpoint-create --redefine $1 $2"
}

# cpfs_calls: the number of libvirt calls the daemon has made so far.
cpfs_calls() {
    "$PYTHON" "$HELPERS/libvirt_calls.py" "$MNT"
}

# qemu_disk DOM DISK alias|source: the qdev alias or image file of DOM's
# disk DISK (vda), from the live domain XML.
qemu_disk() {
    qd_xml=$(virsh_lv dumpxml "$1") || { echo "FAIL: virsh dumpxml $1 failed" >&2; return 1; }
    printf '%s' "$qd_xml" | "$PYTHON" "$HELPERS/domain_disks.py" "$3" "$2"
}

# disk_image DOM DISK: the path of the disk's image file.
disk_image() {
    qemu_disk "$1" "$2" source
}

# qemu_io DOM DISK OFFSET LENGTH CMD: runs qemu-io's CMD (a write of OFFSET
# LENGTH) on DISK's device, flushes, reads the range back with READ (the
# last argument, a "read -P" that checks the bytes), and fails the test
# unless QEMU reports all of it done.  qemu-io prints its report on QEMU's
# stdout, i.e. into the domain's log, not into the HMP answer (which only
# carries errors such as an unknown device).
qemu_io() {
    qi_dom=$1 qi_disk=$2 qi_off=$3 qi_len=$4
    qi_alias=$(qemu_disk "$qi_dom" "$qi_disk" alias) || fail "$qi_dom has no disk $qi_disk"
    qi_dev=/machine/peripheral/$qi_alias/virtio-backend
    qi_log=$LV_DIR/cache/libvirt/qemu/log/$qi_dom.log
    qi_start=$(stat -c %s "$qi_log") || fail "no domain log $qi_log"
    for qi_cmd in "$5" flush "$6"; do
        qi_out=$(virsh_lv qemu-monitor-command "$qi_dom" --hmp "qemu-io -d $qi_dev \"$qi_cmd\"") ||
            fail "virsh qemu-monitor-command $qi_dom qemu-io '$qi_cmd' failed"
        [ -z "$(printf '%s' "$qi_out" | tr -d '[:space:]')" ] ||
            fail "qemu-io '$qi_cmd' on $qi_dom $qi_disk: $qi_out"
    done
    "$PYTHON" "$HELPERS/qemu_io_log.py" "$qi_log" "$qi_start" "$qi_off" "$qi_len" ||
        fail "qemu-io '$5' on $qi_dom $qi_disk did not complete"
}

# guest_write DOM DISK PATTERN OFFSET LENGTH: writes the byte PATTERN (0x5a)
# at OFFSET (8M, 64k: as qemu-io takes them), then flushes, so that the image
# file is current.
guest_write() {
    qemu_io "$1" "$2" "$4" "$5" "write -P $3 $4 $5" "read -P $3 $4 $5"
}

# guest_zero DOM DISK OFFSET LENGTH: writes zeroes (write -z: zero clusters
# in the image), then flushes.
guest_zero() {
    qemu_io "$1" "$2" "$3" "$4" "write -z $3 $4" "read -P 0 $3 $4"
}

# backup_uri FILE: the NBD URI of the job serving the backup file FILE,
# which must be open (the daemon says it in the xattr user.checkpointfs.nbd).
backup_uri() {
    getfattr --absolute-names -n user.checkpointfs.nbd --only-values "$1"
}

# backup_socket FILE: the unix socket in backup_uri FILE.
backup_socket() {
    bs_uri=$(backup_uri "$1") || return 1
    case $bs_uri in
        *"?socket="*) printf '%s\n' "${bs_uri#*\?socket=}" ;;
        *) echo "FAIL: $1: no unix socket in '$bs_uri'" >&2; return 1 ;;
    esac
}

# backup_running DOM: a backup job runs on DOM.
backup_running() {
    virsh_lv backup-dumpxml "$1" >/dev/null 2>&1
}

# backup_mount [OPTIONS]: mounts the test daemon with OPTIONS (a,b=c) and
# the backup jobs' scratch files in $LV_SCRATCH.
backup_mount() {
    cpfs_mount -o "backup_scratch=$LV_SCRATCH${1:+,$1}" "$LV_URI"
}

# scratch_files: the names in $LV_SCRATCH, on one line.
scratch_files() {
    ls -A "$LV_SCRATCH" | tr '\n' ' '
}

# backup_ended DOM: no backup job runs on DOM (virsh says so: a failing
# virsh does not count as none).
backup_ended() {
    be_info=$(virsh_lv domjobinfo "$1") || return 1
    ! backup_running "$1" && printf '%s\n' "$be_info" | grep -qE '^Job type: +None'
}

# qemu_backup_begin DOM CHECKPOINT|- DISK...: begins a pull-mode backup job
# on DOM as another tool would (incremental since CHECKPOINT, or full for
# -), exporting DISK... on the unix socket $QEMU_JOB/nbd.sock.
qemu_backup_begin() {
    qb_dom=$1 qb_cp=$2; shift 2
    QEMU_JOB=$LV_DIR/job-$qb_dom
    mkdir -p "$QEMU_JOB" && chown $LV_USER_ID "$QEMU_JOB"
    {
        echo "<domainbackup mode='pull'>"
        [ "$qb_cp" = - ] || echo "<incremental>$qb_cp</incremental>"
        echo "<server transport='unix' socket='$QEMU_JOB/nbd.sock'/><disks>"
        for qb_disk in "$@"; do
            echo "<disk name='$qb_disk' backup='yes' type='file'>"
            echo "<scratch file='$QEMU_JOB/$qb_disk.scratch'/></disk>"
        done
        echo "</disks></domainbackup>"
    } >"$QEMU_JOB/backup.xml"
    virsh_lv backup-begin "$qb_dom" "$QEMU_JOB/backup.xml" >/dev/null ||
        fail "virsh backup-begin $qb_dom failed"
}

# qemu_block_node DOM DISK: the node name of DISK's qcow2 node.
qemu_block_node() {
    qn_img=$(disk_image "$1" "$2") || return 1
    qn_json=$(virsh_lv qemu-monitor-command "$1" '{"execute":"query-named-block-nodes"}') ||
        { echo "FAIL: virsh qemu-monitor-command $1 failed" >&2; return 1; }
    printf '%s' "$qn_json" | "$PYTHON" "$HELPERS/qemu_bitmaps.py" node "$qn_img"
}

# data_runs FILE...: "START LENGTH" lines, lseek(SEEK_DATA/SEEK_HOLE) runs.
# nbd_data_runs URI: the runs base:allocation of an NBD export calls data.
# qcow2_runs IMAGE: the runs allocated in IMAGE itself (its backing ignored).
# ranges START:LENGTH...: the given runs, merged (sizes as qemu-io takes them).
data_runs() {
    "$PYTHON" "$HELPERS/extent_maps.py" seek "$1"
}
nbd_data_runs() {
    nd_map=$(nbdinfo --map "$1") || { echo "FAIL: nbdinfo --map $1" >&2; return 1; }
    printf '%s\n' "$nd_map" | "$PYTHON" "$HELPERS/extent_maps.py" nbd-data
}
qcow2_runs() {
    qr_map=$(qemu-img map -U --output=json \
        "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"$1\"},\"backing\":null}") ||
        { echo "FAIL: qemu-img map $1" >&2; return 1; }
    printf '%s\n' "$qr_map" | "$PYTHON" "$HELPERS/extent_maps.py" qcow2
}
ranges() {
    "$PYTHON" "$HELPERS/extent_maps.py" ranges "$@"
}

# fd_size FD: the size fstat reports for the shell's open FD.
fd_size() {
    "$PYTHON" "$HELPERS/open_fd.py" size "$1"
}
