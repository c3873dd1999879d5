/* Unit tests of qcow2 layouts (model/qcow2.c) in-process: memory per run,
 * the cost of reads, the size estimate.  (unit-qcow2 judges the images
 * with qemu-img.) */
#include "unit-common.h"
#include "unit-maps.h"

#include <malloc.h>
#include <string.h>

#define COPIED (G_GUINT64_CONSTANT(1) << 63)

/* Bytes of heap in use (large blocks are mmapped apart). */
static size_t
heap(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* 1 TiB fully allocated: small memory, fast reads of data and of L2
 * tables (which start after 32 MiB of refcount blocks). */
static void
test_full_tib(void)
{
    g_autoptr(CpfsExtentMap) map = MAP(TiB, 0, TiB);
    size_t before = heap();
    g_autoptr(CpfsQcow2Layout) layout = cpfs_qcow2_full(map);
    size_t grown = heap() - before;
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
    g_autofree guint8 *buf = g_malloc(MiB);
    guint64 size = cpfs_qcow2_file_size(layout);
    gint64 t0;

    /* (AddressSanitizer's allocator leaves mallinfo2 at 0.) */
    g_test_message("1 TiB full layout: %zu bytes of heap, file %" G_GUINT64_FORMAT, grown, size);
    g_assert_cmpuint(grown, <, 64 * 1024);
    g_assert_cmpuint(cpfs_qcow2_data_clusters(layout), ==, TiB / C);
    memset(buf, 0, MiB);        /* page faults are not the layout's cost */
    t0 = g_get_monotonic_time();
    for (int i = 0; i < 1000; i++) {
        g_array_set_size(reads, 0);
        cpfs_qcow2_read(layout, size - (i + 1) * 7 * MiB - 12345, MiB, buf, reads);
        g_assert_cmpuint(reads->len, ==, 1);
    }
    g_test_message("1 MiB data read: %.2f us", (g_get_monotonic_time() - t0) / 1000.0);
    t0 = g_get_monotonic_time();
    for (int i = 0; i < 20; i++) {
        cpfs_qcow2_read(layout, (64 + i) * MiB + 8, MiB, buf, reads);
        g_assert_cmpuint(reads->len, ==, 1);    /* metadata: no disk read added */
    }
    g_test_message("1 MiB L2 table read: %.2f us", (g_get_monotonic_time() - t0) / 20.0);
    t0 = g_get_monotonic_time();
    for (int i = 0; i < 20; i++)
        cpfs_qcow2_read(layout, 2 * C + i * MiB + 8, MiB, buf, reads);
    g_test_message("1 MiB refcount block read: %.2f us", (g_get_monotonic_time() - t0) / 20.0);
}

/* 65536 runs, one per GiB of a 64 TiB disk: memory per run, and reads in
 * the middle of the L1 table and of the data find their place directly. */
static void
test_many_runs(void)
{
    g_autoptr(CpfsExtentMap) map = cpfs_extent_map_new(64 * TiB);
    g_autoptr(CpfsQcow2Layout) layout = NULL;
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
    g_autofree guint8 *buf = g_malloc0(MiB);
    size_t before;
    guint64 l1;
    gint64 t0;

    for (guint64 i = 0; i < 65536; i++)
        cpfs_extent_map_mark(map, i * GiB + 4096, 4096);
    before = heap();
    layout = cpfs_qcow2_full(map);
    g_test_message("65536 runs: %zu bytes of heap", heap() - before);
    g_assert_cmpuint(heap() - before, <, 65536 * 200);
    cpfs_qcow2_read(layout, 0, 48, buf, reads);
    l1 = GUINT64_FROM_BE(*(guint64 *)(buf + 40));   /* the L1 table: 1 MiB */
    t0 = g_get_monotonic_time();
    for (int i = 0; i < 100; i++) {
        cpfs_qcow2_read(layout, l1 + MiB / 2 + i * 16, 4096, buf, reads);  /* even: a table */
        g_assert_cmpuint(GUINT64_FROM_BE(*(guint64 *)buf) & ~COPIED, !=, 0);
        cpfs_qcow2_read(layout, cpfs_qcow2_file_size(layout) - (i + 1) * MiB, MiB, buf, reads);
    }
    g_assert_cmpuint(reads->len, ==, 100 * 16);
    g_test_message("L1 and data reads: %.2f us", (g_get_monotonic_time() - t0) / 100.0);
}

/* The estimate is exact for packed data and never above a real layout. */
static void
test_estimate(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(99);
    static const guint64 sizes[] = { 0, 1, C, C + 1, 512 * MiB, 512 * MiB + 1, 5 * GiB, TiB };

    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        for (int k = 0; k < 20; k++) {
            guint64 data = k == 0 ? 0 : k == 1 ? sizes[i] : g_rand_int(rand) % (sizes[i] + 1);
            g_autoptr(CpfsExtentMap) packed = MAP(sizes[i], 0, data);
            g_autoptr(CpfsExtentMap) spread = MAP(sizes[i], 0, data / 2,
                                                  sizes[i] - data + data / 2, data - data / 2);
            g_autoptr(CpfsQcow2Layout) lp = cpfs_qcow2_full(packed);
            g_autoptr(CpfsQcow2Layout) ls = cpfs_qcow2_full(spread);

            g_assert_cmpuint(cpfs_qcow2_estimate(sizes[i], data), ==, cpfs_qcow2_file_size(lp));
            g_assert_cmpuint(cpfs_qcow2_estimate(sizes[i], data), <=, cpfs_qcow2_file_size(ls));
        }
    }
}

int
main(int argc, char **argv)
{
    static const TestCase tests[] = {
        { "/qcow2-layout/full-tib", test_full_tib },
        { "/qcow2-layout/many-runs", test_many_runs },
        { "/qcow2-layout/estimate", test_estimate },
    };

    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
