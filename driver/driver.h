/* Everything that talks to libvirt.  The driver owns the connection, which
 * all FUSE threads share (libvirt allows that).  Calls return 0 or a
 * negative errno and log libvirt's own message when they fail. */
#pragma once
#include <glib.h>

#include "model/tree.h"

typedef struct _CpfsDriver CpfsDriver;

/* Opens URI (NULL: libvirt's default).  On failure returns NULL and sets
 * *error to a one-line message naming the cause. */
CpfsDriver *cpfs_driver_open(const char *uri, gboolean readonly, char **error);
void cpfs_driver_free(CpfsDriver *drv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsDriver, cpfs_driver_free)

/* What happened to a domain, from libvirt's lifecycle events. */
typedef enum {
    CPFS_DOMAIN_DEFINED,    /* appeared (or was renamed to this name) */
    CPFS_DOMAIN_UNDEFINED,  /* gone (or renamed away) */
    CPFS_DOMAIN_CHANGED,    /* started, stopped, paused...: its XML changed */
} CpfsDomainEvent;

typedef void (*CpfsDomainEventFunc)(const char *domain, CpfsDomainEvent event, void *opaque);
typedef void (*CpfsReconnectedFunc)(void *opaque);

/* Starts a thread running libvirt's event loop, which reports domain
 * lifecycle events to FUNC and keeps the connection alive (keepalive, close
 * callback), and a thread that reconnects with backoff whenever libvirt goes
 * away; RECONNECTED runs after each reconnection.  While libvirt is down,
 * calls fail at once with -EIO.  Call after daemonizing: threads do not
 * survive fork.  There are no checkpoint events in libvirt. */
int cpfs_driver_watch_domains(CpfsDriver *drv, CpfsDomainEventFunc func,
                              CpfsReconnectedFunc reconnected, void *opaque);
/* Stops both threads, if running. */
void cpfs_driver_unwatch(CpfsDriver *drv);

/* The URI libvirt actually connected to. */
const char *cpfs_driver_uri(CpfsDriver *drv);
/* How many libvirt API calls the driver has made so far. */
guint64 cpfs_driver_calls(CpfsDriver *drv);

/* The errno for a libvirt error code (virErrorNumber). */
int cpfs_driver_errno(int vir_error_code);

/* Names of all domains, running or not. */
int cpfs_driver_list_domains(CpfsDriver *drv, GPtrArray **names);
/* Called with each checkpoint's full XML document while listing. */
typedef void (*CpfsCheckpointDocFunc)(const char *domain, const CpfsCheckpointRecord *rec,
                                      const char *xml, void *opaque);
/* Every checkpoint of DOMAIN with its parent, creation time and XML size.
 * Each one's document (flags 0, what checkpoint_xml returns) is read to
 * learn them and handed to DOC_FUNC (may be NULL). */
int cpfs_driver_list_checkpoints(CpfsDriver *drv, const char *domain, GPtrArray **records,
                                 CpfsCheckpointDocFunc doc_func, void *opaque);
int cpfs_driver_domain_xml(CpfsDriver *drv, const char *domain, char **xml);
int cpfs_driver_checkpoint_xml(CpfsDriver *drv, const char *domain, const char *name,
                               char **xml);
/* 1 when DOMAIN has a checkpoint NAME, 0 when not, or a negative errno. */
int cpfs_driver_checkpoint_exists(CpfsDriver *drv, const char *domain, const char *name);

/* Creates checkpoint NAME with libvirt's default disks.  When libvirt gives
 * it a parent other than EXPECTED_PARENT (NULL: none), deletes it again and
 * returns -EPERM.  On success *created describes the new checkpoint, or is
 * NULL when its description could not be read back. */
int cpfs_driver_checkpoint_create(CpfsDriver *drv, const char *domain, const char *name,
                                  const char *expected_parent,
                                  CpfsCheckpointRecord **created);
/* Deletes checkpoint NAME; its children move up to its parent. */
int cpfs_driver_checkpoint_delete(CpfsDriver *drv, const char *domain, const char *name);
