/* Extent maps as a sorted array of disjoint, non-adjacent runs. */
#include "model/extents.h"

struct _CpfsExtentMap {
    guint64 size;
    guint64 marked;
    GArray *runs;   /* of CpfsExtent, sorted, never touching each other */
};

CpfsExtentMap *
cpfs_extent_map_new(guint64 size)
{
    CpfsExtentMap *map = g_new0(CpfsExtentMap, 1);

    map->size = size;
    map->runs = g_array_new(FALSE, FALSE, sizeof(CpfsExtent));
    return map;
}

void
cpfs_extent_map_free(CpfsExtentMap *map)
{
    if (!map)
        return;
    g_array_unref(map->runs);
    g_free(map);
}

static inline guint64
run_end(const CpfsExtent *run)
{
    return run->offset + run->length;
}

/* The index of the first run whose end is > OFFSET (or >= it when
 * TOUCHING, so that an adjacent run counts), or the number of runs. */
static guint
first_run_ending_after(const CpfsExtentMap *map, guint64 offset, gboolean touching)
{
    guint lo = 0, hi = map->runs->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        guint64 end = run_end(&g_array_index(map->runs, CpfsExtent, mid));

        if (end > offset || (touching && end == offset))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The index of the first run starting after END (a run starting at END
 * touches [.., END) and merges with it), searching from FROM. */
static guint
first_run_starting_after(const CpfsExtentMap *map, guint from, guint64 end)
{
    guint lo = from, hi = map->runs->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;

        if (g_array_index(map->runs, CpfsExtent, mid).offset > end)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void
cpfs_extent_map_mark(CpfsExtentMap *map, guint64 offset, guint64 length)
{
    guint64 end;
    guint i, j;
    CpfsExtent merged;

    if (offset >= map->size)
        return;
    end = length > map->size - offset ? map->size : offset + length;
    if (end == offset)
        return;
    /* Fast path: marking in increasing order appends or extends the last. */
    if (map->runs->len) {
        CpfsExtent *last = &g_array_index(map->runs, CpfsExtent, map->runs->len - 1);

        if (offset >= last->offset && offset <= run_end(last)) {
            if (end > run_end(last)) {
                map->marked += end - run_end(last);
                last->length = end - last->offset;
            }
            return;
        }
    }
    i = first_run_ending_after(map, offset, TRUE);
    j = first_run_starting_after(map, i, end);
    merged.offset = offset;
    merged.length = end - offset;
    if (i < j) {
        const CpfsExtent *first = &g_array_index(map->runs, CpfsExtent, i);
        const CpfsExtent *last = &g_array_index(map->runs, CpfsExtent, j - 1);
        guint64 merged_end = MAX(end, run_end(last));

        merged.offset = MIN(offset, first->offset);
        merged.length = merged_end - merged.offset;
        for (guint k = i; k < j; k++)
            map->marked -= g_array_index(map->runs, CpfsExtent, k).length;
        g_array_remove_range(map->runs, i, j - i);
    }
    map->marked += merged.length;
    g_array_insert_val(map->runs, i, merged);
}

guint64
cpfs_extent_map_size(const CpfsExtentMap *map)
{
    return map->size;
}

guint64
cpfs_extent_map_marked_bytes(const CpfsExtentMap *map)
{
    return map->marked;
}

guint
cpfs_extent_map_n_runs(const CpfsExtentMap *map)
{
    return map->runs->len;
}

const CpfsExtent *
cpfs_extent_map_run(const CpfsExtentMap *map, guint i)
{
    g_return_val_if_fail(i < map->runs->len, NULL);
    return &g_array_index(map->runs, CpfsExtent, i);
}

gboolean
cpfs_extent_map_any(const CpfsExtentMap *map, guint64 offset, guint64 length)
{
    guint i;

    if (length == 0 || offset >= map->size)
        return FALSE;
    i = first_run_ending_after(map, offset, FALSE);
    if (i == map->runs->len)
        return FALSE;
    /* Run I ends after OFFSET: it meets the range unless it starts past it. */
    return g_array_index(map->runs, CpfsExtent, i).offset <= offset ||
           g_array_index(map->runs, CpfsExtent, i).offset - offset < length;
}

gint64
cpfs_extent_map_seek(const CpfsExtentMap *map, guint64 offset, gboolean data)
{
    const CpfsExtent *run;
    guint i;

    if (offset >= map->size)
        return -1;
    i = first_run_ending_after(map, offset, FALSE);
    if (i == map->runs->len)
        return data ? -1 : (gint64)offset;
    run = &g_array_index(map->runs, CpfsExtent, i);
    if (data)
        return (gint64)MAX(offset, run->offset);
    /* Runs never touch, so a run's end is a hole (or the size). */
    return (gint64)(run->offset <= offset ? run_end(run) : offset);
}

void
cpfs_extent_map_raw_reads(const CpfsExtentMap *map, guint64 offset, gsize length,
                          GArray *reads)
{
    guint64 end;

    if (offset >= map->size || length == 0)
        return;
    end = length > map->size - offset ? map->size : offset + length;
    for (guint i = first_run_ending_after(map, offset, FALSE); i < map->runs->len; i++) {
        const CpfsExtent *run = &g_array_index(map->runs, CpfsExtent, i);
        guint64 lo = MAX(offset, run->offset), hi = MIN(end, run_end(run));
        CpfsDiskRead read;

        if (run->offset >= end)
            break;
        read.buf_offset = lo - offset;
        read.disk_offset = lo;
        read.length = hi - lo;
        g_array_append_val(reads, read);
    }
}
