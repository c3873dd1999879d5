/* Inside driver/: the connection to libvirt, its threads, and how a call is
 * made on it.  calls.c builds every API call on this; nothing outside
 * driver/ sees it. */
#pragma once
#include <errno.h>
#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "driver/driver.h"
#include "driver/events.h"
#include "driver/handles.h"
#include "driver/runner.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomainCheckpoint, virDomainCheckpointFree)

/* One opened virConnectPtr and the handles met on it.  Reference-counted:
 * every call in flight holds a reference, so a connection declared lost or
 * hung is closed only once its last call has returned. */
typedef struct {
    CpfsDriver *drv;
    virConnectPtr conn;
    CpfsHandles *handles;
} CpfsConnection;

CpfsConnection *cpfs_connection_new(CpfsDriver *drv, virConnectPtr conn);
CpfsConnection *cpfs_connection_ref(CpfsConnection *c);
void cpfs_connection_unref(CpfsConnection *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsConnection, cpfs_connection_unref)

typedef enum {
    CPFS_CONN_NEW,    /* never connected: its first attempt is pending */
    CPFS_CONN_UP,     /* answering */
    CPFS_CONN_HUNG,   /* a call outlived its budget: calls fail at once */
    CPFS_CONN_DOWN,   /* lost, or an attempt failed; the monitor thread retries */
} CpfsConnState;

struct _CpfsDriver {
    char *uri;
    gboolean readonly;
    /* In-process drivers (test:///) cannot hang on a daemon: their calls
     * run on the caller's thread, with no worker hand-off.  Learnt at the
     * first connection, before the state first becomes UP. */
    gboolean in_process;
    guint64 calls;
    CpfsRunner *runner;        /* this driver's own: never shared */
    CpfsEventGate *gate;       /* how domain events reach this driver */

    /* Lock order: lock, then a runner's or a handle cache's lock (leaves);
     * lock is never held across a libvirt call (connection.c). */
    GMutex lock;               /* guards the fields up to the blank line */
    GCond changed;             /* state changed, or stopping */
    CpfsConnection *live;      /* NULL while DOWN */
    CpfsConnection *lost;      /* for the monitor thread to let go of */
    CpfsConnState state;
    gboolean connected_once;   /* state was UP at least once */
    gint64 refusal_logged;     /* when a call refused while not UP was last logged */
    gboolean attempting;       /* the monitor is opening a connection */
    gboolean opening;          /* an open job is out, even one given up on */
    char *last_error;          /* one line, or NULL */
    guint64 epoch;             /* bumped when a connection is made or lost */
    gboolean probing;          /* a probe of a HUNG connection is out */
    gboolean came_back;        /* the monitor owes a reconnected call */
    int lifecycle_id;          /* domain event callback on live, or -1 */
    gboolean stopping;
    gboolean monitor_done;     /* the monitor thread has left its loop */

    GThread *monitor_thread;   /* connects, reconnects and probes */
    gboolean failing;          /* the monitor's: a failure streak is logged */
    gboolean abandoned;        /* a thread or job would not stop: never free */
    CpfsDomainEventFunc event_func;
    CpfsReconnectedFunc reconnected_func;
    void *event_opaque;
};

/* Every libvirt API call that may reach libvirt goes through this, so the
 * count is complete (reference counting and name accessors do not). */
#define CALL(drv, expr) (__atomic_add_fetch(&(drv)->calls, 1, __ATOMIC_RELAXED), (expr))

/* A call's job: calls.c embeds this first in its own job struct. */
typedef struct CpfsCall CpfsCall;
struct CpfsCall {
    CpfsConnection *c;       /* referenced */
    int rc;                  /* the job's result: 0 or a negative errno */
    void (*run)(CpfsCall *call);
    void (*clear)(CpfsCall *call);  /* frees what the job holds; may be NULL */
};

/* Runs CALL (allocated with g_malloc, owned from here on) on the live
 * connection within the call budget.  Returns its rc; -EIO at once while
 * libvirt is down or hung; CPFS_DRIVER_CUT_OFF when the budget ran out or the
 * connection was lost during the call.  WHAT names it in log lines. */
int cpfs_driver_call(CpfsDriver *drv, CpfsCall *call, const char *what);

/* Like cpfs_driver_call, but on 0 the caller reads CALL's results and then
 * frees it with cpfs_driver_call_done; on failure CALL is gone already. */
int cpfs_driver_call_keep(CpfsDriver *drv, CpfsCall *call, const char *what);
void cpfs_driver_call_done(CpfsCall *call);
/* cpfs_driver_call_keep that also fails with CALL's own rc (then CALL is
 * gone too).  Only a call that changes something may be cut off: unless
 * MAY_CUT_OFF, a call cut off is just -EIO. */
int cpfs_driver_call_results(CpfsDriver *drv, CpfsCall *call, const char *what,
                             gboolean may_cut_off);

/* Sets C up to report its loss (close callback) and, when
 * EVENTS its domains' lifecycle events: returns the callback id or -1. */
int cpfs_connection_setup(CpfsConnection *c, gboolean events);
int cpfs_connection_setup_events(CpfsConnection *c);

/* Logs what failed with libvirt's message (the thread's last error) and
 * returns the negative errno.  A failure on a connection that died is
 * CPFS_DRIVER_CUT_OFF, and hands the connection to the monitor thread. */
int cpfs_driver_fail(CpfsConnection *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Where a libvirt error happened, when a code means something else there
 * than in general (errors.c keeps every mapping). */
typedef enum {
    CPFS_ERRCTX_GENERAL,
    CPFS_ERRCTX_BACKUP_BEGIN,   /* virDomainBackupBegin */
} CpfsErrorContext;

/* cpfs_driver_errno for an error met in CTX. */
int cpfs_driver_errno_in(CpfsErrorContext ctx, int vir_error_code);
/* cpfs_driver_fail for a call made in CTX. */
int cpfs_driver_fail_in(CpfsConnection *c, CpfsErrorContext ctx, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* DOMAIN's handle on C, from the handle cache or a lookup (calls.c). */
int cpfs_driver_lookup_domain(CpfsConnection *c, const char *domain, virDomainPtr *dom);
/* Checkpoint NAME's handle; 0, or -ENOENT quietly when ABSENT_OK and
 * libvirt has no such checkpoint (calls.c). */
int cpfs_driver_lookup_checkpoint(CpfsConnection *c, virDomainPtr dom, const char *domain,
                                  const char *name, gboolean absent_ok,
                                  virDomainCheckpointPtr *cp);

/* Whether CONN's driver runs inside this process (it has no keepalive);
 * for a daemon's connection this also makes sure keepalive is off. */
gboolean cpfs_driver_runs_in_process(CpfsDriver *drv, virConnectPtr conn);

/* Records MESSAGE (on one line) as the last libvirt error met on DRV;
 * call without drv->lock. */
void cpfs_driver_set_error(CpfsDriver *drv, const char *message);
/* The same, with drv->lock held. */
void cpfs_driver_set_error_locked(CpfsDriver *drv, const char *message);

/* Declares C lost (from a close callback or a failed call). */
void cpfs_driver_connection_lost(CpfsDriver *drv, CpfsConnection *c, const char *why);

/* Forgets the handles of DOMAIN on the live connection. */
void cpfs_driver_forget_domain(CpfsDriver *drv, const char *domain);
