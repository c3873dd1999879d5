#!/bin/bash
# The connection breaks inside the delete of a misplaced checkpoint: libvirt
# deleted it, the daemon never heard (issue 8, fault 2: EIO, and no
# "outcome unknown").  The daemon waits for the reconnection and looks:
# the checkpoint is gone, so mkdir is refused with EPERM, nothing left.
. "$TESTS_SRC/lib.sh"
. "$TESTS_SRC/qemu/lib-qemu.sh"
qemu_start_libvirtd
qemu_define br
proxy_sock=$SCRATCH/proxy.sock
cut=$SCRATCH/cut
# The delete request (procedure 417, libvirt 9.0) of checkpoint x.
"$PYTHON" "$HELPERS/rpc_cut_proxy.py" "$proxy_sock" "$LV_SOCK" "x" "$cut" --before --proc 417 &
wait_until 10 test -S "$proxy_sock" || fail "the proxy did not start"
cpfs_mount -o cache_timeout=1 "qemu+unix:///session?socket=$proxy_sock"
D=$MNT/br

# A branch c1 -> {c2, c3} with libvirt's current c2 (as in q-branch).
mkdir "$D/c1" "$D/c1/c2" "$D/c1/c2/c3" || fail "mkdir of the chain c1/c2/c3"
redefine_parent br c3 c1
wait_until 3 sh -c "[ -d '$D/c1/c3' ] && [ ! -e '$D/c1/c2/c3' ]" || fail "the branch did not show"
cps_before=$(virsh_checkpoints br) || fail "virsh cannot list the checkpoints"

# libvirt puts x below c2, not c3: the daemon deletes it, the cut hides the answer.
got=$(errno_of mkdir "$D/c1/c3/x")
[ -e "$cut" ] || fail "the proxy never cut the delete (mkdir gave $got)"
[ "$got" = EPERM ] || fail "mkdir under the non-current leaf gave $got, expected EPERM"
log_has "delete misplaced checkpoint 'x' was cut off; after reconnecting the checkpoint does not exist"
[ "$(virsh_checkpoints br)" = "$cps_before" ] || fail "checkpoints left: $(virsh_checkpoints br | tr '\n' ' ')"
pass "a misplaced create's delete cut off: the daemon looked, EPERM, nothing left"
cpfs_umount
