/* The hosts one mount serves: a single URI's, or those a hosts file names.
 *
 * Each host is as isolated as if it had its own daemon: its own driver (one
 * connection, its close callback, its reconnect thread, its own workers for
 * libvirt calls), its own view and its own backup jobs; only libvirt's event
 * loop thread is shared.  Hosts are reference-counted: a request or an open
 * file holds its host, so a host removed by a reload is freed (connection
 * closed, jobs ended) once nothing uses it any more, on the fleet's closer
 * thread.  The fleet's lock guards the table of hosts only and is never held
 * across a libvirt call. */
#pragma once
#include <glib.h>

#include "cache/view.h"
#include "driver/driver.h"
#include "jobs/jobs.h"
#include "model/hosts.h"

typedef struct _CpfsFleet CpfsFleet;
typedef struct _CpfsHost CpfsHost;

/* Read-only after creation, but for the removed flag. */
struct _CpfsHost {
    char *name;             /* the directory; NULL for a single URI's host */
    char *uri;              /* as configured (a single URI's: as libvirt reached it) */
    gboolean readonly;      /* the mount's ro, or the host's readonly key */
    CpfsDriver *drv;
    CpfsView *view;
    CpfsJobs *jobs;         /* NULL: no image files on this host */
    CpfsFleet *fleet;
    /* What the hosts file said, to tell a changed host at a reload. */
    gboolean readonly_key;
    char *backup_scratch;   /* its own, or NULL */
    gint refs;
    gint removed;           /* atomic: a reload took it out of the fleet */
};

/* What the fleet tells the filesystem, on libvirt's event thread or the
 * reloading thread; never with a lock held. */
typedef struct {
    void (*domain_event)(CpfsHost *host, const char *domain, CpfsDomainEvent event,
                         void *opaque);
    void (*reconnected)(CpfsHost *host, void *opaque);
    /* Host NAME appeared, went, or was replaced; OLD (NULL when it
     * appeared) is the host it was, whose entries the kernel may hold. */
    void (*host_changed)(const char *name, CpfsHost *old, void *opaque);
    void *opaque;
} CpfsFleetEvents;

typedef struct {
    double cache_timeout;
    gboolean readonly;          /* the whole mount */
    gboolean image_files;       /* FALSE: no backup jobs anywhere */
    double backup_linger;
    int port_low, port_high;
    const char *backup_scratch; /* default for hosts without their own */
} CpfsFleetConfig;

/* The fleet of one URI, whose driver DRV (owned from here on) is open. */
CpfsFleet *cpfs_fleet_new_single(CpfsDriver *drv, const CpfsFleetConfig *config);
/* The fleet of hosts file PATH, as FILE (owned from here on) says. */
CpfsFleet *cpfs_fleet_new_file(const char *path, CpfsHostsFile *file,
                               const CpfsFleetConfig *config);
/* Makes the hosts and starts their threads, which then connect: call after
 * daemonizing, as threads do not survive fork. */
void cpfs_fleet_start(CpfsFleet *fleet, const CpfsFleetEvents *events);
/* Stops every host's threads (before the FUSE session goes). */
void cpfs_fleet_stop(CpfsFleet *fleet);
/* Frees the hosts once their users are gone; call after cpfs_fleet_stop. */
void cpfs_fleet_free(CpfsFleet *fleet);

/* TRUE for a hosts file's fleet: the root lists hosts. */
gboolean cpfs_fleet_has_hosts(CpfsFleet *fleet);
/* The hosts file's path, or NULL. */
const char *cpfs_fleet_path(CpfsFleet *fleet);
/* What was mounted: the hosts file's path, or the URI libvirt reached. */
const char *cpfs_fleet_source(CpfsFleet *fleet);
/* Host NAME (NULL: a single URI's), referenced; NULL when there is none. */
CpfsHost *cpfs_fleet_host(CpfsFleet *fleet, const char *name);
/* The hosts' names, sorted (owned strings); empty for a single URI. */
GPtrArray *cpfs_fleet_host_names(CpfsFleet *fleet);
/* Every host, referenced, in name order. */
GPtrArray *cpfs_fleet_hosts(CpfsFleet *fleet);
/* libvirt calls made so far, over all hosts, removed ones included. */
guint64 cpfs_fleet_calls(CpfsFleet *fleet);

/* Reads the hosts file again: added hosts appear, removed ones go, changed
 * ones are replaced, the rest are untouched.  FALSE with *error (the file's
 * own "PATH:LINE: what") when it cannot be read: then nothing changes. */
gboolean cpfs_fleet_reload(CpfsFleet *fleet, char **error);

CpfsHost *cpfs_host_ref(CpfsHost *host);
void cpfs_host_unref(CpfsHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsHost, cpfs_host_unref)
/* TRUE once a reload took HOST out of the fleet: its files fail with EIO. */
gboolean cpfs_host_removed(CpfsHost *host);
