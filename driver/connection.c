/* The connection to libvirt: opening it, noticing its loss or a hang,
 * reconnecting, domain events, and making a call on it within a budget.
 *
 * Thread model.
 *  - Callers (FUSE worker threads, any number) make calls through
 *    cpfs_driver_call.  For a daemon driver the call runs on a worker of
 *    drv->runner (runner.c) and the caller waits at most CPFS_DRIVER_BUDGET_US;
 *    a call that outlives it is abandoned to its worker and the connection
 *    becomes HUNG: from then on calls fail at once with EIO.  In-process
 *    drivers (test:///) run calls on the caller's thread.  A driver made by
 *    cpfs_driver_new has no connection yet: calls wait for its first
 *    attempt (within the same budget), then fail at once while it is DOWN.
 *  - One event thread for the whole process (events.c), shared by every
 *    driver that watches: it runs libvirt's event loop, which delivers
 *    domain lifecycle events and the close callback that declares a
 *    connection lost (DOWN).  Callbacks there make no libvirt call and take
 *    only drv->lock (never held across a call) and leaf locks, so that no
 *    driver, however stuck, holds up another's events.  Domain events reach
 *    a driver through its gate (events.h), which unwatch closes.
 *  - Each driver's monitor thread lets go of lost connections, connects a
 *    new driver and reconnects a DOWN one with backoff, and probes a HUNG
 *    one until it answers again; after each it calls reconnected_func,
 *    since what happened meanwhile is unknown.  Opening and probing run on
 *    the driver's own workers too, with deadlines: a host that never
 *    answers holds up only its own driver.
 * Nothing else is shared between drivers: each has its own connection,
 * runner, monitor and locks.
 * libvirt's own keepalive is never turned on: it closes a connection under
 * the calls in flight on it, which libvirt 9.0's client does not survive
 * (a crash in virNetClientSendWithReply); the budget does its work.
 *
 * A CpfsConnection is reference-counted: drv->live holds one, every call in
 * flight another, so a connection is closed only once nothing uses it.
 *
 * Locks: drv->lock guards the connection state and is never held across a
 * libvirt call; the runner's and the handle cache's locks are leaves. */
#include "driver/backup.h"
#include "driver/connection.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

static void close_cb(virConnectPtr conn, int reason, void *opaque);

static void
connection_clear(CpfsConnection *c)
{
    /* Handles go before the connection they belong to. */
    cpfs_handles_free(c->handles);
    if (CALL(c->drv, virConnectUnregisterCloseCallback(c->conn, close_cb)) < 0)
        virResetLastError();  /* registered only once set up */
    CALL(c->drv, virConnectClose(c->conn));
}

CpfsConnection *
cpfs_connection_ref(CpfsConnection *c)
{
    return g_atomic_rc_box_acquire(c);
}

void
cpfs_connection_unref(CpfsConnection *c)
{
    if (c)
        g_atomic_rc_box_release_full(c, (GDestroyNotify)connection_clear);
}

CpfsConnection *
cpfs_connection_new(CpfsDriver *drv, virConnectPtr conn)
{
    CpfsConnection *c = g_atomic_rc_box_new0(CpfsConnection);

    c->drv = drv;
    c->conn = conn;
    c->handles = cpfs_handles_new();
    return c;
}

void
cpfs_driver_set_error_locked(CpfsDriver *drv, const char *message)
{
    char *line = g_strdup(message ? message : "unknown libvirt error");

    g_free(drv->last_error);
    drv->last_error = g_strstrip(g_strdelimit(line, "\r\n", ' '));
}

void
cpfs_driver_set_error(CpfsDriver *drv, const char *message)
{
    g_mutex_lock(&drv->lock);
    cpfs_driver_set_error_locked(drv, message);
    g_mutex_unlock(&drv->lock);
}

void
cpfs_driver_connection_lost(CpfsDriver *drv, CpfsConnection *c, const char *why)
{
    g_autoptr(CpfsConnection) older = NULL;
    gboolean was_live;

    g_mutex_lock(&drv->lock);
    was_live = drv->live == c;
    if (was_live) {
        /* drv->live's reference moves to the monitor thread, which drops
         * it outside of any libvirt callback.  An older one not yet let go
         * of is closed here, after the lock: closing is a libvirt call. */
        older = g_steal_pointer(&drv->lost);
        drv->lost = g_steal_pointer(&drv->live);
        cpfs_driver_set_error_locked(drv, why);
        drv->state = CPFS_CONN_DOWN;
        drv->lifecycle_id = -1;
        /* What was begun on it (backup jobs) is now of an earlier epoch. */
        drv->epoch++;
        g_cond_broadcast(&drv->changed);
    }
    g_mutex_unlock(&drv->lock);
    if (was_live)
        cpfs_error("lost the connection to libvirt at %s (%s); reconnecting", drv->uri, why);
}

/* OPAQUE is the driver itself, with no free function: libvirt calls none
 * for drivers without close callbacks (the test driver), and none is
 * needed, since every connection is cleared before its driver is freed and
 * unregistering waits for a callback under way (libvirt holds the
 * callback's lock while calling it). */
static void
close_cb(virConnectPtr conn, int reason, void *opaque)
{
    static const char *const reasons[] = {
        "error", "end of file", "keepalive timeout", "client closed",
    };
    CpfsDriver *drv = opaque;
    g_autoptr(CpfsConnection) c = NULL;

    g_mutex_lock(&drv->lock);
    if (drv->live && drv->live->conn == conn)
        c = cpfs_connection_ref(drv->live);
    g_mutex_unlock(&drv->lock);
    if (c)
        cpfs_driver_connection_lost(drv, c, reason >= 0 && reason < (int)G_N_ELEMENTS(reasons)
                                                ? reasons[reason] : "closed");
}

/* On the event thread, through the driver's gate: nothing of a driver
 * that stopped watching runs, however late libvirt delivers. */
static int
lifecycle_cb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, int event,
             int detail G_GNUC_UNUSED, void *opaque)
{
    CpfsEventGate *gate = opaque;
    CpfsDriver *drv = cpfs_event_gate_enter(gate);
    const char *name = virDomainGetName(dom);
    CpfsDomainEvent what = event == VIR_DOMAIN_EVENT_DEFINED     ? CPFS_DOMAIN_DEFINED
                           : event == VIR_DOMAIN_EVENT_UNDEFINED ? CPFS_DOMAIN_UNDEFINED
                                                                 : CPFS_DOMAIN_CHANGED;

    if (!drv)
        return 0;
    cpfs_debug("domain '%s': lifecycle event %d", name, event);
    /* A domain defined under an old name is another domain. */
    if (what != CPFS_DOMAIN_CHANGED)
        cpfs_driver_forget_domain(drv, name);
    drv->event_func(name, what, drv->event_opaque);
    cpfs_event_gate_leave(gate);
    return 0;
}

int
cpfs_connection_setup_events(CpfsConnection *c)
{
    CpfsDriver *drv = c->drv;
    /* libvirt keeps this reference until the callback is gone for good,
     * which may be after a deregistration returned (while dispatching). */
    CpfsEventGate *gate = cpfs_event_gate_ref(drv->gate);
    int id = CALL(drv, virConnectDomainEventRegisterAny(
                           c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                           VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), gate,
                           cpfs_event_gate_unref));

    if (id < 0) {
        /* A failed registration does not call the free function. */
        cpfs_event_gate_unref(gate);
        cpfs_driver_fail(c, "register for domain events");
    }
    return id;
}

int
cpfs_connection_setup(CpfsConnection *c, gboolean events)
{
    CpfsDriver *drv = c->drv;

    if (CALL(drv, virConnectRegisterCloseCallback(c->conn, close_cb, drv, NULL)) < 0)
        cpfs_driver_fail(c, "register for connection close");
    return events ? cpfs_connection_setup_events(c) : -1;
}

static virConnectPtr
open_uri(CpfsDriver *drv, const char *uri)
{
    return CALL(drv, drv->readonly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri));
}

gboolean
cpfs_driver_runs_in_process(CpfsDriver *drv, virConnectPtr conn)
{
    if (CALL(drv, virConnectSetKeepAlive(conn, -1, 0)) == 0)
        return FALSE;
    if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
        cpfs_debug("in-process driver: %s", virGetLastErrorMessage());
        virResetLastError();
        return TRUE;
    }
    virResetLastError();
    return FALSE;
}

/* A driver with no connection (NEW) and nothing running. */
static CpfsDriver *
driver_alloc(gboolean readonly)
{
    CpfsDriver *drv = g_new0(CpfsDriver, 1);

    g_mutex_init(&drv->lock);
    g_cond_init(&drv->changed);
    drv->state = CPFS_CONN_NEW;
    drv->lifecycle_id = -1;
    drv->readonly = readonly;
    drv->runner = cpfs_runner_new("libvirt-call");
    drv->gate = cpfs_event_gate_new(drv);
    return drv;
}

CpfsDriver *
cpfs_driver_new(const char *uri, gboolean readonly)
{
    CpfsDriver *drv = driver_alloc(readonly);

    drv->uri = g_strdup(uri);
    /* Before any connection opens, on whatever thread. */
    if (!cpfs_events_init())
        cpfs_driver_set_error(drv, "cannot initialize libvirt");
    return drv;
}

CpfsDriver *
cpfs_driver_open(const char *uri, gboolean readonly, char **error)
{
    g_autoptr(CpfsDriver) drv = driver_alloc(readonly);
    virConnectPtr conn;
    char *actual;

    if (!cpfs_events_init()) {
        *error = g_strdup("cannot initialize libvirt");
        return NULL;
    }
    /* On this thread, before daemonizing: no worker may exist at fork. */
    conn = open_uri(drv, uri);
    if (!conn) {
        const char *msg = virGetLastErrorMessage();
        g_autofree char *line = g_strdup(msg ? msg : "unknown error");
        const char *named = uri ? uri : g_getenv("LIBVIRT_DEFAULT_URI");

        g_strdelimit(line, "\n", ' ');
        *error = g_strdup_printf("cannot connect to '%s': %s",
                                 named ? named : "libvirt's default URI", g_strstrip(line));
        virResetLastError();
        return NULL;
    }
    /* Reconnect to what we actually reached, not to a default that might
     * resolve differently later. */
    actual = CALL(drv, virConnectGetURI(conn));
    drv->uri = g_strdup(actual ? actual : uri);
    free(actual);
    drv->in_process = cpfs_driver_runs_in_process(drv, conn);
    drv->live = cpfs_connection_new(drv, conn);
    drv->epoch = 1;
    drv->state = CPFS_CONN_UP;
    drv->connected_once = TRUE;
    cpfs_connection_setup(drv->live, FALSE);
    return g_steal_pointer(&drv);
}

CpfsDriverState
cpfs_driver_state(CpfsDriver *drv, char **last_error)
{
    CpfsDriverState state;

    g_mutex_lock(&drv->lock);
    if (drv->state == CPFS_CONN_UP)
        state = CPFS_DRIVER_CONNECTED;
    else if (drv->state == CPFS_CONN_NEW || drv->attempting)
        state = CPFS_DRIVER_CONNECTING;
    else
        state = CPFS_DRIVER_DOWN;
    if (last_error)
        *last_error = g_strdup(drv->last_error);
    g_mutex_unlock(&drv->lock);
    return state;
}

/* The live connection, referenced, or NULL (logged) while down or hung.
 * While the first connection is being made, waits for it until DEADLINE,
 * and tells so in *WAITED. */
static CpfsConnection *
live_connection(CpfsDriver *drv, const char *what, gint64 deadline, gboolean *waited)
{
    CpfsConnection *c = NULL;
    CpfsConnState state;
    gboolean once, loud;
    gint64 now;

    g_mutex_lock(&drv->lock);
    while (drv->state == CPFS_CONN_NEW && !drv->stopping) {
        *waited = TRUE;
        if (!g_cond_wait_until(&drv->changed, &drv->lock, deadline))
            break;
    }
    state = drv->state;
    once = drv->connected_once;
    if (state == CPFS_CONN_UP)
        c = cpfs_connection_ref(drv->live);
    /* A script walking a down host would flood the log: one line a second. */
    now = g_get_monotonic_time();
    loud = !c && now - drv->refusal_logged >= G_USEC_PER_SEC;
    if (loud)
        drv->refusal_logged = now;
    g_mutex_unlock(&drv->lock);
    if (!c) {
        const char *why = state == CPFS_CONN_HUNG  ? "does not answer; waiting for it"
                          : state == CPFS_CONN_NEW ? "is still connecting"
                          : once                   ? "is unreachable; reconnecting"
                                                   : "is unreachable; retrying";

        if (loud)
            cpfs_error("%s: libvirt at %s %s", what, drv->uri, why);
        else
            cpfs_debug("%s: libvirt at %s %s", what, drv->uri, why);
    }
    return c;
}

/* C, still live, did not answer a call within its budget. */
static void
connection_hung(CpfsDriver *drv, CpfsConnection *c, const char *what)
{
    gboolean first;

    g_mutex_lock(&drv->lock);
    first = drv->live == c && drv->state == CPFS_CONN_UP;
    if (first) {
        drv->state = CPFS_CONN_HUNG;
        g_cond_broadcast(&drv->changed);
    }
    g_mutex_unlock(&drv->lock);
    if (first) {
        g_autofree char *error = g_strdup_printf("did not answer within %.1f s",
                                                 CPFS_DRIVER_BUDGET_US / 1e6);

        cpfs_driver_set_error(drv, error);
        cpfs_error("%s: libvirt at %s %s; failing calls at once until it does", what,
                   drv->uri, error);
    }
}

static void
call_free(CpfsCall *call)
{
    if (call->clear)
        call->clear(call);
    cpfs_connection_unref(call->c);
    g_free(call);
}

static void
call_run(gpointer data)
{
    CpfsCall *call = data;

    call->run(call);
}

int
cpfs_driver_call_keep(CpfsDriver *drv, CpfsCall *call, const char *what)
{
    /* One budget for waiting for the first connection and for the call. */
    gint64 deadline = g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US;
    gboolean waited = FALSE;
    CpfsConnection *c;

    call->c = c = live_connection(drv, what, deadline, &waited);
    if (!c) {
        call_free(call);
        return -EIO;
    }
    if (drv->in_process) {
        call->run(call);
    } else if (!cpfs_runner_run(drv->runner, call_run, call, (GDestroyNotify)call_free,
                                deadline)) {
        /* The worker owns the call now, and frees it when libvirt answers:
         * C serves only to compare from here on.  A call that had only
         * what the wait left of its budget did not show a hang. */
        if (!waited)
            connection_hung(drv, c, what);
        else
            cpfs_error("%s: libvirt at %s did not answer within the budget left after "
                       "connecting", what, drv->uri);
        return CPFS_DRIVER_CUT_OFF;
    }
    return 0;
}

void
cpfs_driver_call_done(CpfsCall *call)
{
    call_free(call);
}

int
cpfs_driver_call_results(CpfsDriver *drv, CpfsCall *call, const char *what,
                         gboolean may_cut_off)
{
    int rc = cpfs_driver_call_keep(drv, call, what);

    if (rc == 0 && call->rc < 0) {
        rc = call->rc;
        cpfs_driver_call_done(call);
    }
    if (rc == CPFS_DRIVER_CUT_OFF && !may_cut_off)
        rc = -EIO;
    return rc;
}

int
cpfs_driver_call(CpfsDriver *drv, CpfsCall *call, const char *what)
{
    int rc = cpfs_driver_call_keep(drv, call, what);

    if (rc < 0)
        return rc;
    rc = call->rc;
    call_free(call);
    return rc;
}

void
cpfs_driver_forget_domain(CpfsDriver *drv, const char *domain)
{
    g_autoptr(CpfsConnection) c = NULL;

    g_mutex_lock(&drv->lock);
    if (drv->live)
        c = cpfs_connection_ref(drv->live);
    g_mutex_unlock(&drv->lock);
    if (c)
        cpfs_handles_drop(c->handles, domain, NULL);
}

const char *
cpfs_driver_uri(CpfsDriver *drv)
{
    return drv->uri;
}

guint64
cpfs_driver_calls(CpfsDriver *drv)
{
    return __atomic_load_n(&drv->calls, __ATOMIC_RELAXED);
}

guint64
cpfs_driver_epoch(CpfsDriver *drv)
{
    guint64 epoch;

    g_mutex_lock(&drv->lock);
    epoch = drv->epoch;
    g_mutex_unlock(&drv->lock);
    return epoch;
}

guint
cpfs_driver_handle_domains(CpfsDriver *drv)
{
    g_autoptr(CpfsConnection) c = NULL;

    g_mutex_lock(&drv->lock);
    if (drv->live)
        c = cpfs_connection_ref(drv->live);
    g_mutex_unlock(&drv->lock);
    return c ? cpfs_handles_domains(c->handles) : 0;
}
