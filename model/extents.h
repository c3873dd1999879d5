/* Extent maps: which byte ranges of a disk hold data (or are dirty), as
 * sorted, merged runs.  Plain data: what lseek's SEEK_DATA/SEEK_HOLE and the
 * raw and qcow2 images are computed from.  Memory is per run, never per
 * cluster or byte. */
#pragma once
#include <glib.h>

typedef struct {
    guint64 offset;
    guint64 length;
} CpfsExtent;

/* A read the caller must make from the disk: LENGTH bytes at DISK_OFFSET
 * into its buffer at BUF_OFFSET. */
typedef struct {
    gsize buf_offset;
    guint64 disk_offset;
    gsize length;
} CpfsDiskRead;

typedef struct _CpfsExtentMap CpfsExtentMap;

/* A map of a disk of SIZE bytes with no run marked. */
CpfsExtentMap *cpfs_extent_map_new(guint64 size);
void cpfs_extent_map_free(CpfsExtentMap *map);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsExtentMap, cpfs_extent_map_free)

/* Marks [OFFSET, OFFSET + LENGTH), clipped to the size; adjacent and
 * overlapping runs merge.  Marking in increasing order costs O(1). */
void cpfs_extent_map_mark(CpfsExtentMap *map, guint64 offset, guint64 length);
guint64 cpfs_extent_map_size(const CpfsExtentMap *map);
/* Bytes marked. */
guint64 cpfs_extent_map_marked_bytes(const CpfsExtentMap *map);
guint cpfs_extent_map_n_runs(const CpfsExtentMap *map);
const CpfsExtent *cpfs_extent_map_run(const CpfsExtentMap *map, guint i);
/* TRUE when any byte of [OFFSET, OFFSET + LENGTH) is marked. */
gboolean cpfs_extent_map_any(const CpfsExtentMap *map, guint64 offset, guint64 length);

/* lseek(2) on a file whose data is the marked runs: with DATA the first
 * marked offset >= OFFSET, else the first unmarked one (the size counts as
 * a hole).  -1 where lseek fails with ENXIO (OFFSET >= size, or no data
 * after it). */
gint64 cpfs_extent_map_seek(const CpfsExtentMap *map, guint64 offset, gboolean data);

/* The reads that fill a raw image's [OFFSET, OFFSET + LENGTH) (within the
 * size): one per marked run it meets, appended to READS (of CpfsDiskRead);
 * the caller zeroes the rest of its buffer. */
void cpfs_extent_map_raw_reads(const CpfsExtentMap *map, guint64 offset, gsize length,
                               GArray *reads);
