/* Everything that talks to libvirt: a thin layer of libvirt calls on one
 * connection, which the driver owns with its threads (connection.c has the
 * thread model).  Each CpfsDriver is independent of any other.  Calls return
 * 0 or a negative errno within a budget of 4.5 s, and log libvirt's own
 * message when they fail.  What a result means for the tree is decided
 * elsewhere (model/rules.h). */
#pragma once
#include <errno.h>
#include <glib.h>

#include "model/tree.h"

typedef struct _CpfsDriver CpfsDriver;

/* Opens URI (NULL: libvirt's default) on the calling thread; call before
 * daemonizing.  On failure returns NULL and sets *error to a one-line
 * message naming the cause. */
CpfsDriver *cpfs_driver_open(const char *uri, gboolean readonly, char **error);
/* A driver for URI (not NULL) that connects in the background: no libvirt
 * call on this thread.  Its monitor thread (cpfs_driver_watch_domains)
 * makes the first attempt, then retries with backoff (0.1 s doubling to
 * 2 s) while it fails.  Calls made before the first attempt's outcome wait
 * for it within their budget; while DOWN they fail with -EIO at once. */
CpfsDriver *cpfs_driver_new(const char *uri, gboolean readonly);
/* Stops the driver (cpfs_driver_unwatch) and frees it, whatever its state,
 * while other drivers go on; one stuck in libvirt is left to the process's
 * exit instead.  Not from a callback of the driver's own. */
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

/* Takes a reference on the process's one libvirt event thread (domain
 * lifecycle events to FUNC, close callbacks) and starts this driver's
 * monitor thread (connects a new driver, reconnects when libvirt goes away,
 * probes it when it hangs); RECONNECTED runs after each new connection,
 * the first of a cpfs_driver_new driver included, since what happened
 * before is unknown.  FUNC and RECONNECTED run on those threads: they must
 * not make libvirt calls nor wait for locks held across one, and never
 * free a driver.  Call after daemonizing: threads do not survive fork.
 * There are no checkpoint events in libvirt. */
int cpfs_driver_watch_domains(CpfsDriver *drv, CpfsDomainEventFunc func,
                              CpfsReconnectedFunc reconnected, void *opaque);
/* Stops the monitor thread, if running, and ends FUNC's calls (waiting for
 * one under way); drops the event thread's reference, which stops it when
 * no other driver watches. */
void cpfs_driver_unwatch(CpfsDriver *drv);

/* The URI libvirt actually connected to (cpfs_driver_open), or the one
 * given (cpfs_driver_new). */
const char *cpfs_driver_uri(CpfsDriver *drv);
/* How many libvirt API calls the driver has made so far. */
guint64 cpfs_driver_calls(CpfsDriver *drv);

typedef enum {
    CPFS_DRIVER_CONNECTED,   /* libvirt answers */
    CPFS_DRIVER_CONNECTING,  /* a connection attempt is under way, or due first */
    CPFS_DRIVER_DOWN,        /* the last attempt failed, the connection was lost,
                              * or libvirt does not answer (hung) */
} CpfsDriverState;

/* DRV's state; with LAST_ERROR (may be NULL), also the last libvirt error
 * met on it, on one line (NULL when none; the caller frees it): a failed
 * connection attempt or call, a hang, a lost connection's reason.  It
 * stays after the driver connects again. */
CpfsDriverState cpfs_driver_state(CpfsDriver *drv, char **last_error);
/* Waits until libvirt answers again or DEADLINE (monotonic) passes. */
gboolean cpfs_driver_wait_up(CpfsDriver *drv, gint64 deadline);

/* The errno for a libvirt error code (virErrorNumber). */
int cpfs_driver_errno(int vir_error_code);

/* Every call answers within this budget, however many are in flight and
 * whatever libvirt does (the FUSE request around it within 5 s). */
#define CPFS_DRIVER_BUDGET_US (G_USEC_PER_SEC * 9 / 2)

/* What create and delete return when the connection broke or hung during
 * the call: whether it was carried out is unknown. */
#define CPFS_DRIVER_CUT_OFF (-ECONNABORTED)

/* Names of all domains, running or not. */
int cpfs_driver_list_domains(CpfsDriver *drv, GPtrArray **names);
/* Every checkpoint of DOMAIN (name, parent, creation time) in *RECORDS and,
 * at the same index of *DOCUMENTS, its full XML (flags 0, what
 * checkpoint_xml returns): reading it is how its parent is learnt. */
int cpfs_driver_list_checkpoints(CpfsDriver *drv, const char *domain, GPtrArray **records,
                                 GPtrArray **documents);
/* The domain's XML, flags 0: never VIR_DOMAIN_XML_SECURE. */
int cpfs_driver_domain_xml(CpfsDriver *drv, const char *domain, char **xml);
int cpfs_driver_checkpoint_xml(CpfsDriver *drv, const char *domain, const char *name,
                               char **xml);
/* Asks libvirt for checkpoint NAME: 1 and its record in *FOUND (may be
 * NULL) when it exists, 0 when not, or a negative errno. */
int cpfs_driver_checkpoint_lookup(CpfsDriver *drv, const char *domain, const char *name,
                                  CpfsCheckpointRecord **found);

/* Creates checkpoint NAME with libvirt's default disks and parent; on
 * success *created describes it.  CPFS_DRIVER_CUT_OFF: it may exist. */
int cpfs_driver_checkpoint_create(CpfsDriver *drv, const char *domain, const char *name,
                                  CpfsCheckpointRecord **created);
/* Deletes checkpoint NAME; its children move up to its parent.
 * CPFS_DRIVER_CUT_OFF: it may be gone. */
int cpfs_driver_checkpoint_delete(CpfsDriver *drv, const char *domain, const char *name);

/* Domains whose handles the live connection keeps (to test boundedness). */
guint cpfs_driver_handle_domains(CpfsDriver *drv);
