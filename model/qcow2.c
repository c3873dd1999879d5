/* qcow2 images made on the fly.  The file is six regions of whole clusters,
 * in this order: the header, the refcount table, the refcount blocks, the L1
 * table, the L2 tables (one per 512 MiB of the disk holding any cluster),
 * then the data clusters in disk order.  Every cluster of the file is used
 * once, so every refcount is 1 and the refcount blocks are a plain pattern;
 * the tables are rendered when read from runs of clusters. */
#include "model/qcow2.h"

#include <string.h>

#define CLUSTER ((guint64)CPFS_QCOW2_CLUSTER_SIZE)
#define CLUSTER_BITS 16
#define L2_ENTRIES (CLUSTER / 8)      /* clusters one L2 table maps */
#define RT_ENTRIES (CLUSTER / 8)      /* refcount blocks one table cluster points to */
#define RB_ENTRIES (CLUSTER / 2)      /* clusters one refcount block counts (16 bits) */
#define OFLAG_COPIED (G_GUINT64_CONSTANT(1) << 63)
#define OFLAG_ZERO G_GUINT64_CONSTANT(1)
#define HEADER_LENGTH 104
/* QEMU refuses L1 tables over 32 MiB (QCOW_MAX_L1_SIZE): disks of 2 PiB. */
#define MAX_L1_ENTRIES (G_GUINT64_CONSTANT(32) * 1024 * 1024 / 8)
#define NO_DATA G_MAXUINT64

/* Disk clusters [cluster, cluster + count): data clusters from the file's
 * data cluster DATA on (counted from the data region), or zero clusters
 * when DATA is NO_DATA. */
typedef struct {
    guint64 cluster;
    guint64 count;
    guint64 data;
} Run;

/* L1 entries [l1, l1 + count) point to the L2 tables RANK, RANK + 1, ... */
typedef struct {
    guint64 l1;
    guint64 count;
    guint64 rank;
} Group;

enum { REGION_HEADER, REGION_RT, REGION_RB, REGION_L1, REGION_L2, REGION_DATA, N_REGIONS };

struct _CpfsQcow2Layout {
    guint64 disk_size;
    guint64 l1_size;
    GArray *runs;        /* of Run, all of them, in disk order */
    GArray *data_runs;   /* of Run, the data runs only */
    GArray *groups;      /* of Group, in L1 order */
    guint64 n_data;
    guint64 n_rb;
    guint64 start[N_REGIONS + 1];   /* first cluster of each region, then the total */
    guint8 header[HEADER_LENGTH];
};

static inline guint64
div_up(guint64 a, guint64 b)
{
    return a / b + (a % b != 0);
}

static inline void
put_be32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, 4);
}

static inline void
put_be64(guint8 *p, guint64 v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, 8);
}

/* Sets *RT and *RB to the clusters of the refcount table and blocks a file
 * of FIXED other clusters needs (they count themselves as well). */
static void
refcount_clusters(guint64 fixed, guint64 *rt, guint64 *rb)
{
    guint64 t = 0, b = 0;

    for (;;) {
        guint64 nb = div_up(fixed + t + b, RB_ENTRIES);
        guint64 nt = div_up(nb, RT_ENTRIES);

        if (nb == b && nt == t)
            break;
        b = nb;
        t = nt;
    }
    *rt = t;
    *rb = b;
}

/* The clusters any marked byte of MAP touches, as merged runs of clusters
 * (a CpfsExtent in cluster units). */
static GArray *
touched_clusters(const CpfsExtentMap *map)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(CpfsExtent));

    for (guint i = 0; i < cpfs_extent_map_n_runs(map); i++) {
        const CpfsExtent *run = cpfs_extent_map_run(map, i);
        guint64 first = run->offset / CLUSTER;
        guint64 end = div_up(run->offset + run->length, CLUSTER);
        CpfsExtent *last = out->len ? &g_array_index(out, CpfsExtent, out->len - 1) : NULL;

        /* Two byte runs may share a cluster or meet at a cluster boundary. */
        if (last && last->offset + last->length >= first) {
            last->length = MAX(end, last->offset + last->length) - last->offset;
        } else {
            CpfsExtent c = { first, end - first };
            g_array_append_val(out, c);
        }
    }
    return out;
}

/* Appends COUNT clusters from CLUSTER on, data or zero clusters. */
static void
add_run(CpfsQcow2Layout *layout, guint64 cluster, guint64 count, gboolean data)
{
    Run run = { cluster, count, data ? layout->n_data : NO_DATA };
    guint64 first_l1 = cluster / L2_ENTRIES, end_l1 = (cluster + count - 1) / L2_ENTRIES + 1;
    Group *last;

    g_array_append_val(layout->runs, run);
    if (data) {
        g_array_append_val(layout->data_runs, run);
        layout->n_data += count;
    }
    last = layout->groups->len ? &g_array_index(layout->groups, Group, layout->groups->len - 1)
                               : NULL;
    if (last && last->l1 + last->count >= first_l1) {
        last->count = MAX(end_l1, last->l1 + last->count) - last->l1;
    } else {
        Group g = { first_l1, end_l1 - first_l1, last ? last->rank + last->count : 0 };
        g_array_append_val(layout->groups, g);
    }
}

/* A layout of a disk of SIZE bytes with no clusters yet, or NULL when the
 * disk is too large for QEMU's L1 table limit. */
static CpfsQcow2Layout *
layout_new(guint64 size)
{
    CpfsQcow2Layout *layout;
    guint64 l1_size = div_up(size / CLUSTER + (size % CLUSTER != 0), L2_ENTRIES);

    if (l1_size > MAX_L1_ENTRIES)
        return NULL;
    layout = g_new0(CpfsQcow2Layout, 1);
    layout->disk_size = size;
    layout->l1_size = l1_size;
    layout->runs = g_array_new(FALSE, FALSE, sizeof(Run));
    layout->data_runs = g_array_new(FALSE, FALSE, sizeof(Run));
    layout->groups = g_array_new(FALSE, FALSE, sizeof(Group));
    return layout;
}

/* Places the regions once the runs are known and renders the header. */
static void
layout_finish(CpfsQcow2Layout *layout)
{
    guint64 *s = layout->start;
    guint64 n_l2 = 0, l1_clusters = div_up(layout->l1_size * 8, CLUSTER), rt, rb;
    guint8 *h = layout->header;

    if (layout->groups->len) {
        const Group *g = &g_array_index(layout->groups, Group, layout->groups->len - 1);
        n_l2 = g->rank + g->count;
    }
    refcount_clusters(1 + l1_clusters + n_l2 + layout->n_data, &rt, &rb);
    layout->n_rb = rb;
    s[REGION_HEADER] = 0;
    s[REGION_RT] = 1;
    s[REGION_RB] = s[REGION_RT] + rt;
    s[REGION_L1] = s[REGION_RB] + rb;
    s[REGION_L2] = s[REGION_L1] + l1_clusters;
    s[REGION_DATA] = s[REGION_L2] + n_l2;
    s[N_REGIONS] = s[REGION_DATA] + layout->n_data;

    put_be32(h + 0, 0x514649fb);            /* QFI\xfb */
    put_be32(h + 4, 3);
    put_be32(h + 20, CLUSTER_BITS);
    put_be64(h + 24, layout->disk_size);
    put_be32(h + 36, (guint32)layout->l1_size);
    /* As qemu-img does, an empty L1 table has offset 0. */
    put_be64(h + 40, layout->l1_size ? s[REGION_L1] * CLUSTER : 0);
    put_be64(h + 48, s[REGION_RT] * CLUSTER);
    put_be32(h + 56, (guint32)rt);
    put_be32(h + 96, 4);                    /* refcount_order: 16 bits */
    put_be32(h + 100, HEADER_LENGTH);
    /* The header extensions' end marker follows: zeroes. */
}

CpfsQcow2Layout *
cpfs_qcow2_full(const CpfsExtentMap *allocated)
{
    CpfsQcow2Layout *layout = layout_new(cpfs_extent_map_size(allocated));
    g_autoptr(GArray) clusters = NULL;

    if (!layout)
        return NULL;
    clusters = touched_clusters(allocated);
    for (guint i = 0; i < clusters->len; i++) {
        const CpfsExtent *c = &g_array_index(clusters, CpfsExtent, i);

        add_run(layout, c->offset, c->length, TRUE);
    }
    layout_finish(layout);
    return layout;
}

CpfsQcow2Layout *
cpfs_qcow2_overlay(const CpfsExtentMap *allocated, const CpfsExtentMap *changed)
{
    CpfsQcow2Layout *layout;
    g_autoptr(GArray) alloc = NULL;
    g_autoptr(GArray) chg = NULL;
    guint j = 0;

    g_return_val_if_fail(cpfs_extent_map_size(allocated) == cpfs_extent_map_size(changed), NULL);
    layout = layout_new(cpfs_extent_map_size(changed));
    if (!layout)
        return NULL;
    alloc = touched_clusters(allocated);
    chg = touched_clusters(changed);
    /* Split each changed run by the allocated runs, which a cursor walks. */
    for (guint i = 0; i < chg->len; i++) {
        const CpfsExtent *c = &g_array_index(chg, CpfsExtent, i);
        guint64 pos = c->offset, end = c->offset + c->length;

        while (pos < end) {
            const CpfsExtent *a;

            while (j < alloc->len &&
                   g_array_index(alloc, CpfsExtent, j).offset +
                   g_array_index(alloc, CpfsExtent, j).length <= pos)
                j++;
            a = j < alloc->len ? &g_array_index(alloc, CpfsExtent, j) : NULL;
            if (a && a->offset <= pos) {
                guint64 stop = MIN(end, a->offset + a->length);

                add_run(layout, pos, stop - pos, TRUE);
                pos = stop;
            } else {
                guint64 stop = a ? MIN(end, a->offset) : end;

                add_run(layout, pos, stop - pos, FALSE);
                pos = stop;
            }
        }
    }
    layout_finish(layout);
    return layout;
}

void
cpfs_qcow2_layout_free(CpfsQcow2Layout *layout)
{
    if (!layout)
        return;
    g_array_unref(layout->runs);
    g_array_unref(layout->data_runs);
    g_array_unref(layout->groups);
    g_free(layout);
}

guint64
cpfs_qcow2_file_size(const CpfsQcow2Layout *layout)
{
    return layout->start[N_REGIONS] * CLUSTER;
}

guint64
cpfs_qcow2_data_clusters(const CpfsQcow2Layout *layout)
{
    return layout->n_data;
}

/* Where table entries are rendered from: BASE is added to the entry index,
 * I is a position in an array that only moves forward as the index grows. */
typedef struct {
    guint64 base;
    guint i;
} Cursor;

typedef guint64 (*EntryFunc)(const CpfsQcow2Layout *layout, guint64 index, Cursor *cur);

/* Writes bytes [REL, REL + LEN) of a table of big-endian 64-bit entries
 * that ENTRY gives (asked in increasing index order) into OUT. */
static void
render_entries(const CpfsQcow2Layout *layout, guint64 rel, gsize len, guint8 *out,
               EntryFunc entry, Cursor *cur)
{
    guint64 index = rel / 8;
    gsize done = 0, skip = rel % 8;

    while (done < len) {
        guint64 be = GUINT64_TO_BE(entry(layout, index, cur));
        gsize n = MIN(8 - skip, len - done);

        memcpy(out + done, (guint8 *)&be + skip, n);
        done += n;
        skip = 0;
        index++;
    }
}

static guint64
rt_entry(const CpfsQcow2Layout *layout, guint64 index, Cursor *cur G_GNUC_UNUSED)
{
    return index < layout->n_rb ? (layout->start[REGION_RB] + index) * CLUSTER : 0;
}

static guint64
l1_entry(const CpfsQcow2Layout *layout, guint64 index, Cursor *cur)
{
    const GArray *groups = layout->groups;
    const Group *g;

    while (cur->i < groups->len &&
           g_array_index(groups, Group, cur->i).l1 + g_array_index(groups, Group, cur->i).count <= index)
        cur->i++;
    if (cur->i == groups->len)
        return 0;
    g = &g_array_index(groups, Group, cur->i);
    if (g->l1 > index)
        return 0;
    return (layout->start[REGION_L2] + g->rank + index - g->l1) * CLUSTER | OFLAG_COPIED;
}

/* The entry of the L2 table whose first disk cluster is CUR->base. */
static guint64
l2_entry(const CpfsQcow2Layout *layout, guint64 index, Cursor *cur)
{
    const GArray *runs = layout->runs;
    guint64 cluster = cur->base + index;
    const Run *r;

    while (cur->i < runs->len &&
           g_array_index(runs, Run, cur->i).cluster + g_array_index(runs, Run, cur->i).count <= cluster)
        cur->i++;
    if (cur->i == runs->len)
        return 0;
    r = &g_array_index(runs, Run, cur->i);
    if (r->cluster > cluster)
        return 0;
    if (r->data == NO_DATA)
        return OFLAG_ZERO;
    return (layout->start[REGION_DATA] + r->data + cluster - r->cluster) * CLUSTER | OFLAG_COPIED;
}

/* The index of the first run of RUNS (of Run) ending after CLUSTER, or
 * with BY_DATA, of the run holding data cluster CLUSTER. */
static guint
find_run(const GArray *runs, guint64 cluster, gboolean by_data)
{
    guint lo = 0, hi = runs->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const Run *r = &g_array_index(runs, Run, mid);

        if ((by_data ? r->data : r->cluster) + r->count > cluster)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The index of the group holding L2 table RANK. */
static guint
find_group(const GArray *groups, guint64 rank)
{
    guint lo = 0, hi = groups->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const Group *g = &g_array_index(groups, Group, mid);

        if (g->rank + g->count > rank)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

typedef void (*RenderFunc)(const CpfsQcow2Layout *layout, guint64 rel, gsize len,
                           guint8 *out, gsize buf_offset, GArray *reads);

static void
render_header(const CpfsQcow2Layout *layout, guint64 rel, gsize len, guint8 *out,
              gsize buf_offset G_GNUC_UNUSED, GArray *reads G_GNUC_UNUSED)
{
    gsize n = rel < HEADER_LENGTH ? MIN(len, HEADER_LENGTH - rel) : 0;

    if (n)
        memcpy(out, layout->header + rel, n);
    memset(out + n, 0, len - n);
}

static void
render_rt(const CpfsQcow2Layout *layout, guint64 rel, gsize len, guint8 *out,
          gsize buf_offset G_GNUC_UNUSED, GArray *reads G_GNUC_UNUSED)
{
    Cursor cur = { 0, 0 };

    render_entries(layout, rel, len, out, rt_entry, &cur);
}

/* Refcount blocks: 16-bit big-endian 1 for each cluster of the file, 0 past
 * its end, so byte 2k + 1 is 1 while k is a cluster of the file. */
static void
render_rb(const CpfsQcow2Layout *layout, guint64 rel, gsize len, guint8 *out,
          gsize buf_offset G_GNUC_UNUSED, GArray *reads G_GNUC_UNUSED)
{
    guint64 ones_end = layout->start[N_REGIONS] * 2;

    memset(out, 0, len);
    for (guint64 b = rel | 1; b < rel + len && b < ones_end; b += 2)
        out[b - rel] = 1;
}

static void
render_l1(const CpfsQcow2Layout *layout, guint64 rel, gsize len, guint8 *out,
          gsize buf_offset G_GNUC_UNUSED, GArray *reads G_GNUC_UNUSED)
{
    Cursor cur = { 0, 0 };

    render_entries(layout, rel, len, out, l1_entry, &cur);
}

/* L2 tables, table by table: each one's disk clusters from its L1 index. */
static void
render_l2(const CpfsQcow2Layout *layout, guint64 rel, gsize len, guint8 *out,
          gsize buf_offset G_GNUC_UNUSED, GArray *reads G_GNUC_UNUSED)
{
    gsize done = 0;

    while (done < len) {
        guint64 pos = rel + done, rank = pos / CLUSTER, in_table = pos % CLUSTER;
        gsize n = MIN(len - done, CLUSTER - in_table);
        const Group *g = &g_array_index(layout->groups, Group,
                                        find_group(layout->groups, rank));
        Cursor cur;

        cur.base = (g->l1 + rank - g->rank) * L2_ENTRIES;
        cur.i = find_run(layout->runs, cur.base + in_table / 8, FALSE);
        render_entries(layout, in_table, n, out + done, l2_entry, &cur);
        done += n;
    }
}

/* Data clusters: one disk read per run met, and zeroes past the disk's end
 * (the last cluster of a disk whose size is no multiple of a cluster). */
static void
render_data(const CpfsQcow2Layout *layout, guint64 rel, gsize len, guint8 *out,
            gsize buf_offset, GArray *reads)
{
    const GArray *runs = layout->data_runs;
    guint64 end = rel + len;

    for (guint i = find_run(runs, rel / CLUSTER, TRUE); i < runs->len; i++) {
        const Run *r = &g_array_index(runs, Run, i);
        guint64 lo = MAX(rel, r->data * CLUSTER), hi = MIN(end, (r->data + r->count) * CLUSTER);
        guint64 disk = r->cluster * CLUSTER + (lo - r->data * CLUSTER);
        guint64 n = 0;

        if (lo >= end)
            break;
        if (disk < layout->disk_size) {
            CpfsDiskRead read;

            n = MIN(hi - lo, layout->disk_size - disk);
            read.buf_offset = buf_offset + (lo - rel);
            read.disk_offset = disk;
            read.length = n;
            g_array_append_val(reads, read);
        }
        memset(out + (lo - rel) + n, 0, hi - lo - n);
    }
}

void
cpfs_qcow2_read(const CpfsQcow2Layout *layout, guint64 offset, gsize length,
                guint8 *buf, GArray *reads)
{
    static const RenderFunc render[N_REGIONS] = {
        render_header, render_rt, render_rb, render_l1, render_l2, render_data,
    };
    guint64 end = offset + length;

    g_return_if_fail(offset <= cpfs_qcow2_file_size(layout) &&
                     length <= cpfs_qcow2_file_size(layout) - offset);
    for (int r = 0; r < N_REGIONS; r++) {
        guint64 from = layout->start[r] * CLUSTER, to = layout->start[r + 1] * CLUSTER;
        guint64 lo = MAX(offset, from), hi = MIN(end, to);

        if (lo < hi)
            render[r](layout, lo - from, hi - lo, buf + (lo - offset), lo - offset, reads);
    }
}

guint64
cpfs_qcow2_estimate(guint64 disk_size, guint64 data_bytes)
{
    guint64 n_clusters = disk_size / CLUSTER + (disk_size % CLUSTER != 0);
    guint64 data = MIN(div_up(data_bytes, CLUSTER), n_clusters);
    guint64 l1_clusters = div_up(div_up(n_clusters, L2_ENTRIES) * 8, CLUSTER);
    guint64 rt, rb;

    refcount_clusters(1 + l1_clusters + div_up(data, L2_ENTRIES) + data, &rt, &rb);
    return (1 + rt + rb + l1_clusters + div_up(data, L2_ENTRIES) + data) * CLUSTER;
}
