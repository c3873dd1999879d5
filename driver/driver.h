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
/* A driver for URI that has not connected yet: its monitor thread connects
 * (cpfs_driver_watch_domains starts it), and retries with backoff.  No
 * libvirt call is made here. */
CpfsDriver *cpfs_driver_new(const char *uri, gboolean readonly);
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

/* Starts the event thread (domain lifecycle events to FUNC, close callbacks)
 * and the monitor thread (reconnects when libvirt goes away, probes it when
 * it hangs); RECONNECTED runs after libvirt came back either way.  Call
 * after daemonizing: threads do not survive fork.  There are no checkpoint
 * events in libvirt. */
int cpfs_driver_watch_domains(CpfsDriver *drv, CpfsDomainEventFunc func,
                              CpfsReconnectedFunc reconnected, void *opaque);
/* Stops both threads, if running. */
void cpfs_driver_unwatch(CpfsDriver *drv);

/* The URI libvirt actually connected to. */
const char *cpfs_driver_uri(CpfsDriver *drv);
typedef enum {
    CPFS_DRIVER_CONNECTED,
    CPFS_DRIVER_CONNECTING,
    CPFS_DRIVER_DOWN,
} CpfsDriverState;
/* Whether the driver is connected; *LAST_ERROR (if asked; NULL when none)
 * the last libvirt error met on it. */
CpfsDriverState cpfs_driver_state(CpfsDriver *drv, char **last_error);
/* How many libvirt API calls the driver has made so far. */
guint64 cpfs_driver_calls(CpfsDriver *drv);
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
