/* qcow2 images made on the fly, as plain data: the layout of a version 3
 * image (QEMU's docs/interop/qcow2.txt) with 64 KiB clusters and 16-bit
 * refcounts whose data clusters are byte ranges of a disk.  The metadata
 * (header, refcount table and blocks, L1 and L2 tables) is computed from
 * the extent maps; data clusters follow it in disk order, so a run of
 * clusters of the disk is one run of the file.  Memory is per run of
 * clusters, not per cluster: L2 tables are rendered when read. */
#pragma once
#include <glib.h>

#include "model/extents.h"

#define CPFS_QCOW2_CLUSTER_SIZE 65536

typedef struct _CpfsQcow2Layout CpfsQcow2Layout;

/* A standalone image of a disk of cpfs_extent_map_size(ALLOCATED) bytes
 * that holds every cluster any marked byte of ALLOCATED touches. */
CpfsQcow2Layout *cpfs_qcow2_full(const CpfsExtentMap *allocated);
/* An overlay (no backing file named: `qemu-img rebase -u` names one) that
 * holds every cluster any marked byte of CHANGED touches; of those, a
 * cluster no marked byte of ALLOCATED touches is a zero cluster (it reads
 * as zeroes whatever the backing file holds), the others data clusters.
 * Both maps have the disk's size. */
CpfsQcow2Layout *cpfs_qcow2_overlay(const CpfsExtentMap *allocated,
                                    const CpfsExtentMap *changed);
/* (Both NULL for a disk over 2 PiB, QEMU's limit on the L1 table, or maps
 * of different sizes.) */
void cpfs_qcow2_layout_free(CpfsQcow2Layout *layout);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsQcow2Layout, cpfs_qcow2_layout_free)

/* The image file's size in bytes. */
guint64 cpfs_qcow2_file_size(const CpfsQcow2Layout *layout);
/* Data clusters it holds (zero clusters not counted). */
guint64 cpfs_qcow2_data_clusters(const CpfsQcow2Layout *layout);

/* Fills BUF with the file's bytes [OFFSET, OFFSET + LENGTH) (within the
 * file size): metadata and padding written into BUF, and for data clusters
 * one CpfsDiskRead per run appended to READS, which the caller makes. */
void cpfs_qcow2_read(const CpfsQcow2Layout *layout, guint64 offset, gsize length,
                     guint8 *buf, GArray *reads);

/* The size of an image of a disk of DISK_SIZE bytes holding DATA_BYTES of
 * data in whole clusters (an estimate for stat before the clusters are
 * known: as if the data were packed). */
guint64 cpfs_qcow2_estimate(guint64 disk_size, guint64 data_bytes);
