/* The daemon's cached view of one libvirt connection.
 *
 * libvirt is the source of truth; the view only keeps what it last heard,
 * for at most cache_timeout/2: a sorted domain list, per domain an immutable
 * checkpoint tree, and rendered documents (cache/documents.h).  Readers take
 * a reference to a tree and never wait for another domain; a reader that
 * finds nothing cached waits for a listing under way instead of starting its
 * own.  mkdir and rmdir on one domain are serialized and update that
 * domain's tree at once, so their effect shows immediately. */
#pragma once
#include <glib.h>

#include "driver/driver.h"
#include "model/tree.h"

typedef struct _CpfsView CpfsView;

CpfsView *cpfs_view_new(CpfsDriver *drv, double cache_timeout);
void cpfs_view_free(CpfsView *view);

/* The current domain list, referenced; negative errno on failure. */
int cpfs_view_domains(CpfsView *view, CpfsDomainList **list);
/* The domain list last read, however old, referenced; NULL when there is
 * none.  Never asks libvirt. */
CpfsDomainList *cpfs_view_last_domains(CpfsView *view);
/* The checkpoint tree of DOMAIN, referenced; -ENOENT when the domain is gone. */
int cpfs_view_checkpoints(CpfsView *view, const char *domain, CpfsCheckpointTree **tree);

/* The domain's XML (flags 0, no secrets). */
int cpfs_view_domain_xml(CpfsView *view, const char *domain, char **xml);
/* How many libvirt calls have been made so far. */
guint64 cpfs_view_calls(CpfsView *view);

/* Size of the domain's XML: that of the document the next open serves. */
int cpfs_view_domain_xml_size(CpfsView *view, const char *domain, gint64 *size);
/* Checkpoint CP's XML (flags 0): rendered by libvirt, or the same version of
 * the document rendered within the last cache_timeout/2. */
int cpfs_view_checkpoint_xml(CpfsView *view, const char *domain, CpfsCheckpoint *cp,
                             char **xml);
/* Size of checkpoint CP's XML: that of the document the next open serves. */
int cpfs_view_checkpoint_xml_size(CpfsView *view, const char *domain, CpfsCheckpoint *cp,
                                  gint64 *size);

/* Forgets what a lifecycle event made stale: the domain list when a domain
 * came or went (so the change shows at once; a domain gone is forgotten
 * whole), the domain's XML when it started or stopped. */
void cpfs_view_domain_event(CpfsView *view, const char *domain, CpfsDomainEvent event);

/* Forgets everything: after a reconnection nothing cached can be trusted. */
void cpfs_view_forget_all(CpfsView *view);

/* Creates checkpoint NAME under PARENT (NULL: directly in the domain), which
 * must be incarnation PARENT_SERIAL of that name (0: any), and sets its
 * *creation_time and *serial. */
int cpfs_view_mkdir(CpfsView *view, const char *domain, const char *parent,
                    guint64 parent_serial, const char *name, gint64 *creation_time,
                    guint64 *serial);
/* Deletes checkpoint NAME. */
int cpfs_view_rmdir(CpfsView *view, const char *domain, const char *name);

/* What the view holds, to check that it stays bounded. */
typedef struct {
    guint domains;          /* per-domain states */
    guint documents;        /* cached documents */
    gsize document_bytes;
    guint driver_handles;   /* domains whose libvirt handles are kept */
} CpfsViewStats;
void cpfs_view_stats(CpfsView *view, CpfsViewStats *stats);
