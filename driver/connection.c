/* The connection to libvirt: opening it, noticing its loss or a hang,
 * reconnecting, domain events, and making a call on it within a budget.
 *
 * Thread model.
 *  - Callers (FUSE worker threads, any number) make calls through
 *    cpfs_driver_call.  For a daemon driver the call runs on a worker of
 *    drv->runner (runner.c) and the caller waits at most CPFS_DRIVER_BUDGET_US;
 *    a call that outlives it is abandoned to its worker and the connection
 *    becomes HUNG: from then on calls fail at once with EIO.  In-process
 *    drivers (test:///) run calls on the caller's thread.
 *  - The event thread runs libvirt's event loop: domain lifecycle events and
 *    the close callback, which declares the connection lost (DOWN).
 *  - The monitor thread lets go of lost connections, reconnects a DOWN
 *    driver with backoff, and probes a HUNG one until it answers again;
 *    after either it calls reconnected_func, since what happened meanwhile
 *    is unknown.  Opening and probing run on workers too, with deadlines.
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
#include <libxml/xmlerror.h>
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

static void
silent_error_handler(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
    /* libvirt prints every error to stderr by default; we log our own. */
}

static void G_GNUC_PRINTF(2, 3)
silent_xml_error(void *ctx G_GNUC_UNUSED, const char *msg G_GNUC_UNUSED, ...)
{
}

void
cpfs_driver_connection_lost(CpfsDriver *drv, CpfsConnection *c, const char *why)
{
    gboolean was_live;

    g_mutex_lock(&drv->lock);
    was_live = drv->live == c;
    if (was_live) {
        /* drv->live's reference moves to the monitor thread, which drops
         * it outside of any libvirt callback. */
        if (drv->lost)
            cpfs_connection_unref(drv->lost);
        drv->lost = g_steal_pointer(&drv->live);
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

static int
lifecycle_cb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, int event,
             int detail G_GNUC_UNUSED, void *opaque)
{
    CpfsDriver *drv = opaque;
    const char *name = virDomainGetName(dom);
    CpfsDomainEvent what = event == VIR_DOMAIN_EVENT_DEFINED     ? CPFS_DOMAIN_DEFINED
                           : event == VIR_DOMAIN_EVENT_UNDEFINED ? CPFS_DOMAIN_UNDEFINED
                                                                 : CPFS_DOMAIN_CHANGED;

    cpfs_debug("domain '%s': lifecycle event %d", name, event);
    /* A domain defined under an old name is another domain. */
    if (what != CPFS_DOMAIN_CHANGED)
        cpfs_driver_forget_domain(drv, name);
    drv->event_func(name, what, drv->event_opaque);
    return 0;
}

int
cpfs_connection_setup_events(CpfsConnection *c)
{
    CpfsDriver *drv = c->drv;
    int id = CALL(drv, virConnectDomainEventRegisterAny(
                           c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                           VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), drv, NULL));

    if (id < 0)
        cpfs_driver_fail(c, "register for domain events");
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

/* Whether CONN's driver runs inside this process: it has no keepalive.
 * For a daemon's connection this also makes sure keepalive is off. */
static gboolean
runs_in_process(CpfsDriver *drv, virConnectPtr conn)
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

CpfsDriver *
cpfs_driver_open(const char *uri, gboolean readonly, char **error)
{
    g_autoptr(CpfsDriver) drv = g_new0(CpfsDriver, 1);
    virConnectPtr conn;
    char *actual;

    g_mutex_init(&drv->lock);
    g_cond_init(&drv->changed);
    drv->lifecycle_id = -1;
    drv->readonly = readonly;
    drv->runner = cpfs_runner_new("libvirt-call");
    virSetErrorFunc(NULL, silent_error_handler);
    /* The event implementation must exist before the connection opens, or
     * the connection never delivers events. */
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
        *error = g_strdup("cannot initialize libvirt");
        return NULL;
    }
    /* libxml2 prints parse errors (of a test driver's node file, say) to
     * stderr; libvirt's own message says it all in one line. */
    xmlSetGenericErrorFunc(NULL, silent_xml_error);
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
    drv->in_process = runs_in_process(drv, conn);
    drv->live = cpfs_connection_new(drv, conn);
    drv->epoch = 1;
    drv->state = CPFS_CONN_UP;
    cpfs_connection_setup(drv->live, FALSE);
    return g_steal_pointer(&drv);
}

CpfsDriver *
cpfs_driver_new(const char *uri, gboolean readonly)
{
    CpfsDriver *drv = g_new0(CpfsDriver, 1);

    g_mutex_init(&drv->lock);
    g_cond_init(&drv->changed);
    drv->lifecycle_id = -1;
    drv->readonly = readonly;
    drv->runner = cpfs_runner_new("libvirt-call");
    drv->uri = g_strdup(uri);
    drv->state = CPFS_CONN_DOWN;
    virSetErrorFunc(NULL, silent_error_handler);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
        cpfs_error("cannot initialize libvirt");
    xmlSetGenericErrorFunc(NULL, silent_xml_error);
    return drv;
}

CpfsDriverState
cpfs_driver_state(CpfsDriver *drv, char **last_error)
{
    CpfsConnState state;

    g_mutex_lock(&drv->lock);
    state = drv->state;
    g_mutex_unlock(&drv->lock);
    if (last_error)
        *last_error = NULL;
    return state == CPFS_CONN_UP ? CPFS_DRIVER_CONNECTED : CPFS_DRIVER_DOWN;
}

/* The live connection, referenced, or NULL (logged) while down or hung. */
static CpfsConnection *
live_connection(CpfsDriver *drv, const char *what)
{
    CpfsConnection *c = NULL;
    CpfsConnState state;

    g_mutex_lock(&drv->lock);
    state = drv->state;
    if (state == CPFS_CONN_UP)
        c = cpfs_connection_ref(drv->live);
    g_mutex_unlock(&drv->lock);
    if (!c)
        cpfs_error("%s: libvirt at %s %s", what, drv->uri,
                   state == CPFS_CONN_HUNG ? "does not answer; waiting for it"
                                           : "is unreachable; reconnecting");
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
    if (first)
        cpfs_error("%s: libvirt at %s did not answer within %.1f s; failing calls at once "
                   "until it does", what, drv->uri, CPFS_DRIVER_BUDGET_US / 1e6);
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
    call->c = live_connection(drv, what);
    if (!call->c) {
        call_free(call);
        return -EIO;
    }
    if (drv->in_process) {
        call->run(call);
    } else if (!cpfs_runner_run(drv->runner, call_run, call, (GDestroyNotify)call_free,
                                g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US)) {
        /* The worker owns the call now, and frees it when libvirt answers. */
        connection_hung(drv, call->c, what);
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
