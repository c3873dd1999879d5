#!/bin/sh
# A node XML with several domains (alpha, beta with two disks, gamma-off shut
# off): every domain is listed with its XML, checkpoints stay in their domain.
. "$TESTS_SRC/lib.sh"

. "$TESTS_SRC/lib-checkpoints.sh"

URI="test://$TESTS_SRC/data/node.xml"
command -v virsh >/dev/null || skip "no virsh to compare domain XML with"
cpfs_mount "$URI"

# --- every domain, running or not, is a directory with its xml.
[ "$(ls "$MNT" | tr '\n' ' ')" = "alpha beta gamma-off " ] ||
    bad "mount root lists '$(ls "$MNT" | tr '\n' ' ')', expected alpha beta gamma-off"
for dom in alpha beta gamma-off; do
    [ "$(stat -c '%F %a' "$MNT/$dom")" = "directory 755" ] || bad "$dom is '$(stat -c '%F %a' "$MNT/$dom")'"
    [ "$(stat -c '%F %a' "$MNT/$dom/xml")" = "regular file 444" ] || bad "$dom/xml is '$(stat -c '%F %a' "$MNT/$dom/xml")'"
    [ "$(ls "$MNT/$dom")" = xml ] || bad "$dom lists '$(ls "$MNT/$dom" | tr '\n' ' ')' before any checkpoint"
    # virsh opens its own test driver on the same file: same domains.
    want=$(virsh -c "$URI" dumpxml "$dom") || fail "virsh dumpxml $dom failed"
    got=$(cat "$MNT/$dom/xml") || { bad "cat $dom/xml failed"; continue; }
    [ "$got" = "$want" ] || bad "$dom/xml differs from virsh dumpxml $dom"
    size=$(stat -c %s "$MNT/$dom/xml") && bytes=$(wc -c <"$MNT/$dom/xml") &&
        [ "$size" = "$bytes" ] || bad "$dom/xml: stat size is not the read size"
done
section "alpha, beta and gamma-off are listed, each xml is virsh dumpxml"

# --- the shut-off domain has no checkpoints and cannot get one.
log_mark
expect_errno ENOTSUP mkdir "$MNT/gamma-off/g1"
log_new_has "inactive domain" || bad "ENOTSUP on gamma-off did not log libvirt's message"
[ "$(ls "$MNT/gamma-off")" = xml ] || bad "gamma-off lists '$(ls "$MNT/gamma-off" | tr '\n' ' ')' after ENOTSUP"
[ "$(errno_of lstat "$MNT/gamma-off/g1")" = ENOENT ] || bad "gamma-off/g1 exists after ENOTSUP"
section "gamma-off: no checkpoints, mkdir gives ENOTSUP"

# --- checkpoints of one domain stay in it.
mk "$MNT/alpha/a1" ""
mk "$MNT/alpha/a1/a2" a1
[ "$(ls "$MNT/beta")" = xml ] || bad "beta lists '$(ls "$MNT/beta" | tr '\n' ' ')' after mkdir in alpha"
[ "$(errno_of lstat "$MNT/beta/a1")" = ENOENT ] || bad "alpha's a1 resolves in beta"
[ "$(ls "$MNT/gamma-off")" = xml ] || bad "gamma-off lists '$(ls "$MNT/gamma-off" | tr '\n' ' ')' after mkdir in alpha"
# beta is still empty, so mkdir in its directory makes a root there.
mk "$MNT/beta/b1" ""
mk "$MNT/beta/b1/a1" b1    # a1 is alpha's name, free in beta
[ "$(cpx tree "$MNT/alpha")" = "a1 a1/a2" ] || bad "alpha holds '$(cpx tree "$MNT/alpha")'"
[ "$(cpx tree "$MNT/beta")" = "b1 b1/a1" ] || bad "beta holds '$(cpx tree "$MNT/beta")'"
[ "$(cpx get "$MNT/alpha/a1" domain)" = alpha ] || bad "alpha/a1/xml describes domain '$(cpx get "$MNT/alpha/a1" domain)'"
[ "$(cpx get "$MNT/beta/b1/a1" domain)" = beta ] || bad "beta/b1/a1/xml describes domain '$(cpx get "$MNT/beta/b1/a1" domain)'"
section "checkpoints in alpha do not appear in beta"

# --- a checkpoint covers the domain's disks: beta has two.
[ "$(cpx get "$MNT/beta/b1" disks)" = "vda vdb" ] || bad "beta/b1 covers disks '$(cpx get "$MNT/beta/b1" disks)', expected vda vdb"
[ "$(cpx get "$MNT/beta/b1/a1" disks)" = "vda vdb" ] || bad "beta/b1/a1 covers disks '$(cpx get "$MNT/beta/b1/a1" disks)'"
[ "$(cpx get "$MNT/alpha/a1" disks)" = "vda" ] || bad "alpha/a1 covers disks '$(cpx get "$MNT/alpha/a1" disks)', expected vda"
section "beta's checkpoint lists disks vda and vdb"

# --- deleting in one domain leaves the other alone; domains are never removed.
rmdir "$MNT/alpha/a1" || bad "rmdir alpha/a1 failed"
[ "$(cpx tree "$MNT/alpha")" = "a2" ] || bad "alpha holds '$(cpx tree "$MNT/alpha")' after rmdir a1"
[ "$(cpx tree "$MNT/beta")" = "b1 b1/a1" ] || bad "rmdir in alpha changed beta to '$(cpx tree "$MNT/beta")'"
expect_errno EPERM rmdir "$MNT/gamma-off"
expect_errno EPERM rmdir "$MNT/beta"
[ "$(ls "$MNT" | tr '\n' ' ')" = "alpha beta gamma-off " ] || bad "domains changed after rmdir"
for dom in alpha beta gamma-off; do
    check_tree "$MNT/$dom" chain
done

# --- after the cache expired, libvirt's listing says the same.
when_cache_expired
[ "$(ls "$MNT" | tr '\n' ' ')" = "alpha beta gamma-off " ] || bad "domains changed after the cache expired"
[ "$(cpx tree "$MNT/alpha")" = "a2" ] || bad "alpha holds '$(cpx tree "$MNT/alpha")' after the cache expired"
[ "$(cpx tree "$MNT/beta")" = "b1 b1/a1" ] || bad "beta holds '$(cpx tree "$MNT/beta")' after the cache expired"
[ "$(cpx count "$MNT/gamma-off")" = 0 ] || bad "gamma-off holds checkpoints after the cache expired"
for dom in alpha beta gamma-off; do
    want=$(virsh -c "$URI" dumpxml "$dom") || fail "virsh dumpxml $dom failed"
    got=$(cat "$MNT/$dom/xml") || { bad "cat $dom/xml failed at the end"; continue; }
    [ "$got" = "$want" ] || bad "$dom/xml differs from virsh dumpxml at the end"
done
section "domains are independent"

finish
