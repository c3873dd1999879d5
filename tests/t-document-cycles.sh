#!/bin/sh
# Many mkdir / cat xml / rmdir cycles leave the document cache as small as
# the tree: a deleted checkpoint's documents go with it (issue 8, fault 5,
# where 5,000 cycles left 5,023 documents for ~230 checkpoints).
. "$TESTS_SRC/lib.sh"

# A long timeout: expiry cannot be what empties the cache.
cpfs_mount -o cache_timeout=120 test:///default
[ "$("$PYTHON" "$HELPERS/cache_stat.py" "$MNT" --names | tr '\n' ' ')" = \
  "user.checkpointfs.cache user.checkpointfs.libvirt_calls user.checkpointfs.state user.checkpointfs.uri " ] ||
    fail "the root does not list its four attributes (no error met: none listed)"
mkdir "$MNT/test/base" || fail "mkdir base"
cycles=${CYCLES:-300}
i=0
while [ $i -lt "$cycles" ]; do
    i=$((i + 1))
    mkdir "$MNT/test/base/c$i" || fail "mkdir c$i"
    cat "$MNT/test/base/c$i/xml" >/dev/null || fail "cat c$i/xml"
    rmdir "$MNT/test/base/c$i" || fail "rmdir c$i"
done
docs=$(cache_stat documents) || fail "cannot read user.checkpointfs.cache"
# base's document and the domain's at most, plus base's older version.
[ "$docs" -le 3 ] || fail "$docs documents held after $cycles cycles for 1 checkpoint"
pass "$cycles mkdir/cat/rmdir cycles leave $docs documents"
cpfs_umount
