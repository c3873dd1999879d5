/* Unit tests of qcow2 layouts (model/qcow2.c), judged by QEMU's own tools:
 * each image is written to a temporary file by reading it through
 * cpfs_qcow2_read in odd-sized chunks (disk reads filled from a synthetic
 * disk whose bytes are a function of their offset), then `qemu-img check`
 * must find it clean, `qemu-img map` must show exactly the expected data,
 * zero and unallocated ranges, and `qemu-img compare` must find it equal to
 * a raw file of the expected content.  Big images stay sparse. */
#include "unit-common.h"
#include "unit-maps.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>


enum { KIND_UNALLOC, KIND_DATA, KIND_ZERO };

/* A range of the disk as qemu-img map reports it (OFFSET for data only). */
typedef struct {
    guint64 start, length;
    int kind;
    guint64 offset;
} MapEntry;

/* Byte X of the synthetic disk SEED (0: all zeroes); never 0 otherwise, so
 * that written data never looks like a hole to qemu-img map. */
static void
content_fill(guint8 *p, guint64 x, gsize len, guint seed)
{
    if (!seed) {
        memset(p, 0, len);
        return;
    }
    for (gsize i = 0; i < len; i++, x++)
        p[i] = (guint8)(((((guint32)(x >> 3) * 2654435761u) ^ seed) >> 24) + (x & 7) * 37) | 1;
}

/* Writes BUF at OFFSET of FD unless it is all zeroes (the file is sparse). */
static void
write_sparse(int fd, const guint8 *buf, gsize len, guint64 offset)
{
    if (len && (buf[0] != 0 || memcmp(buf, buf + 1, len - 1) != 0))
        g_assert_cmpint(pwrite(fd, buf, len, offset), ==, (gssize)len);
}

/* Reads [OFFSET, OFFSET + LEN) of LAYOUT into BUF, making its disk reads
 * from disk SEED of DISK_SIZE bytes, and checks that every byte outside
 * the disk reads is written by cpfs_qcow2_read (the same whatever BUF
 * held before) and that no read leaves the buffer or the disk. */
static void
read_checked(const CpfsQcow2Layout *layout, guint64 offset, gsize len, guint8 *buf,
             guint8 *buf2, guint64 disk_size, guint seed)
{
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
    g_autoptr(GArray) reads2 = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));

    memset(buf, 0xa5, len);
    memset(buf2, 0x5a, len);
    cpfs_qcow2_read(layout, offset, len, buf, reads);
    cpfs_qcow2_read(layout, offset, len, buf2, reads2);
    g_assert_cmpuint(reads->len, ==, reads2->len);
    for (guint i = 0; i < reads->len; i++) {
        const CpfsDiskRead *r = &g_array_index(reads, CpfsDiskRead, i);

        g_assert_cmpuint(r->length, >, 0);
        g_assert_cmpuint(r->buf_offset + r->length, <=, len);
        g_assert_cmpuint(r->disk_offset + r->length, <=, disk_size);
        content_fill(buf + r->buf_offset, r->disk_offset, r->length, seed);
        memcpy(buf2 + r->buf_offset, buf + r->buf_offset, r->length);
    }
    g_assert_cmpmem(buf, len, buf2, len);
}

/* Writes LAYOUT's image to PATH in odd-sized chunks of at most 1 MiB.  With
 * META_ONLY the data clusters are not filled (a huge all-zero disk) and
 * only both ends of them are read (and checked). */
static void
write_image(const CpfsQcow2Layout *layout, const char *path, guint64 disk_size, guint seed,
            gboolean meta_only)
{
    static const gsize chunks[] = { MiB, 511, 65536, MiB - 4097, 196607, 12345, 3 };
    guint64 size = cpfs_qcow2_file_size(layout);
    guint64 data_start = size - cpfs_qcow2_data_clusters(layout) * C;
    g_autofree guint8 *buf = g_malloc(MiB);
    g_autofree guint8 *buf2 = g_malloc(MiB);
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    guint64 off = 0;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    for (guint i = 0; off < size; i++) {
        gsize n = MIN(chunks[i % G_N_ELEMENTS(chunks)], size - off);

        if (meta_only && off >= data_start + 64 * MiB && off + 64 * MiB < size) {
            off = size - 64 * MiB;      /* only both ends of a huge data region */
            continue;
        }
        if (meta_only && off >= data_start) {
            g_array_set_size(reads, 0);
            cpfs_qcow2_read(layout, off, n, buf, reads);
            for (guint k = 0; k < reads->len; k++)
                g_assert_cmpuint(g_array_index(reads, CpfsDiskRead, k).disk_offset +
                                 g_array_index(reads, CpfsDiskRead, k).length, <=, disk_size);
        } else {
            read_checked(layout, off, n, buf, buf2, disk_size, seed);
            write_sparse(fd, buf, n, off);
        }
        off += n;
    }
    g_assert_cmpint(close(fd), ==, 0);
}

/* Writes disk SEED's bytes [OFFSET, OFFSET + LENGTH) into FD. */
static void
write_content(int fd, guint64 offset, guint64 length, guint seed)
{
    g_autofree guint8 *buf = g_malloc(MiB);

    for (guint64 done = 0; done < length;) {
        gsize n = MIN(MiB, length - done);

        content_fill(buf, offset + done, n, seed);
        g_assert_cmpint(pwrite(fd, buf, n, offset + done), ==, (gssize)n);
        done += n;
    }
}

/* Runs ARGV; returns its exit status and its output in *OUT. */
static int
run(const char *const *argv, char **out)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    int status = 0;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               out, &err, &status, &error));
    if (!g_spawn_check_wait_status(status, NULL))
        g_test_message("%s: %s%s", argv[1], out ? *out : "", err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Appends E to ENTRIES, merged with the last one when qemu-img could have
 * merged them (adjacent, same kind, contiguous in the file for data). */
static void
add_entry(GArray *entries, MapEntry e)
{
    MapEntry *last = entries->len ? &g_array_index(entries, MapEntry, entries->len - 1) : NULL;

    if (e.length == 0)
        return;
    if (last && last->start + last->length == e.start && last->kind == e.kind &&
        (e.kind != KIND_DATA || last->offset + last->length == e.offset)) {
        last->length += e.length;
        return;
    }
    g_array_append_val(entries, e);
}

/* The entries `qemu-img map --output=json PATH` reports of the first
 * LIMIT bytes. */
static GArray *
qemu_map(const char *path, guint64 limit)
{
    g_autofree char *max = g_strdup_printf("--max-length=%" G_GUINT64_FORMAT, limit);
    const char *argv[] = { "qemu-img", "map", "-f", "qcow2", "--output=json", max, path, NULL };
    g_autofree char *out = NULL;
    g_autoptr(GRegex) re = g_regex_new(
        "\"start\": (\\d+), \"length\": (\\d+), \"depth\": \\d+, \"present\": (\\w+), "
        "\"zero\": \\w+, \"data\": (\\w+)(, \"offset\": (\\d+))?", 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;
    GArray *entries = g_array_new(FALSE, FALSE, sizeof(MapEntry));

    g_assert_cmpint(run(argv, &out), ==, 0);
    for (g_regex_match(re, out, 0, &m); g_match_info_matches(m); g_match_info_next(m, NULL)) {
        g_autofree char *start = g_match_info_fetch(m, 1);
        g_autofree char *length = g_match_info_fetch(m, 2);
        g_autofree char *present = g_match_info_fetch(m, 3);
        g_autofree char *data = g_match_info_fetch(m, 4);
        g_autofree char *offset = g_match_info_fetch(m, 6);
        MapEntry e = { g_ascii_strtoull(start, NULL, 10), g_ascii_strtoull(length, NULL, 10),
                       KIND_UNALLOC, 0 };

        if (strcmp(data, "true") == 0) {
            e.kind = KIND_DATA;
            e.offset = g_ascii_strtoull(offset, NULL, 10);
        } else if (strcmp(present, "true") == 0) {
            e.kind = KIND_ZERO;
        }
        add_entry(entries, e);
    }
    return entries;
}

/* The clusters the image must hold, as map entries: those any marked byte
 * of CHANGED touches; with ALLOCATED, those it does not touch are zero
 * clusters.  Data clusters sit at the file's end in disk order. */
static GArray *
expected_map(const CpfsExtentMap *changed, const CpfsExtentMap *allocated, guint64 file_size,
             guint64 *n_data)
{
    g_autoptr(GArray) clusters = g_array_new(FALSE, FALSE, sizeof(MapEntry));
    GArray *entries = g_array_new(FALSE, FALSE, sizeof(MapEntry));
    guint64 disk_size = cpfs_extent_map_size(changed), pos = 0, next = 0, data_start;

    *n_data = 0;
    for (guint i = 0; i < cpfs_extent_map_n_runs(changed); i++) {
        const CpfsExtent *run = cpfs_extent_map_run(changed, i);

        guint64 c = MAX(run->offset / C, next), end = (run->offset + run->length + C - 1) / C;

        /* A standalone image's clusters are all data: the whole run at once. */
        for (guint64 step = allocated ? 1 : end - c; c < end; c += step) {
            MapEntry e = { c * C, MIN(step * C, disk_size - c * C), KIND_DATA, *n_data * C };

            if (allocated && !cpfs_extent_map_any(allocated, c * C, C))
                e.kind = KIND_ZERO, e.offset = 0;
            *n_data += e.kind == KIND_DATA ? step : 0;
            add_entry(clusters, e);
            next = c + step;
        }
    }
    data_start = file_size - *n_data * C;
    for (guint i = 0; i < clusters->len; i++) {
        MapEntry e = g_array_index(clusters, MapEntry, i);
        MapEntry gap = { pos, e.start - pos, KIND_UNALLOC, 0 };

        add_entry(entries, gap);
        e.offset += e.kind == KIND_DATA ? data_start : 0;
        add_entry(entries, e);
        pos = e.start + e.length;
    }
    add_entry(entries, (MapEntry){ pos, disk_size - pos, KIND_UNALLOC, 0 });
    return entries;
}

/* Asserts GOT is WANT cut at LIMIT bytes of the disk. */
static void
assert_map(GArray *got, GArray *want, guint64 limit)
{
    while (want->len && g_array_index(want, MapEntry, want->len - 1).start >= limit)
        g_array_set_size(want, want->len - 1);
    if (want->len) {
        MapEntry *last = &g_array_index(want, MapEntry, want->len - 1);

        last->length = MIN(last->length, limit - last->start);
    }
    for (guint i = 0; i < MAX(got->len, want->len); i++) {
        const MapEntry *g = i < got->len ? &g_array_index(got, MapEntry, i) : NULL;
        const MapEntry *w = i < want->len ? &g_array_index(want, MapEntry, i) : NULL;

        if (g && w && g->start == w->start && g->length == w->length && g->kind == w->kind &&
            g->offset == w->offset)
            continue;
        g_assert_nonnull(g);
        g_assert_nonnull(w);
        g_assert_cmpuint(g->start, ==, w->start);
        g_assert_cmpuint(g->length, ==, w->length);
        g_assert_cmpint(g->kind, ==, w->kind);
        g_assert_cmpuint(g->offset, ==, w->offset);
    }
}

/* `qemu-img check` finds no error and no leak in the image at PATH. */
static void
assert_check_clean(const char *path)
{
    const char *argv[] = { "qemu-img", "check", "-f", "qcow2", path, NULL };
    g_autofree char *out = NULL;

    g_assert_cmpint(run(argv, &out), ==, 0);
    g_assert_nonnull(strstr(out, "No errors were found on the image."));
}

/* `qemu-img compare` finds IMAGE (with its backing file) equal to RAW. */
static void
assert_compare(const char *image, const char *raw)
{
    const char *argv[] = { "qemu-img", "compare", "-f", "qcow2", "-F", "raw", image, raw, NULL };

    g_assert_cmpint(run(argv, NULL), ==, 0);
}

/* A new temporary directory. */
static char *
tmp_dir(void)
{
    char *dir = g_dir_make_tmp("unit-qcow2-XXXXXX", NULL);

    g_assert_nonnull(dir);
    return dir;
}

/* Removes DIR and the files NAMES in it. */
static void
rm_dir(const char *dir, const char *const *names)
{
    for (; *names; names++) {
        g_autofree char *p = g_build_filename(dir, *names, NULL);

        g_unlink(p);
    }
    g_rmdir(dir);
}

/* Builds the standalone image of ALLOCATED over disk SEED and judges it;
 * a disk of all zeroes (SEED 0) may skip its data clusters (META_ONLY). */
static void
check_full(const CpfsExtentMap *allocated, guint seed, gboolean meta_only)
{
    g_autofree char *dir = tmp_dir();
    g_autofree char *img = g_build_filename(dir, "img.qcow2", NULL);
    g_autofree char *raw = g_build_filename(dir, "want.raw", NULL);
    g_autoptr(CpfsQcow2Layout) layout = cpfs_qcow2_full(allocated);
    guint64 disk_size = cpfs_extent_map_size(allocated), n_data;
    g_autoptr(GArray) want = NULL;
    g_autoptr(GArray) got = NULL;
    int fd;

    g_assert_nonnull(layout);
    write_image(layout, img, disk_size, seed, meta_only);
    assert_check_clean(img);
    want = expected_map(allocated, NULL, cpfs_qcow2_file_size(layout), &n_data);
    g_assert_cmpuint(cpfs_qcow2_data_clusters(layout), ==, n_data);
    /* All of a huge disk's clusters take qemu-img map seconds. */
    got = qemu_map(img, meta_only ? MIN(disk_size, 8 * GiB) : disk_size);
    assert_map(got, want, meta_only ? MIN(disk_size, 8 * GiB) : disk_size);
    fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(ftruncate(fd, disk_size), ==, 0);
    for (guint i = 0; seed && i < want->len; i++) {
        const MapEntry *e = &g_array_index(want, MapEntry, i);

        if (e->kind == KIND_DATA)
            write_content(fd, e->start, e->length, seed);
    }
    close(fd);
    /* Unfilled data clusters are holes: zeroes, as disk 0 holds. */
    if (disk_size <= 8 * GiB)
        assert_compare(img, raw);
    rm_dir(dir, (const char *[]){ "img.qcow2", "want.raw", NULL });
}

/* A disk with nothing allocated, and a disk of 0 bytes. */
static void
test_empty(void)
{
    g_autoptr(CpfsExtentMap) none = cpfs_extent_map_new(64 * MiB);
    g_autoptr(CpfsExtentMap) zero = cpfs_extent_map_new(0);

    check_full(none, 7, FALSE);
    check_full(zero, 7, FALSE);
}

/* QEMU counts a disk's size in 512-byte sectors: every size here is one. */
static void
test_small(void)
{
    g_autoptr(CpfsExtentMap) one = MAP(C, 0, C);
    g_autoptr(CpfsExtentMap) byte = MAP(512, 0, 1);
    g_autoptr(CpfsExtentMap) partial = MAP(10 * MiB + 12800, 0, 1, 3 * C - 5, 10, 5 * MiB + 3,
                                           C, 10 * MiB + 12340, 5, 7 * C, C);

    check_full(one, 3, FALSE);
    check_full(byte, 3, FALSE);
    check_full(partial, 11, FALSE);
}

/* Offsets past 4 GiB and clusters on both sides of 512 MiB L2 tables. */
static void
test_boundaries(void)
{
    g_autoptr(CpfsExtentMap) l2 = MAP(GiB + GiB / 2, 512 * MiB - C, 2 * C, GiB, 1, GiB + GiB / 2 - 1, 1);
    g_autoptr(CpfsExtentMap) big = MAP(5 * GiB + 1024, 2 * GiB - 3, 6, 4 * GiB - C, 3 * C,
                                       5 * GiB, 1000);

    check_full(l2, 5, FALSE);
    check_full(big, 9, FALSE);
}

/* The file's clusters fill one refcount block exactly (32768), then one
 * more: the block's last entry, and a second block. */
static void
test_refcount_block(void)
{
    for (guint64 data = 32760; data <= 32761; data++) {
        g_autoptr(CpfsExtentMap) map = MAP(4 * GiB, 0, data * C);
        g_autoptr(CpfsQcow2Layout) layout = cpfs_qcow2_full(map);

        /* header, table, blocks, L1, four L2 tables, data */
        g_assert_cmpuint(cpfs_qcow2_file_size(layout), ==, (data == 32760 ? 32768 : 32770) * C);
        g_assert_cmpuint(cpfs_qcow2_estimate(4 * GiB, data * C - 1), ==,
                         cpfs_qcow2_file_size(layout));
        check_full(map, 0, TRUE);
    }
}

/* A few runs of a 1 TiB disk, the last cluster partial. */
static void
test_sparse_tib(void)
{
    g_autoptr(CpfsExtentMap) map = MAP(TiB + 512, 0, 4096, 300 * GiB + 7, 2 * MiB,
                                       TiB - C / 2, C + 512);

    check_full(map, 13, FALSE);
}

/* 256 GiB fully allocated: qemu-img check on the metadata (32 MiB of L2
 * tables, 8 MiB of refcount blocks) with the data clusters left as holes. */
static void
test_full_large(void)
{
    g_autoptr(CpfsExtentMap) map = MAP(256 * GiB, 0, 256 * GiB);

    check_full(map, 0, TRUE);
}

/* An overlay of CHANGED (ALLOCATED tells data from zero clusters) over a
 * base raw file holding disk BASE_SEED on BASE's runs, rebased onto it,
 * must read as the new disk NEW_SEED on data clusters, zeroes on zero
 * clusters and the base elsewhere. */
static void
check_overlay(const CpfsExtentMap *allocated, const CpfsExtentMap *changed,
              const CpfsExtentMap *base, guint base_seed, guint new_seed)
{
    g_autofree char *dir = tmp_dir();
    g_autofree char *img = g_build_filename(dir, "img.qcow2", NULL);
    g_autofree char *base_raw = g_build_filename(dir, "base.raw", NULL);
    g_autofree char *raw = g_build_filename(dir, "want.raw", NULL);
    g_autoptr(CpfsQcow2Layout) layout = cpfs_qcow2_overlay(allocated, changed);
    guint64 disk_size = cpfs_extent_map_size(changed), n_data;
    g_autoptr(GArray) want = NULL;
    g_autoptr(GArray) got = NULL;
    g_autofree guint8 *zeroes = g_malloc0(C);
    const char *rebase[] = { "qemu-img", "rebase", "-u", "-f", "qcow2", "-F", "raw", "-b",
                             base_raw, img, NULL };
    int fd_base = open(base_raw, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    g_assert_nonnull(layout);
    write_image(layout, img, disk_size, new_seed, FALSE);
    assert_check_clean(img);
    want = expected_map(changed, allocated, cpfs_qcow2_file_size(layout), &n_data);
    g_assert_cmpuint(cpfs_qcow2_data_clusters(layout), ==, n_data);
    got = qemu_map(img, disk_size);
    assert_map(got, want, disk_size);

    g_assert_cmpint(ftruncate(fd_base, disk_size), ==, 0);
    g_assert_cmpint(ftruncate(fd, disk_size), ==, 0);
    for (guint i = 0; i < cpfs_extent_map_n_runs(base); i++) {
        const CpfsExtent *run = cpfs_extent_map_run(base, i);

        write_content(fd_base, run->offset, run->length, base_seed);
        write_content(fd, run->offset, run->length, base_seed);
    }
    for (guint i = 0; i < want->len; i++) {
        const MapEntry *e = &g_array_index(want, MapEntry, i);

        if (e->kind == KIND_DATA)
            write_content(fd, e->start, e->length, new_seed);
        for (guint64 p = e->start; e->kind == KIND_ZERO && p < e->start + e->length; p += C)
            g_assert_cmpint(pwrite(fd, zeroes, MIN(C, e->start + e->length - p), p), >, 0);
    }
    close(fd_base);
    close(fd);
    g_assert_cmpint(run(rebase, NULL), ==, 0);
    assert_compare(img, raw);
    rm_dir(dir, (const char *[]){ "img.qcow2", "base.raw", "want.raw", NULL });
}

/* Data, zero and untouched clusters mixed, and the all-of-one-kind cases. */
static void
test_overlay_mixed(void)
{
    guint64 size = 40 * MiB + 1024;
    /* changed: clusters 0-2, a run over several clusters, the last cluster */
    g_autoptr(CpfsExtentMap) changed = MAP(size, 0, 3 * C, 5 * MiB - 10, MiB + 20,
                                           12 * MiB, 1, 20 * MiB, 4 * C, size - 1, 1);
    /* allocated: part of them (partly within clusters), other places */
    g_autoptr(CpfsExtentMap) allocated = MAP(size, C + 100, 1, 5 * MiB + C, 2 * C,
                                             20 * MiB + 3 * C, 1, 30 * MiB, MiB, size - 1000, 1);
    g_autoptr(CpfsExtentMap) base = MAP(size, 0, size);
    g_autoptr(CpfsExtentMap) nothing = cpfs_extent_map_new(size);

    check_overlay(allocated, changed, base, 21, 22);
    check_overlay(allocated, nothing, base, 21, 22);       /* nothing changed */
    check_overlay(nothing, changed, base, 21, 22);         /* all trimmed: zero clusters */
    check_overlay(changed, changed, base, 21, 22);         /* all data */
}

/* Zero and data clusters on both sides of 512 MiB and past 2 GiB. */
static void
test_overlay_large(void)
{
    guint64 size = 3 * GiB;
    g_autoptr(CpfsExtentMap) changed = MAP(size, 512 * MiB - 2 * C, 4 * C, 2 * GiB - C, 3 * C,
                                           3 * GiB - C, C);
    g_autoptr(CpfsExtentMap) allocated = MAP(size, 512 * MiB - C, C, 2 * GiB, 2 * C,
                                             3 * GiB - 1, 1);
    g_autoptr(CpfsExtentMap) base = MAP(size, 512 * MiB - MiB, 2 * MiB, 2 * GiB - MiB, 2 * MiB,
                                        3 * GiB - MiB, MiB);

    check_overlay(allocated, changed, base, 31, 32);
}

int
main(int argc, char **argv)
{
    static const TestCase tests[] = {
        { "/qcow2/empty", test_empty },
        { "/qcow2/small", test_small },
        { "/qcow2/boundaries", test_boundaries },
        { "/qcow2/refcount-block", test_refcount_block },
        { "/qcow2/sparse-tib", test_sparse_tib },
        { "/qcow2/full-large", test_full_large },
        { "/qcow2/overlay-mixed", test_overlay_mixed },
        { "/qcow2/overlay-large", test_overlay_large },
    };

    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");

    if (!qemu_img) {
        g_print("1..0 # SKIP qemu-img not installed\n");
        return 77;
    }
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
