/* What the qcow2 unit tests share: sizes, and extent maps written inline. */
#pragma once
#include <glib.h>

#include "model/qcow2.h"

#define C ((guint64)CPFS_QCOW2_CLUSTER_SIZE)
#define MiB (G_GUINT64_CONSTANT(1) << 20)
#define GiB (G_GUINT64_CONSTANT(1) << 30)
#define TiB (G_GUINT64_CONSTANT(1) << 40)

/* A map of SIZE bytes with the N pairs (offset, length) of RUNS marked. */
static inline CpfsExtentMap *
map_of(guint64 size, const guint64 *runs, guint n)
{
    CpfsExtentMap *map = cpfs_extent_map_new(size);

    for (guint i = 0; i < n; i++)
        cpfs_extent_map_mark(map, runs[2 * i], runs[2 * i + 1]);
    return map;
}

/* MAP(size, offset, length, ...): map_of with the runs written inline. */
#define MAP(size, ...) map_of((size), (guint64[]){ __VA_ARGS__ }, \
                              sizeof((guint64[]){ __VA_ARGS__ }) / 16)
