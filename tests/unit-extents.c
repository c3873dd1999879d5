/* Unit tests of extent maps (model/extents.c): edge cases written out, then
 * random marks checked against a plain byte-per-byte reference. */
#include "unit-common.h"
#include "model/extents.h"

#include <string.h>

/* Asserts MAP's runs are exactly the N pairs (offset, length) in RUNS. */
static void
assert_runs(const CpfsExtentMap *map, const guint64 *runs, guint n)
{
    guint64 total = 0;

    g_assert_cmpuint(cpfs_extent_map_n_runs(map), ==, n);
    for (guint i = 0; i < n; i++) {
        g_assert_cmpuint(cpfs_extent_map_run(map, i)->offset, ==, runs[2 * i]);
        g_assert_cmpuint(cpfs_extent_map_run(map, i)->length, ==, runs[2 * i + 1]);
        total += runs[2 * i + 1];
    }
    g_assert_cmpuint(cpfs_extent_map_marked_bytes(map), ==, total);
}

static void
test_mark_merge(void)
{
    g_autoptr(CpfsExtentMap) map = cpfs_extent_map_new(100);

    g_assert_cmpuint(cpfs_extent_map_size(map), ==, 100);
    assert_runs(map, NULL, 0);
    cpfs_extent_map_mark(map, 10, 0);           /* empty: nothing */
    assert_runs(map, NULL, 0);
    cpfs_extent_map_mark(map, 20, 10);
    cpfs_extent_map_mark(map, 30, 5);           /* adjacent after: merges */
    assert_runs(map, (guint64[]){ 20, 15 }, 1);
    cpfs_extent_map_mark(map, 10, 10);          /* adjacent before: merges */
    assert_runs(map, (guint64[]){ 10, 25 }, 1);
    cpfs_extent_map_mark(map, 50, 5);
    cpfs_extent_map_mark(map, 40, 2);           /* between, touching nothing */
    cpfs_extent_map_mark(map, 0, 3);
    assert_runs(map, (guint64[]){ 0, 3, 10, 25, 40, 2, 50, 5 }, 4);
    cpfs_extent_map_mark(map, 12, 3);           /* inside a run: nothing */
    assert_runs(map, (guint64[]){ 0, 3, 10, 25, 40, 2, 50, 5 }, 4);
    cpfs_extent_map_mark(map, 3, 38);           /* swallows three runs, touches 0..3 */
    assert_runs(map, (guint64[]){ 0, 42, 50, 5 }, 2);
    cpfs_extent_map_mark(map, 42, 8);           /* fills the gap exactly */
    assert_runs(map, (guint64[]){ 0, 55 }, 1);
}

static void
test_mark_clip(void)
{
    g_autoptr(CpfsExtentMap) map = cpfs_extent_map_new(100);
    g_autoptr(CpfsExtentMap) empty = cpfs_extent_map_new(0);

    cpfs_extent_map_mark(map, 100, 10);         /* at the size: nothing */
    cpfs_extent_map_mark(map, G_MAXUINT64, G_MAXUINT64);
    assert_runs(map, NULL, 0);
    cpfs_extent_map_mark(map, 90, G_MAXUINT64); /* no overflow, clipped */
    assert_runs(map, (guint64[]){ 90, 10 }, 1);
    cpfs_extent_map_mark(map, 0, 1);
    cpfs_extent_map_mark(map, 95, 1000);
    assert_runs(map, (guint64[]){ 0, 1, 90, 10 }, 2);
    cpfs_extent_map_mark(empty, 0, 10);
    assert_runs(empty, NULL, 0);
    g_assert_cmpint(cpfs_extent_map_seek(empty, 0, TRUE), ==, -1);
    g_assert_cmpint(cpfs_extent_map_seek(empty, 0, FALSE), ==, -1);
    g_assert_false(cpfs_extent_map_any(empty, 0, 10));
}

static void
test_seek_any(void)
{
    g_autoptr(CpfsExtentMap) map = cpfs_extent_map_new(100);
    g_autoptr(CpfsExtentMap) full = cpfs_extent_map_new(100);

    cpfs_extent_map_mark(map, 10, 10);
    cpfs_extent_map_mark(map, 50, 50);          /* data up to the size */
    g_assert_cmpint(cpfs_extent_map_seek(map, 0, TRUE), ==, 10);
    g_assert_cmpint(cpfs_extent_map_seek(map, 0, FALSE), ==, 0);
    g_assert_cmpint(cpfs_extent_map_seek(map, 10, TRUE), ==, 10);
    g_assert_cmpint(cpfs_extent_map_seek(map, 10, FALSE), ==, 20);
    g_assert_cmpint(cpfs_extent_map_seek(map, 19, FALSE), ==, 20);
    g_assert_cmpint(cpfs_extent_map_seek(map, 20, TRUE), ==, 50);
    g_assert_cmpint(cpfs_extent_map_seek(map, 20, FALSE), ==, 20);
    g_assert_cmpint(cpfs_extent_map_seek(map, 60, FALSE), ==, 100);  /* the size is a hole */
    g_assert_cmpint(cpfs_extent_map_seek(map, 99, TRUE), ==, 99);
    g_assert_cmpint(cpfs_extent_map_seek(map, 100, TRUE), ==, -1);
    g_assert_cmpint(cpfs_extent_map_seek(map, 100, FALSE), ==, -1);
    g_assert_cmpint(cpfs_extent_map_seek(map, G_MAXUINT64, FALSE), ==, -1);
    cpfs_extent_map_mark(full, 0, 30);
    g_assert_cmpint(cpfs_extent_map_seek(full, 30, TRUE), ==, -1);  /* no data after */
    g_assert_cmpint(cpfs_extent_map_seek(full, 29, TRUE), ==, 29);

    g_assert_false(cpfs_extent_map_any(map, 0, 10));
    g_assert_true(cpfs_extent_map_any(map, 0, 11));
    g_assert_true(cpfs_extent_map_any(map, 19, 1));
    g_assert_false(cpfs_extent_map_any(map, 20, 30));
    g_assert_true(cpfs_extent_map_any(map, 20, 31));
    g_assert_true(cpfs_extent_map_any(map, 5, G_MAXUINT64));
    g_assert_false(cpfs_extent_map_any(map, 15, 0));
    g_assert_false(cpfs_extent_map_any(map, 100, 10));
}

static void
test_raw_reads(void)
{
    g_autoptr(CpfsExtentMap) map = cpfs_extent_map_new(100);
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
    const CpfsDiskRead *r;

    cpfs_extent_map_mark(map, 10, 10);
    cpfs_extent_map_mark(map, 50, 50);
    cpfs_extent_map_raw_reads(map, 0, 10, reads);
    g_assert_cmpuint(reads->len, ==, 0);
    cpfs_extent_map_raw_reads(map, 15, 4096, reads);   /* past the size: clipped */
    g_assert_cmpuint(reads->len, ==, 2);
    r = &g_array_index(reads, CpfsDiskRead, 0);
    g_assert_cmpuint(r->buf_offset, ==, 0);
    g_assert_cmpuint(r->disk_offset, ==, 15);
    g_assert_cmpuint(r->length, ==, 5);
    r = &g_array_index(reads, CpfsDiskRead, 1);
    g_assert_cmpuint(r->buf_offset, ==, 35);
    g_assert_cmpuint(r->disk_offset, ==, 50);
    g_assert_cmpuint(r->length, ==, 50);
    g_array_set_size(reads, 0);
    cpfs_extent_map_raw_reads(map, 100, 10, reads);
    cpfs_extent_map_raw_reads(map, 20, 30, reads);
    g_assert_cmpuint(reads->len, ==, 0);
}

/* Random marks on small maps against a reference array of flags. */
static void
test_random(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(1234);

    for (int round = 0; round < 2000; round++) {
        guint64 size = g_rand_int_range(rand, 0, 200);
        g_autoptr(CpfsExtentMap) map = cpfs_extent_map_new(size);
        g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
        g_autofree gboolean *ref = g_new0(gboolean, size + 1);
        guint64 marked = 0, runs = 0;

        for (int m = g_rand_int_range(rand, 0, 12); m > 0; m--) {
            guint64 off = g_rand_int_range(rand, 0, 220), len = g_rand_int_range(rand, 0, 60);

            cpfs_extent_map_mark(map, off, len);
            for (guint64 b = off; b < off + len && b < size; b++)
                ref[b] = TRUE;
        }
        for (guint64 b = 0; b < size; b++) {
            marked += ref[b];
            runs += ref[b] && (b == 0 || !ref[b - 1]);
        }
        g_assert_cmpuint(cpfs_extent_map_marked_bytes(map), ==, marked);
        g_assert_cmpuint(cpfs_extent_map_n_runs(map), ==, runs);
        for (guint64 off = 0; off <= size; off++) {
            gint64 data = -1, hole = -1;

            for (guint64 b = size; b-- > off;)
                data = ref[b] ? (gint64)b : data;
            for (guint64 b = size + 1; off < size && b-- > off;)
                hole = !ref[b] ? (gint64)b : hole;
            g_assert_cmpint(cpfs_extent_map_seek(map, off, TRUE), ==, data);
            g_assert_cmpint(cpfs_extent_map_seek(map, off, FALSE), ==, hole);
        }
        for (int q = 0; q < 20; q++) {
            guint64 off = g_rand_int_range(rand, 0, 210), len = g_rand_int_range(rand, 0, 80);
            g_autofree guint8 *buf = g_malloc0(len + 1);
            gboolean any = FALSE;

            for (guint64 b = off; b < off + len && b < size; b++)
                any |= ref[b];
            g_assert_cmpint(cpfs_extent_map_any(map, off, len), ==, any);
            g_array_set_size(reads, 0);
            cpfs_extent_map_raw_reads(map, off, len, reads);
            for (guint i = 0; i < reads->len; i++) {
                const CpfsDiskRead *r = &g_array_index(reads, CpfsDiskRead, i);

                g_assert_cmpuint(r->disk_offset, ==, off + r->buf_offset);
                g_assert_cmpuint(r->buf_offset + r->length, <=, len);
                g_assert_cmpuint(r->disk_offset + r->length, <=, size);
                g_assert_cmpuint(r->length, >, 0);
                memset(buf + r->buf_offset, 1, r->length);
            }
            for (guint64 b = off; b < off + len; b++)
                g_assert_cmpint(buf[b - off], ==, b < size && ref[b]);
        }
    }
}

/* A million runs marked in order, then one mark that merges them all: both
 * cost O(runs), and memory is per run. */
static void
test_many_runs(void)
{
    g_autoptr(CpfsExtentMap) map = cpfs_extent_map_new(G_GUINT64_CONSTANT(1) << 50);
    gint64 t0 = g_get_monotonic_time();

    for (guint64 i = 0; i < 1000000; i++)
        cpfs_extent_map_mark(map, i * 12288, 4096);
    g_assert_cmpuint(cpfs_extent_map_n_runs(map), ==, 1000000);
    g_assert_cmpint(cpfs_extent_map_seek(map, G_GUINT64_CONSTANT(12288) * 500000 + 5000, TRUE), ==,
                    G_GUINT64_CONSTANT(12288) * 500001);
    cpfs_extent_map_mark(map, 4096, G_GUINT64_CONSTANT(12288) * 999999);
    g_assert_cmpuint(cpfs_extent_map_n_runs(map), ==, 1);
    g_assert_cmpuint(cpfs_extent_map_marked_bytes(map), ==, G_GUINT64_CONSTANT(12288) * 999999 + 4096);
    g_test_message("1e6 ordered marks + merge: %" G_GINT64_FORMAT " us",
                   g_get_monotonic_time() - t0);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
}

int
main(int argc, char **argv)
{
    static const TestCase tests[] = {
        { "/extents/mark-merge", test_mark_merge },
        { "/extents/mark-clip", test_mark_clip },
        { "/extents/seek-any", test_seek_any },
        { "/extents/raw-reads", test_raw_reads },
        { "/extents/random", test_random },
        { "/extents/many-runs", test_many_runs },
    };

    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
