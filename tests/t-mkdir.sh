#!/bin/sh
# mkdir creates a checkpoint: where it may, what it refuses with which errno,
# and that a refusal leaves nothing behind (issue 2, "mkdir creates a checkpoint").
. "$TESTS_SRC/lib.sh"

. "$TESTS_SRC/lib-checkpoints.sh"

# ===================== test:///default: domain "test" =====================
cpfs_mount test:///default
D=$MNT/test
[ "$(cpx count "$D")" = 0 ] || fail "test:///default starts with checkpoints"

# --- mkdir in an empty domain directory makes a root checkpoint; the mode
# argument (0700) is ignored; directory and xml are there when mkdir returns.
mk "$D/first" ""
section "mkdir in an empty domain makes a root checkpoint, there at once, mode 0755"

# --- mkdir in the leaf makes a child (syscall with mode 0700, then shell tools).
mk "$D/first/second" first
mkdir "$D/first/second/third" || fail "mkdir in the leaf failed"
st=$(stat -c '%F %a' "$D/first/second/third") || fail "stat right after mkdir failed"
[ "$st" = "directory 755" ] || bad "new checkpoint directory is '$st'"
[ "$(cpx get "$D/first/second/third" parent)" = second ] ||
    bad "third's xml does not name 'second' as its parent"
ls "$D/first/second" | grep -qx third || bad "ls of the leaf's parent does not show the new child"
section "mkdir in the leaf makes a child"

# coreutils' mkdir -m chmods after a mode-ignoring mkdir, and chmod is EPERM:
# as the man page says, the checkpoint is made (0755), then mkdir exits 1
# with one line naming the refused chmod (LC_ALL=C: coreutils' own words).
rc=0
LC_ALL=C mkdir -m 700 "$D/first/second/third/fourth" 2>"$SCRATCH/mkdir-m.err" || rc=$?
[ "$rc" -eq 1 ] || bad "mkdir -m 700 exited $rc, expected 1 (its chmod refused)"
[ "$(cat "$SCRATCH/mkdir-m.err")" = "mkdir: cannot change permissions of '$D/first/second/third/fourth': Operation not permitted" ] ||
    bad "mkdir -m 700 said '$(cat "$SCRATCH/mkdir-m.err")', expected that it cannot change permissions (EPERM)"
[ "$(stat -c '%a' "$D/first/second/third/fourth" 2>/dev/null)" = 755 ] ||
    bad "mkdir -m 700: no 0755 directory"
[ "$(cpx get "$D/first/second/third/fourth" parent)" = third ] ||
    bad "fourth's xml does not name 'third' as its parent"
section "mkdir -m 700 makes the checkpoint, 0755, then exits 1: its chmod is refused"
LEAF=$D/first/second/third/fourth
check_tree "$D" chain

# refused ERRNO PATH [LOGREGEX]: mkdir PATH fails with ERRNO, creates no
# checkpoint in domain directory $D, and (with LOGREGEX) logs a new line.
refused() {
    r_before=$(cpx names "$D")
    log_mark
    r_got=$(errno_of mkdir "$2")
    [ "$r_got" = "$1" ] || bad "mkdir '$2' gave $r_got, expected $1"
    r_after=$(cpx names "$D")
    [ "$r_after" = "$r_before" ] || bad "mkdir '$2' changed the checkpoints: '$r_before' -> '$r_after'"
    # A name too long to exist cannot even be looked up (lookup says so too).
    r_absent=ENOENT
    [ "$1" != ENAMETOOLONG ] || r_absent=ENAMETOOLONG
    if [ "$1" != EEXIST ] && [ "$(errno_of lstat "$2")" != "$r_absent" ]; then
        bad "'$2' exists after mkdir was refused"
    fi
    if [ $# -ge 3 ]; then
        log_new_has "$3" || bad "mkdir '$2' ($1) logged no line matching /$3/"
    fi
}

# --- EEXIST: the name exists elsewhere in the domain, or is "xml".
refused EEXIST "$LEAF/first" "first"
refused EEXIST "$LEAF/second" "second"
refused EEXIST "$LEAF/fourth" "fourth"     # the leaf's own name
refused EEXIST "$D/first/second" # same directory: the kernel answers itself
refused EEXIST "$LEAF/xml"
refused EEXIST "$D/xml"
section "EEXIST for a name used anywhere in the domain and for 'xml'"

# --- EINVAL, before libvirt is asked: libvirt's own refusal would log its
# schema message, and our log must name the refused mkdir.
for name in .x .hidden 'a b' 'é' 'a*' 'a:b' 'a@b' "a'b" 'a"b' '<x>' 'a&b' 'a\b' \
            "$(printf 'a\tb')" "$(printf 'na\357\277\275me')" 'a+b' '~a' 'a,b'; do
    refused EINVAL "$LEAF/$name" "mkdir|refused|invalid|name"
    if log_new | grep -q 'validate against schema'; then
        bad "mkdir '$name' reached libvirt (schema error logged)"
    fi
done
section "EINVAL for invalid names, nothing created"

# Names the rule allows, including a leading '-' or '_' and inner dots.
for name in - _x a. 9.9 A-Z_0.9; do
    mk "$LEAF/$name" "$(basename "$LEAF")"
    LEAF=$LEAF/$name
done
section "names starting with '-' or '_' or holding dots are accepted"

# --- 247 bytes is the longest name; 248 and more give ENAMETOOLONG.
long247=L$(printf '%0246d' 0)
long248=L$(printf '%0247d' 0)
long300=L$(printf '%0299d' 0)
[ ${#long247} -eq 247 ] && [ ${#long248} -eq 248 ] || fail "bad name lengths"
refused ENAMETOOLONG "$LEAF/$long248" "mkdir|refused|long|247"
refused ENAMETOOLONG "$LEAF/$long300" "mkdir|refused|long|247"
mk "$LEAF/$long247" "$(basename "$LEAF")"
LEAF=$LEAF/$long247
section "a 247-byte name works, 248 bytes give ENAMETOOLONG"

# --- EPERM where libvirt would not make the directory the parent.
refused EPERM "$MNT/newdomain" "newdomain"
[ "$(ls "$MNT")" = test ] || bad "mount root lists '$(ls "$MNT" | tr '\n' ' ')'"
refused EPERM "$D/another-root" "another-root"
refused EPERM "$D/first/mid" "mid"
refused EPERM "$D/first/second/mid2" "mid2"
section "EPERM at the mount root, in the domain directory and in middle checkpoints"

# Nothing above left anything in libvirt: once the cache has expired the
# listing is libvirt's own, and the leaf is still where mkdir goes.
expect="- 9.9 A-Z_0.9 _x a. first fourth $long247 second third"
expect=$(printf '%s\n' $expect | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
when_cache_expired
got=$(cpx names "$D" | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$expect" ] || bad "libvirt holds '$got', expected '$expect'"
for name in another-root mid mid2; do
    [ "$(errno_of lstat "$D/$name")" = ENOENT ] || bad "'$name' exists after a refused mkdir"
done
# The refused valid names were never created: they can be used in the leaf.
mk "$LEAF/mid" "$long247"
mk "$LEAF/mid/another-root" mid
check_tree "$D" chain
section "failed mkdirs left nothing behind"

cpfs_umount

# ========== node.xml: a shut-off domain; one name in two domains ==========
cpfs_mount "test://$TESTS_SRC/data/node.xml"
[ -d "$MNT/gamma-off" ] || fail "node.xml mount has no gamma-off"
G=$MNT/gamma-off
log_mark
got=$(errno_of mkdir "$G/g1")
[ "$got" = ENOTSUP ] || bad "mkdir on shut-off gamma-off gave $got, expected ENOTSUP"
log_new_has "inactive domain" || bad "ENOTSUP on gamma-off did not log libvirt's message"
[ "$(errno_of lstat "$G/g1")" = ENOENT ] || bad "gamma-off/g1 exists after ENOTSUP"
[ "$(cpx count "$G")" = 0 ] || bad "gamma-off has checkpoints after ENOTSUP"
section "ENOTSUP on a shut-off domain, with libvirt's message logged"

mk "$MNT/alpha/same" ""
mk "$MNT/beta/same" ""
mk "$MNT/alpha/same/next" same
mk "$MNT/beta/same/next" same
[ "$(cpx get "$MNT/alpha/same" domain)" = alpha ] || bad "alpha/same describes another domain"
[ "$(cpx get "$MNT/beta/same" domain)" = beta ] || bad "beta/same describes another domain"
D=$MNT/alpha
refused EEXIST "$MNT/alpha/same/next/same" "same"
check_tree "$MNT/alpha" chain
check_tree "$MNT/beta" chain
when_cache_expired
[ "$(cpx count "$G")" = 0 ] || bad "gamma-off holds a checkpoint in libvirt after ENOTSUP"
[ "$(cpx tree "$MNT/alpha")" = "same same/next" ] || bad "alpha holds '$(cpx tree "$MNT/alpha")'"
[ "$(cpx tree "$MNT/beta")" = "same same/next" ] || bad "beta holds '$(cpx tree "$MNT/beta")'"
section "the same name in two domains"

finish
