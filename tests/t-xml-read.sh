#!/bin/sh
# xml files: the domain's is virDomainGetXMLDesc's (what `virsh -q dumpxml`
# prints), a checkpoint's has name, parent, creationTime and the embedded
# domain; stat reports the exact size; reads at any offset return the right
# bytes; an open file keeps serving the document it opened.
. "$TESTS_SRC/lib.sh"

command -v virsh >/dev/null || skip "virsh is not installed"

# same_size PATH: stat size of PATH equals the number of bytes read from it.
same_size() {
    size=$(stat -c %s "$1") || fail "stat $1 failed"
    bytes=$(wc -c <"$1") || fail "reading $1 failed"
    [ "$size" -eq "$bytes" ] || fail "$1: stat size $size but $bytes bytes read"
    [ "$bytes" -gt 0 ] || fail "$1 is empty"
}

# check_checkpoint_xml PATH NAME PARENT: the document is a domaincheckpoint
# named NAME whose parent is PARENT ("" for a root checkpoint), with a
# creationTime and the embedded domain `test`.
check_checkpoint_xml() {
    "$PYTHON" "$HELPERS/checkpoint_xml.py" check "$1" "$2" "$3" test ||
        fail "checkpoint xml $1 is wrong"
}

cpfs_mount test:///default

# --- the domain xml is libvirt's, byte for byte ---------------------------------
# (virsh without -q prints one blank line after the document.)
virsh -q -c test:///default dumpxml test >"$SCRATCH/virsh.xml" || fail "virsh dumpxml failed"
cat "$MNT/test/xml" >"$SCRATCH/domain.xml" || fail "cannot read $MNT/test/xml"
cmp "$SCRATCH/domain.xml" "$SCRATCH/virsh.xml" ||
    fail "test/xml differs from virsh -q dumpxml test: $(diff "$SCRATCH/domain.xml" "$SCRATCH/virsh.xml" | head -n 10)"
same_size "$MNT/test/xml"
pass "domain xml equals virsh dumpxml byte for byte; stat size is exact"

# --- checkpoint documents ---------------------------------------------------------
# A chain a -> bb-a-longer-name -> c: the middle name is long so that c's
# document shrinks when its parent changes to a.
MID=bb-a-longer-name
mkdir "$MNT/test/a" "$MNT/test/a/$MID" "$MNT/test/a/$MID/c" || fail "mkdir of the chain failed"
check_checkpoint_xml "$MNT/test/a/xml" a ""
check_checkpoint_xml "$MNT/test/a/$MID/xml" "$MID" a
check_checkpoint_xml "$MNT/test/a/$MID/c/xml" c "$MID"
grep -q "<parent>" "$MNT/test/a/$MID/c/xml" || fail "no <parent> element"
for x in "$MNT/test/a/xml" "$MNT/test/a/$MID/xml" "$MNT/test/a/$MID/c/xml"; do
    same_size "$x"
    [ "$(stat --cached=never -c %s "$x")" -eq "$(wc -c <"$x")" ] || fail "$x: uncached stat size is wrong"
done
pass "checkpoint xml: name, parent, creationTime, embedded domain; stat size is exact"

# --- reads at arbitrary offsets -------------------------------------------------
for x in "$MNT/test/xml" "$MNT/test/a/$MID/c/xml"; do
    cp "$x" "$SCRATCH/ref.xml"
    len=$(wc -c <"$SCRATCH/ref.xml")
    for spec in "1 100 50" "7 3 5" "13 0 1" "64 1 3" "1 $((len - 1)) 1" "5 $((len / 5)) 2"; do
        set -- $spec
        dd if="$x" of="$SCRATCH/got" bs="$1" skip="$2" count="$3" 2>/dev/null ||
            fail "dd bs=$1 skip=$2 count=$3 of $x failed"
        dd if="$SCRATCH/ref.xml" of="$SCRATCH/want" bs="$1" skip="$2" count="$3" 2>/dev/null
        [ -s "$SCRATCH/want" ] || fail "test bug: empty reference for dd $spec"
        cmp -s "$SCRATCH/got" "$SCRATCH/want" || fail "dd bs=$1 skip=$2 count=$3 of $x returned wrong bytes"
    done
    dd if="$x" of="$SCRATCH/got" bs=1 skip="$len" count=10 2>/dev/null
    [ ! -s "$SCRATCH/got" ] || fail "dd at EOF of $x returned data"
    dd if="$x" of="$SCRATCH/got" bs=4096 skip=100 count=1 2>/dev/null
    [ ! -s "$SCRATCH/got" ] || fail "dd far past EOF of $x returned data"
    dd if="$x" of="$SCRATCH/got" bs=1 2>/dev/null
    cmp -s "$SCRATCH/got" "$SCRATCH/ref.xml" || fail "byte-by-byte dd of $x differs"
    "$PYTHON" "$HELPERS/xml_reads.py" offsets "$x" "$SCRATCH/ref.xml" ||
        fail "pread of $x returned wrong bytes"
done
pass "dd skip/count and pread at many offsets return the right bytes; past EOF is empty"

# --- the page cache keeps a checkpoint's document, not the domain's ------------
# fincore(1) counts a file's pages in the page cache: a checkpoint's xml is
# cached across opens (a re-read needs no FUSE read), the domain's is not
# (it changes as the domain runs).
resident() { fincore -nb -o RES "$1" | tr -d ' '; }
X=$MNT/test/a/$MID/xml
cat "$X" >/dev/null
[ "$(resident "$X")" -gt 0 ] || fail "$X: no pages in the page cache after a read"
cat "$X" >/dev/null
[ "$(resident "$X")" -gt 0 ] || fail "$X: its pages were dropped by the next open"
cat "$MNT/test/xml" >/dev/null
[ "$(resident "$MNT/test/xml")" -eq 0 ] || fail "the domain's xml went into the page cache"
pass "a checkpoint's xml stays in the page cache across opens; the domain's never enters it"

# --- one open file, one document ---------------------------------------------
OLDX=$MNT/test/a/$MID/c/xml
cat "$OLDX" >"$SCRATCH/old.xml"
cino=$(stat -c %i "$OLDX")
grep -q "<name>$MID</name>" "$SCRATCH/old.xml" || fail "c's document does not name $MID as parent"
"$PYTHON" "$HELPERS/xml_reads.py" parent-removed "$OLDX" "$SCRATCH/old.xml" "$MNT/test/a/$MID" \
    "$MNT/test/a/c/xml" || fail "an open xml file did not keep its document"
check_checkpoint_xml "$MNT/test/a/c/xml" c a
[ "$(stat -c %i "$MNT/test/a/c/xml")" != "$cino" ] ||
    fail "c/xml kept its inode though its document changed (the page cache would mix them)"
pass "an open xml keeps its document after its parent is removed; a new open gets the new one"

# The same from the shell: a descriptor opened before the change.
mkdir "$MNT/test/a/c/dd-another-long-name" || fail "mkdir failed"
OLDX=$MNT/test/a/c/dd-another-long-name/xml
cat "$OLDX" >"$SCRATCH/old2.xml"
exec 3<"$OLDX"
dd bs=16 count=1 <&3 >"$SCRATCH/got2" 2>/dev/null
rmdir "$MNT/test/a/c" || fail "rmdir a/c failed"
cat <&3 >>"$SCRATCH/got2"
exec 3<&-
cmp -s "$SCRATCH/got2" "$SCRATCH/old2.xml" || fail "shell: the old descriptor switched documents"
check_checkpoint_xml "$MNT/test/a/dd-another-long-name/xml" dd-another-long-name a
same_size "$MNT/test/a/dd-another-long-name/xml"
pass "shell: exec 3<xml; rmdir parent; cat <&3 gives the old document"

# A document stays readable through its descriptor after its checkpoint goes.
# (read(2) only: the spec says nothing of fstat on such a descriptor.)
OLDX=$MNT/test/a/dd-another-long-name/xml
cat "$OLDX" >"$SCRATCH/old3.xml"
"$PYTHON" "$HELPERS/xml_reads.py" checkpoint-removed "$OLDX" "$SCRATCH/old3.xml" \
    "$MNT/test/a/dd-another-long-name" ||
    fail "an open xml of a removed checkpoint does not keep its document"
pass "an open xml of a removed checkpoint still reads its document"

cpfs_umount
