#!/bin/sh
# A directory stream of a host held open across a reload that removes the
# host, or replaces it (another URI), fails with EIO, rewound too: it never
# ends quietly, nor lists the new host's entries as if they were the old's.
# One left unchanged by the reload keeps listing.
. "$TESTS_SRC/lib.sh"

NODE_URI="test://$TESTS_SRC/data/node.xml"
NODE2_URI="test://$TESTS_SRC/data/node-fleet.xml"
HF=$SCRATCH/fleet.conf

hosts_file "$HF" gone "$NODE_URI" moved "$NODE_URI" kept "$NODE_URI"
cpfs_mount "$HF"
# The FIFO's writer opens (and closes) it only once the reader holds the
# stream: the helper reads its line once the FIFO is closed.
mkfifo "$SCRATCH/go"
for h in gone moved kept; do
    "$PYTHON" "$HELPERS/dir_stream.py" "$MNT/$h/alpha" <"$SCRATCH/go" >"$SCRATCH/$h.out" &
done
exec 9>"$SCRATCH/go"
for h in gone moved kept; do
    wait_until 10 grep -q '^open$' "$SCRATCH/$h.out" || fail "$h/alpha could not be opened"
done

hosts_file "$HF" moved "$NODE2_URI" kept "$NODE_URI"
kill -HUP "$CPFS_PID"
wait_until 10 sh -c "[ ! -e '$MNT/gone' ] && [ -d '$MNT/moved/delta' ]" ||
    fail "the reload did not happen: root lists [$(ls "$MNT" | tr '\n' ' ')]"
printf 'go\ngo\ngo\n' >&9
exec 9>&-

for h in gone moved; do
    wait_until 10 grep -q '^read=' "$SCRATCH/$h.out" || fail "no answer from the stream of $h"
    [ "$(grep '^read=' "$SCRATCH/$h.out")" = "read=EIO rewound=EIO" ] ||
        fail "the open directory of host $h says [$(grep '^read=' "$SCRATCH/$h.out")], not EIO"
done
pass "open directories of a removed and a replaced host: EIO, rewound too"
wait_until 10 grep -q '^read=' "$SCRATCH/kept.out" || fail "no answer from the stream of kept"
[ "$(grep '^read=' "$SCRATCH/kept.out")" = "read=0 rewound=0" ] ||
    fail "the open directory of the unchanged host says [$(grep '^read=' "$SCRATCH/kept.out")]"
pass "the unchanged host's open directory lists on"
check_log_clean
