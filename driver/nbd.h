/* Reading a backup job's NBD export with libnbd: its extents (block status
 * of base:allocation and of the job's dirty bitmap) and its data, with
 * several requests in flight over several connections.  Thread-safe: many
 * FUSE workers read one export at once.  Every wait has a deadline. */
#pragma once
#include <glib.h>

#include "model/extents.h"

typedef struct _CpfsNbdExport CpfsNbdExport;

/* Where an export is served and what it is. */
typedef struct {
    const char *socket_path;    /* unix socket, or NULL for TCP: */
    const char *tcp_host;
    int tcp_port;
    const char *export_name;    /* the disk's export, e.g. "vda" */
    const char *bitmap;         /* the export's dirty bitmap ("backup-vda"), or NULL */
} CpfsNbdTarget;

/* Connects to TARGET (CONNECTIONS connections) before DEADLINE (monotonic
 * µs).  NULL on failure with *ERROR set to a one-line message. */
CpfsNbdExport *cpfs_nbd_open(const CpfsNbdTarget *target, guint connections, gint64 deadline,
                             char **error);
void cpfs_nbd_close(CpfsNbdExport *exp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsNbdExport, cpfs_nbd_close)

guint64 cpfs_nbd_size(CpfsNbdExport *exp);
/* The export's extents: in *ALLOCATED what base:allocation does not call a
 * hole; in *CHANGED (when CHANGED is not NULL; needs a bitmap) what its
 * dirty bitmap marks.  0, -ESTALE when the export lacks the bitmap, or -EIO. */
int cpfs_nbd_extents(CpfsNbdExport *exp, gint64 deadline, CpfsExtentMap **allocated,
                     CpfsExtentMap **changed);
/* Makes the N READS into BUF, in parallel, before DEADLINE: 0 or -EIO. Once
 * a connection broke, every later read fails at once with -EIO. */
int cpfs_nbd_read(CpfsNbdExport *exp, guint8 *buf, const CpfsDiskRead *reads, guint n,
                  gint64 deadline);
/* TRUE once a connection of EXP failed: its reads fail from then on. */
gboolean cpfs_nbd_broken(CpfsNbdExport *exp);
/* The export's NBD URI (nbd+unix:///vda?socket=... or nbd://host:port/vda). */
const char *cpfs_nbd_uri(CpfsNbdExport *exp);
