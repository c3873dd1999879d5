/* libFuzzer target: extent maps and the qcow2 images built from them.  The
 * image's metadata is read back in random chunks and parsed as QEMU would:
 * header fields, every table pointing inside the file, every cluster of
 * the file referenced exactly once with refcount 1 (0 past the end), the
 * L2 entries exactly the clusters the maps touch, data in disk order; then
 * chunks of the whole file: metadata bytes the same whatever the chunking,
 * disk reads where the L2 tables say and never past the disk's end, zero
 * padding after it.
 *
 * Input: a header byte (bit 0: overlay), 3 bytes of size in clusters
 * (up to 128 MiB, or 8 GiB with the top bit set) and 2 bytes of extra bytes, then records of 8 bytes: a
 * flags byte (bit 0: changed rather than allocated; bit 1: 4 KiB units),
 * 4 bytes of offset, 3 bytes of length. */
#include <stdint.h>
#include <string.h>

#include "model/extents.h"
#include "model/qcow2.h"

#define C ((guint64)CPFS_QCOW2_CLUSTER_SIZE)
#define MAX_CLUSTERS (G_GUINT64_CONSTANT(1) << 17)
#define COPIED (G_GUINT64_CONSTANT(1) << 63)
#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const CpfsQcow2Layout *layout;
    guint64 disk_size, file_size, data_start, n_clusters;
    guint8 *meta;          /* the file's bytes [0, data_start) */
    guint32 *disk_of;      /* per file cluster: disk cluster + 1 of data */
    guint8 *refs;          /* per file cluster: references found */
    guint64 state;         /* random chunk sizes */
} Image;

/* The next number of a xorshift generator (deterministic per input). */
static guint64
next_rand(Image *img)
{
    img->state ^= img->state << 13;
    img->state ^= img->state >> 7;
    img->state ^= img->state << 17;
    return img->state;
}

/* The big-endian N-byte number at P. */
static guint64
get_be(const guint8 *p, int n)
{
    guint64 v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Reads metadata [OFF, OFF + LEN) into OUT in random chunks: no disk read. */
static void
read_meta(Image *img, guint64 off, guint64 len, guint8 *out)
{
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));

    CHECK(off + len <= img->data_start);
    for (guint64 done = 0; done < len;) {
        guint64 r = 1 + next_rand(img) % (3 * C);
        gsize n = MIN(len - done, r);

        cpfs_qcow2_read(img->layout, off + done, n, out + done, reads);
        CHECK(reads->len == 0);
        done += n;
    }
}

/* Counts a reference to the cluster at byte OFFSET of the file. */
static void
ref(Image *img, guint64 offset)
{
    CHECK(offset % C == 0 && offset < img->file_size);
    CHECK(++img->refs[offset / C] == 1);
}

/* The header H: version 3, the disk's size, no backing file or features. */
static void
check_header(Image *img, const guint8 *h)
{
    guint64 clusters = img->disk_size / C + (img->disk_size % C != 0);

    CHECK(get_be(h, 4) == 0x514649fb && get_be(h + 4, 4) == 3);
    CHECK(get_be(h + 8, 8) == 0 && get_be(h + 16, 4) == 0);         /* no backing file */
    CHECK(get_be(h + 20, 4) == 16 && get_be(h + 24, 8) == img->disk_size);
    CHECK(get_be(h + 32, 4) == 0);                                   /* no encryption */
    CHECK(get_be(h + 36, 4) == (clusters + C / 8 - 1) / (C / 8));    /* l1_size */
    CHECK(get_be(h + 60, 4) == 0 && get_be(h + 64, 8) == 0);         /* no snapshots */
    CHECK(get_be(h + 72, 8) == 0 && get_be(h + 80, 8) == 0 && get_be(h + 88, 8) == 0);
    CHECK(get_be(h + 96, 4) == 4 && get_be(h + 100, 4) == 104);
    CHECK(get_be(h + 104, 8) == 0);                                  /* extensions end */
}

/* The refcount table and blocks: 1 for every cluster of the file, 0 after. */
static void
check_refcounts(Image *img, const guint8 *h)
{
    guint64 rt_off = get_be(h + 48, 8), rt_clusters = get_be(h + 56, 4);
    static guint8 pattern[C], zeroes[C];   /* 16-bit big-endian 1s; 0s */
    guint64 ones;

    for (guint64 k = 1; k < C; k += 2)
        pattern[k] = 1;

    CHECK(rt_clusters >= 1 && rt_off + rt_clusters * C <= img->data_start);
    for (guint64 i = 0; i < rt_clusters; i++)
        ref(img, rt_off + i * C);
    for (guint64 e = 0; e < rt_clusters * C / 8; e++) {
        guint64 block = get_be(img->meta + rt_off + e * 8, 8);

        if (e * (C / 2) >= img->n_clusters) {
            CHECK(block == 0);              /* no block needed: none */
            continue;
        }
        ref(img, block);
        CHECK(block + C <= img->data_start);
        ones = MIN(C / 2, img->n_clusters - e * (C / 2));
        CHECK(memcmp(img->meta + block, pattern, ones * 2) == 0);
        CHECK(memcmp(img->meta + block + ones * 2, zeroes, C - ones * 2) == 0);
    }
}

/* The L1 and L2 tables: exactly the clusters the maps make data or zero. */
static void
check_tables(Image *img, const guint8 *h, const CpfsExtentMap *allocated,
             const CpfsExtentMap *changed)
{
    guint64 l1_size = get_be(h + 36, 4), l1_off = get_be(h + 40, 8), next_host = img->data_start;

    CHECK(l1_size == 0 || l1_off + l1_size * 8 <= img->data_start);
    for (guint64 i = 0; i < (l1_size * 8 + C - 1) / C; i++)
        ref(img, l1_off + i * C);
    for (guint64 i = 0; i < l1_size; i++) {
        guint64 l1e = get_be(img->meta + l1_off + i * 8, 8), l2 = l1e & ~COPIED;

        CHECK(l1e == 0 || (l1e & COPIED));
        if (l1e)
            ref(img, l2);
        CHECK(l2 + C <= img->data_start);
        for (guint64 j = 0; j < C / 8; j++) {
            guint64 c = i * (C / 8) + j, e = l1e ? get_be(img->meta + l2 + j * 8, 8) : 0;
            gboolean touched = cpfs_extent_map_any(changed, c * C, C);
            gboolean data = touched && (changed == allocated ||
                                        cpfs_extent_map_any(allocated, c * C, C));

            CHECK(c * C < img->disk_size || e == 0);
            if (!touched) {
                CHECK(e == 0);
            } else if (!data) {
                CHECK(e == 1);              /* zero cluster, no offset */
            } else {
                /* data clusters follow each other in disk order */
                CHECK(e == (next_host | COPIED));
                ref(img, next_host);
                img->disk_of[next_host / C] = c + 1;
                next_host += C;
            }
        }
    }
    CHECK(next_host == img->file_size);
}

/* File bytes [P, P + N) the caller's read left to cpfs_qcow2_read, at BUF:
 * metadata as parsed, or zeroes past the disk's end. */
static void
check_gap(Image *img, guint64 p, gsize n, const guint8 *buf)
{
    for (gsize done = 0; done < n;) {
        guint64 at = p + done;
        gsize k;

        if (at < img->data_start) {
            k = MIN(n - done, img->data_start - at);
            CHECK(memcmp(buf + done, img->meta + at, k) == 0);
        } else {
            guint64 c = img->disk_of[at / C];

            k = MIN(n - done, C - at % C);
            CHECK(c && (c - 1) * C + at % C >= img->disk_size);
            for (gsize b = 0; b < k; b++)
                CHECK(buf[done + b] == 0);
        }
        done += k;
    }
}

/* A disk read of file bytes from P on: where the L2 tables say. */
static void
check_disk_read(Image *img, guint64 p, const CpfsDiskRead *r)
{
    CHECK(r->length > 0 && r->disk_offset + r->length <= img->disk_size);
    CHECK(p >= img->data_start);
    for (guint64 q = p; q < p + r->length; q = (q / C + 1) * C) {
        guint64 c = img->disk_of[q / C];

        CHECK(c && (c - 1) * C + q % C == r->disk_offset + (q - p));
    }
}

/* One read of [OFF, OFF + LEN): every byte either read from the disk or right. */
static void
check_chunk(Image *img, guint64 off, gsize len, guint8 *buf)
{
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
    gsize pos = 0;

    memset(buf, 0xa5, len);
    cpfs_qcow2_read(img->layout, off, len, buf, reads);
    for (guint i = 0; i < reads->len; i++) {
        const CpfsDiskRead *r = &g_array_index(reads, CpfsDiskRead, i);

        CHECK(r->buf_offset >= pos && r->buf_offset + r->length <= len);
        check_gap(img, off + pos, r->buf_offset - pos, buf + pos);
        check_disk_read(img, off + r->buf_offset, r);
        pos = r->buf_offset + r->length;
    }
    check_gap(img, off + pos, len - pos, buf + pos);
}

/* Chunks of the file: all of a small one, else random ones and its end. */
static void
check_reads(Image *img)
{
    static guint8 buf[1 << 20];     /* static: no page faults per run */
    guint64 off = 0;

    if (img->file_size <= 64 * C) {
        while (off < img->file_size) {
            guint64 r = 1 + next_rand(img) % (1 << 20);
            gsize n = MIN(img->file_size - off, r);

            check_chunk(img, off, n, buf);
            off += n;
        }
        return;
    }
    for (int i = 0; i < 48; i++) {
        gsize n = 1 + next_rand(img) % (1 << 18);

        off = next_rand(img) % (img->file_size - n + 1);
        check_chunk(img, off, n, buf);
    }
    check_chunk(img, img->file_size - C - 100, C + 100, buf);
    check_chunk(img, img->data_start - 10, MIN(img->file_size - img->data_start + 10, 1 << 20), buf);
}

/* Parses LAYOUT's image back and reads it in chunks (see the top). */
static void
check_image(const CpfsQcow2Layout *layout, const CpfsExtentMap *allocated,
            const CpfsExtentMap *changed, guint64 seed)
{
    Image img = { .layout = layout, .disk_size = cpfs_extent_map_size(changed),
                  .file_size = cpfs_qcow2_file_size(layout), .state = seed | 1 };
    g_autofree guint8 *meta = NULL;
    g_autofree guint32 *disk_of = NULL;
    g_autofree guint8 *refs = NULL;

    CHECK(img.file_size % C == 0 && img.file_size >= 3 * C);
    img.n_clusters = img.file_size / C;
    img.data_start = img.file_size - cpfs_qcow2_data_clusters(layout) * C;
    img.meta = meta = g_malloc(img.data_start);
    img.disk_of = disk_of = g_new0(guint32, img.n_clusters);
    img.refs = refs = g_new0(guint8, img.n_clusters);
    read_meta(&img, 0, img.data_start, img.meta);
    check_header(&img, img.meta);
    ref(&img, 0);
    check_refcounts(&img, img.meta);
    check_tables(&img, img.meta, allocated, changed);
    for (guint64 i = 0; i < img.n_clusters; i++)
        CHECK(img.refs[i] == 1);
    check_reads(&img);
}

/* Runs sorted, apart, inside the size; seek and any agree with them. */
static void
check_map(const CpfsExtentMap *map)
{
    guint64 end = 0, marked = 0, size = cpfs_extent_map_size(map);

    for (guint i = 0; i < cpfs_extent_map_n_runs(map); i++) {
        const CpfsExtent *r = cpfs_extent_map_run(map, i);

        CHECK(r->length > 0 && (i == 0 || r->offset > end) && r->offset + r->length <= size);
        CHECK(cpfs_extent_map_seek(map, end, TRUE) == (gint64)r->offset);
        CHECK(cpfs_extent_map_seek(map, r->offset, FALSE) == (gint64)(r->offset + r->length));
        CHECK(cpfs_extent_map_any(map, r->offset + r->length - 1, 1));
        CHECK(r->offset == 0 || !cpfs_extent_map_any(map, r->offset - 1, 1));
        end = r->offset + r->length;
        marked += r->length;
    }
    CHECK(marked == cpfs_extent_map_marked_bytes(map));
    CHECK(end == size || cpfs_extent_map_seek(map, end, TRUE) == -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(CpfsExtentMap) allocated = NULL;
    g_autoptr(CpfsExtentMap) changed = NULL;
    g_autoptr(CpfsQcow2Layout) layout = NULL;
    guint64 disk_size, seed = 14695981039346656037u;
    gboolean overlay;

    if (size < 6)
        return 0;
    overlay = data[0] & 1;
    /* Mostly small disks (fast runs), large ones when the top bit is set. */
    disk_size = get_be(data + 1, 3) % (data[1] & 0x80 ? MAX_CLUSTERS + 1 : 2049) * C +
                get_be(data + 4, 2);
    allocated = cpfs_extent_map_new(disk_size);
    changed = cpfs_extent_map_new(disk_size);
    for (size_t i = 6; i + 8 <= size && i < 6 + 8 * 64; i += 8) {
        guint64 unit = data[i] & 2 ? 4096 : 1;

        cpfs_extent_map_mark(data[i] & 1 ? changed : allocated,
                             get_be(data + i + 1, 4) * unit, get_be(data + i + 5, 3) * unit);
    }
    check_map(allocated);
    check_map(changed);
    layout = overlay ? cpfs_qcow2_overlay(allocated, changed) : cpfs_qcow2_full(allocated);
    CHECK(layout);
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 1099511628211u;      /* FNV-1a */
    check_image(layout, allocated, overlay ? changed : allocated, seed);
    return 0;
}
