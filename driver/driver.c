#include "driver/driver.h"
#include "driver/cpxml.h"
#include "model/log.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libxml/xmlerror.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomainCheckpoint, virDomainCheckpointFree)

struct _CpfsDriver {
    char *uri;
    gboolean readonly;
    guint64 calls;

    GMutex lock;            /* guards the fields up to the blank line */
    GCond changed;          /* conn came back, was lost, or we are stopping */
    virConnectPtr conn;     /* NULL while libvirt is unreachable */
    virConnectPtr lost;     /* a dead connection for the reconnect thread to close */
    int lifecycle_id;       /* domain event callback on conn, or -1 */
    gboolean stopping;

    /* The event loop thread (events, keepalive, close callbacks) and the
     * thread that reconnects with backoff. */
    GThread *event_thread;
    gint event_quit;
    GThread *reconnect_thread;
    int threads_done;       /* guarded by lock */
    gboolean abandoned;     /* a thread would not stop: never free */
    CpfsDomainEventFunc event_func;
    CpfsReconnectedFunc reconnected_func;
    void *event_opaque;

    /* Handles of domains and checkpoints met before, so that a call needs
     * no lookup round trip first.  A handle only names its object: using
     * one whose object is gone fails like a lookup would.  Valid for one
     * connection (handles_conn, referenced). */
    GMutex handles_lock;
    virConnectPtr handles_conn;
    GHashTable *handles;    /* domain name -> DomainHandles* */
};

typedef struct {
    virDomainPtr dom;
    GHashTable *checkpoints;  /* name -> virDomainCheckpointPtr */
} DomainHandles;

static void
checkpoint_handle_free(gpointer cp)
{
    virDomainCheckpointFree(cp);
}

static void
domain_handles_free(DomainHandles *h)
{
    virDomainFree(h->dom);
    g_hash_table_unref(h->checkpoints);
    g_free(h);
}

/* The handles of DOMAIN on CONN, created empty; call with handles_lock. */
static DomainHandles *
handles_of(CpfsDriver *drv, virConnectPtr conn, const char *domain)
{
    DomainHandles *h;

    if (drv->handles_conn != conn) {
        g_hash_table_remove_all(drv->handles);
        if (drv->handles_conn)
            virConnectClose(drv->handles_conn);
        virConnectRef(conn);
        drv->handles_conn = conn;
    }
    h = g_hash_table_lookup(drv->handles, domain);
    if (!h) {
        h = g_new0(DomainHandles, 1);
        h->checkpoints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               checkpoint_handle_free);
        g_hash_table_insert(drv->handles, g_strdup(domain), h);
    }
    return h;
}

/* Forgets the handles of DOMAIN (all of them when CHECKPOINT is NULL). */
static void
handles_drop(CpfsDriver *drv, const char *domain, const char *checkpoint)
{
    DomainHandles *h;

    g_mutex_lock(&drv->handles_lock);
    h = g_hash_table_lookup(drv->handles, domain);
    if (h && checkpoint)
        g_hash_table_remove(h->checkpoints, checkpoint);
    else if (h)
        g_hash_table_remove(drv->handles, domain);
    g_mutex_unlock(&drv->handles_lock);
}

static void
handles_put_checkpoint(CpfsDriver *drv, virConnectPtr conn, const char *domain,
                       virDomainCheckpointPtr cp)
{
    DomainHandles *h;

    g_mutex_lock(&drv->handles_lock);
    h = handles_of(drv, conn, domain);
    virDomainCheckpointRef(cp);
    g_hash_table_insert(h->checkpoints, g_strdup(virDomainCheckpointGetName(cp)), cp);
    g_mutex_unlock(&drv->handles_lock);
}

/* A call answers within this time even when libvirt is lost under it: a
 * mkdir or rmdir cut off waits for libvirt to come back, to learn what
 * happened, only for what remains of it. */
#define CPFS_CALL_BUDGET_US (G_USEC_PER_SEC * 9 / 2)
/* Keepalive: a daemon that stops answering is declared lost after about
 * interval * (count + 1) seconds, so no call hangs longer than that. */
#define CPFS_KEEPALIVE_INTERVAL 1
#define CPFS_KEEPALIVE_COUNT 2

/* Every libvirt API call goes through this, so the count is complete. */
#define CALL(drv, expr) (__atomic_add_fetch(&(drv)->calls, 1, __ATOMIC_RELAXED), (expr))

static void
silent_error_handler(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
    /* libvirt prints every error to stderr by default; we log our own. */
}

static void G_GNUC_PRINTF(2, 3)
silent_xml_error(void *ctx G_GNUC_UNUSED, const char *msg G_GNUC_UNUSED, ...)
{
}

int
cpfs_driver_errno(int code)
{
    switch (code) {
    case VIR_ERR_OK:
        return 0;
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_CHECKPOINT:
        return ENOENT;
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return ENOTSUP;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_AUTH_UNAVAILABLE:
        return EACCES;
    case VIR_ERR_XML_INVALID_SCHEMA:
    case VIR_ERR_INVALID_ARG:
        return EINVAL;
    default:
        return EIO;
    }
}

static void conn_lost(CpfsDriver *drv, virConnectPtr conn, const char *why);

/* Logs what failed with libvirt's message and returns the negative errno.
 * A failure on a connection that died is EIO, whatever libvirt called it,
 * and hands the connection to the reconnect thread. */
static int G_GNUC_PRINTF(3, 4)
fail(CpfsDriver *drv, virConnectPtr conn, const char *fmt, ...)
{
    virErrorPtr err = virGetLastError();
    int code = err ? err->code : VIR_ERR_INTERNAL_ERROR;
    g_autofree char *message = g_strdup(err && err->message ? err->message
                                                            : "unknown libvirt error");
    g_autofree char *what = NULL;
    va_list ap;
    int errnum;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    virResetLastError();

    if (conn && virConnectIsAlive(conn) == 0) {
        cpfs_error("%s: %s (libvirt connection lost)", what, message);
        conn_lost(drv, conn, message);
        return -EIO;
    }
    errnum = cpfs_driver_errno(code);
    /* Something vanished under us: worth a line, not an error. */
    if (errnum == ENOENT)
        cpfs_info("%s: %s", what, message);
    else
        cpfs_error("%s: %s", what, message);
    return -errnum;
}

/* The live connection, referenced, or NULL (logged) while libvirt is down. */
static virConnectPtr
conn_get(CpfsDriver *drv, const char *what)
{
    virConnectPtr conn;

    g_mutex_lock(&drv->lock);
    conn = drv->conn;
    if (conn)
        virConnectRef(conn);
    g_mutex_unlock(&drv->lock);
    if (!conn)
        cpfs_error("%s: libvirt at %s is unreachable; reconnecting", what, drv->uri);
    return conn;
}

/* Waits up to TIMEOUT_US for a live connection; referenced, or NULL. */
static virConnectPtr
conn_wait(CpfsDriver *drv, gint64 timeout_us)
{
    gint64 deadline = g_get_monotonic_time() + timeout_us;
    virConnectPtr conn;

    g_mutex_lock(&drv->lock);
    while (!drv->conn && !drv->stopping &&
           g_cond_wait_until(&drv->changed, &drv->lock, deadline))
        ;
    conn = drv->conn;
    if (conn)
        virConnectRef(conn);
    g_mutex_unlock(&drv->lock);
    return conn;
}

static void
conn_lost(CpfsDriver *drv, virConnectPtr conn, const char *why)
{
    gboolean was_current;

    g_mutex_lock(&drv->lock);
    was_current = drv->conn == conn;
    if (was_current) {
        /* Our reference moves to the reconnect thread, which closes it
         * outside of any libvirt callback. */
        drv->conn = NULL;
        if (drv->lost)
            virConnectClose(drv->lost);
        drv->lost = conn;
        drv->lifecycle_id = -1;
        g_cond_broadcast(&drv->changed);
    }
    g_mutex_unlock(&drv->lock);
    if (was_current)
        cpfs_error("lost the connection to libvirt at %s (%s); reconnecting", drv->uri, why);
}

static void
close_cb(virConnectPtr conn, int reason, void *opaque)
{
    static const char *const reasons[] = {
        "error", "end of file", "keepalive timeout", "client closed",
    };

    conn_lost(opaque, conn, reason >= 0 && reason < (int)G_N_ELEMENTS(reasons)
                                ? reasons[reason] : "closed");
}

static virConnectPtr
conn_open(CpfsDriver *drv, const char *uri)
{
    return CALL(drv, drv->readonly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri));
}

static int lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                        void *opaque);

/* Makes CONN report its loss (WATCH_CLOSE) and, once the event loop runs,
 * keeps it alive and reports domain events. */
static void
conn_setup(CpfsDriver *drv, virConnectPtr conn, gboolean watch_close)
{
    if (watch_close &&
        CALL(drv, virConnectRegisterCloseCallback(conn, close_cb, drv, NULL)) < 0)
        fail(drv, NULL, "register for connection close");
    if (!drv->event_thread)
        return;
    /* Keepalive needs the event loop.  Drivers that run inside this
     * process (test:///) have no connection to lose and say so. */
    if (CALL(drv, virConnectSetKeepAlive(conn, CPFS_KEEPALIVE_INTERVAL,
                                         CPFS_KEEPALIVE_COUNT)) < 0) {
        if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
            cpfs_debug("no keepalive: %s", virGetLastErrorMessage());
            virResetLastError();
        } else {
            fail(drv, NULL, "enable keepalive");
        }
    }
    if (drv->event_func) {
        int id = CALL(drv, virConnectDomainEventRegisterAny(
                          conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                          VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), drv, NULL));

        if (id < 0)
            fail(drv, NULL, "register for domain events");
        g_mutex_lock(&drv->lock);
        drv->lifecycle_id = id;
        g_mutex_unlock(&drv->lock);
    }
}

static void
conn_dispose(virConnectPtr conn)
{
    virConnectUnregisterCloseCallback(conn, close_cb);
    virConnectClose(conn);
}

CpfsDriver *
cpfs_driver_open(const char *uri, gboolean readonly, char **error)
{
    g_autoptr(CpfsDriver) drv = g_new0(CpfsDriver, 1);
    virConnectPtr conn;
    char *actual;

    g_mutex_init(&drv->lock);
    g_mutex_init(&drv->handles_lock);
    drv->handles = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)domain_handles_free);
    g_cond_init(&drv->changed);
    drv->lifecycle_id = -1;
    drv->readonly = readonly;
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
    conn = conn_open(drv, uri);
    if (!conn) {
        const char *msg = virGetLastErrorMessage();
        g_autofree char *line = g_strdup(msg ? msg : "unknown error");

        g_strdelimit(line, "\n", ' ');
        const char *named = uri ? uri : g_getenv("LIBVIRT_DEFAULT_URI");

        *error = g_strdup_printf("cannot connect to '%s': %s",
                                 named ? named : "libvirt's default URI", g_strstrip(line));
        virResetLastError();
        return NULL;
    }
    /* Reconnect to what we actually reached, not to a default that might
     * resolve differently later. */
    actual = virConnectGetURI(conn);
    drv->uri = g_strdup(actual ? actual : uri);
    free(actual);
    drv->conn = conn;
    conn_setup(drv, conn, TRUE);
    return g_steal_pointer(&drv);
}

static void
thread_done(CpfsDriver *drv)
{
    g_mutex_lock(&drv->lock);
    drv->threads_done++;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
}

/* Starts a thread that never takes SIGINT or SIGTERM: those must reach the
 * FUSE loop's thread, which unmounts. */
static GThread *
thread_new_without_signals(const char *name, GThreadFunc func, gpointer data)
{
    sigset_t all, old;
    GThread *thread;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    thread = g_thread_new(name, func, data);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return thread;
}

static gpointer
event_loop(gpointer data)
{
    CpfsDriver *drv = data;

    while (!g_atomic_int_get(&drv->event_quit)) {
        if (virEventRunDefaultImpl() < 0) {
            cpfs_error("libvirt event loop: %s", virGetLastErrorMessage());
            break;
        }
    }
    thread_done(drv);
    return NULL;
}

static int
lifecycle_cb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, int event,
             int detail G_GNUC_UNUSED, void *opaque)
{
    CpfsDriver *drv = opaque;
    const char *name = virDomainGetName(dom);
    CpfsDomainEvent what;

    switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
        what = CPFS_DOMAIN_DEFINED;
        break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        what = CPFS_DOMAIN_UNDEFINED;
        break;
    default:
        what = CPFS_DOMAIN_CHANGED;
        break;
    }
    cpfs_debug("domain '%s': lifecycle event %d", name, event);
    /* A domain defined under an old name is another domain. */
    if (what != CPFS_DOMAIN_CHANGED)
        handles_drop(drv, name, NULL);
    drv->event_func(name, what, drv->event_opaque);
    return 0;
}

/* Reopens the connection whenever it is lost, backing off from 0.1 s to 2 s
 * between attempts. */
static gpointer
reconnect_loop(gpointer data)
{
    CpfsDriver *drv = data;
    gint64 backoff = G_USEC_PER_SEC / 10;

    g_mutex_lock(&drv->lock);
    while (!drv->stopping) {
        virConnectPtr lost = g_steal_pointer(&drv->lost);
        virConnectPtr conn;

        if (lost) {
            g_mutex_unlock(&drv->lock);
            conn_dispose(lost);
            g_mutex_lock(&drv->lock);
            continue;
        }
        if (drv->conn) {
            backoff = G_USEC_PER_SEC / 10;
            g_cond_wait(&drv->changed, &drv->lock);
            continue;
        }
        g_mutex_unlock(&drv->lock);

        conn = conn_open(drv, drv->uri);
        if (conn) {
            conn_setup(drv, conn, TRUE);
            g_mutex_lock(&drv->lock);
            drv->conn = conn;
            g_cond_broadcast(&drv->changed);
            g_mutex_unlock(&drv->lock);
            cpfs_info("reconnected to libvirt at %s", drv->uri);
            /* Whatever happened while we were away is unknown: the caller
             * forgets all it cached. */
            if (drv->reconnected_func)
                drv->reconnected_func(drv->event_opaque);
            g_mutex_lock(&drv->lock);
            continue;
        }
        cpfs_debug("reconnect to %s failed: %s", drv->uri, virGetLastErrorMessage());
        virResetLastError();
        g_mutex_lock(&drv->lock);
        g_cond_wait_until(&drv->changed, &drv->lock, g_get_monotonic_time() + backoff);
        backoff = MIN(backoff * 2, 2 * G_USEC_PER_SEC);
    }
    g_mutex_unlock(&drv->lock);
    thread_done(drv);
    return NULL;
}

int
cpfs_driver_watch_domains(CpfsDriver *drv, CpfsDomainEventFunc func,
                          CpfsReconnectedFunc reconnected, void *opaque)
{
    virConnectPtr conn;

    drv->event_func = func;
    drv->reconnected_func = reconnected;
    drv->event_opaque = opaque;
    drv->event_thread = thread_new_without_signals("libvirt-events", event_loop, drv);
    drv->reconnect_thread = thread_new_without_signals("libvirt-reconnect", reconnect_loop,
                                                       drv);
    conn = conn_get(drv, "watch domains");
    if (!conn)
        return 0;  /* the reconnect thread sets everything up again */
    conn_setup(drv, conn, FALSE);
    virConnectClose(conn);
    return 0;
}

static void
wake_event_loop(int timer, void *opaque G_GNUC_UNUSED)
{
    virEventRemoveTimeout(timer);
}

void
cpfs_driver_unwatch(CpfsDriver *drv)
{
    virConnectPtr conn;
    int id;

    if (!drv->event_thread)
        return;
    g_mutex_lock(&drv->lock);
    drv->stopping = TRUE;
    g_cond_broadcast(&drv->changed);
    conn = drv->conn;
    if (conn)
        virConnectRef(conn);
    id = drv->lifecycle_id;
    drv->lifecycle_id = -1;
    g_mutex_unlock(&drv->lock);
    if (conn && id >= 0)
        virConnectDomainEventDeregisterAny(conn, id);
    if (conn) {
        virConnectSetKeepAlive(conn, -1, 0);
        virConnectClose(conn);
    }
    g_atomic_int_set(&drv->event_quit, 1);
    /* A timer that fires at once makes the loop return and see the flag. */
    virEventAddTimeout(0, wake_event_loop, NULL, NULL);

    /* Either thread may be stuck in a call to a hung libvirtd, or in telling
     * a kernel that waits for the FUSE threads, which are gone by now.
     * Unmounting must not wait for that: give them a moment, then leave
     * them to the process's exit. */
    {
        gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
        gboolean done;

        g_mutex_lock(&drv->lock);
        while (drv->threads_done < 2 &&
               g_cond_wait_until(&drv->changed, &drv->lock, deadline))
            ;
        done = drv->threads_done >= 2;
        g_mutex_unlock(&drv->lock);
        if (done) {
            g_thread_join(g_steal_pointer(&drv->reconnect_thread));
            g_thread_join(g_steal_pointer(&drv->event_thread));
        } else {
            cpfs_warn("a libvirt thread did not stop within 3 s; exiting without it");
            g_thread_unref(g_steal_pointer(&drv->reconnect_thread));
            g_thread_unref(g_steal_pointer(&drv->event_thread));
            drv->abandoned = TRUE;
        }
    }
}

void
cpfs_driver_free(CpfsDriver *drv)
{
    if (!drv)
        return;
    cpfs_driver_unwatch(drv);
    if (drv->abandoned)
        return;  /* a thread may still use it; the process is ending */
    if (drv->conn)
        conn_dispose(drv->conn);
    if (drv->lost)
        conn_dispose(drv->lost);
    g_hash_table_unref(drv->handles);
    if (drv->handles_conn)
        virConnectClose(drv->handles_conn);
    g_mutex_clear(&drv->handles_lock);
    g_mutex_clear(&drv->lock);
    g_cond_clear(&drv->changed);
    g_free(drv->uri);
    g_free(drv);
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

static int
lookup_domain(CpfsDriver *drv, virConnectPtr conn, const char *name, virDomainPtr *dom)
{
    DomainHandles *h;

    g_mutex_lock(&drv->handles_lock);
    h = handles_of(drv, conn, name);
    *dom = h->dom;
    if (*dom)
        virDomainRef(*dom);
    g_mutex_unlock(&drv->handles_lock);
    if (*dom)
        return 0;

    *dom = CALL(drv, virDomainLookupByName(conn, name));
    if (!*dom)
        return fail(drv, conn, "domain '%s': lookup", name);
    g_mutex_lock(&drv->handles_lock);
    h = handles_of(drv, conn, name);
    if (!h->dom) {
        virDomainRef(*dom);
        h->dom = *dom;
    }
    g_mutex_unlock(&drv->handles_lock);
    return 0;
}

static int
lookup_checkpoint(CpfsDriver *drv, virConnectPtr conn, virDomainPtr dom, const char *domain,
                  const char *name, virDomainCheckpointPtr *cp)
{
    g_mutex_lock(&drv->handles_lock);
    *cp = g_hash_table_lookup(handles_of(drv, conn, domain)->checkpoints, name);
    if (*cp)
        virDomainCheckpointRef(*cp);
    g_mutex_unlock(&drv->handles_lock);
    if (*cp)
        return 0;

    *cp = CALL(drv, virDomainCheckpointLookupByName(dom, name, 0));
    if (!*cp)
        return fail(drv, conn, "domain '%s': checkpoint '%s': lookup", domain, name);
    handles_put_checkpoint(drv, conn, domain, *cp);
    return 0;
}

/* Declares CONN, the live connection, or returns -EIO while libvirt is down. */
#define WITH_CONN(drv, conn, what) \
    g_autoptr(virConnect) conn = conn_get(drv, what); \
    if (!conn) \
        return -EIO

int
cpfs_driver_list_domains(CpfsDriver *drv, GPtrArray **names)
{
    WITH_CONN(drv, conn, "list domains");
    virDomainPtr *doms = NULL;
    int n = CALL(drv, virConnectListAllDomains(conn, &doms, 0));
    GPtrArray *result;

    if (n < 0)
        return fail(drv, conn, "list domains");
    result = g_ptr_array_new_full(n, g_free);
    g_mutex_lock(&drv->handles_lock);
    for (int i = 0; i < n; i++) {
        const char *name = virDomainGetName(doms[i]);
        DomainHandles *h = handles_of(drv, conn, name);

        g_ptr_array_add(result, g_strdup(name));
        /* The listing's handle replaces one met before (same name, maybe
         * another domain). */
        if (h->dom)
            virDomainFree(h->dom);
        h->dom = doms[i];
    }
    g_mutex_unlock(&drv->handles_lock);
    free(doms);
    *names = result;
    return 0;
}

int
cpfs_driver_list_checkpoints(CpfsDriver *drv, const char *domain, GPtrArray **records,
                             CpfsCheckpointDocFunc doc_func, void *opaque)
{
    WITH_CONN(drv, conn, "list checkpoints");
    g_autoptr(virDomain) dom = NULL;
    virDomainCheckpointPtr *cps = NULL;
    g_autoptr(GPtrArray) result = cpfs_checkpoint_records_new();
    int n, rc = 0;

    if ((rc = lookup_domain(drv, conn, domain, &dom)) < 0)
        return rc;
    n = CALL(drv, virDomainListAllCheckpoints(dom, &cps, 0));
    if (n < 0) {
        rc = fail(drv, conn, "domain '%s': list checkpoints", domain);
        if (rc == -ENOENT)
            handles_drop(drv, domain, NULL);
        return rc;
    }
    /* The listing's handles replace those met before. */
    g_mutex_lock(&drv->handles_lock);
    g_hash_table_remove_all(handles_of(drv, conn, domain)->checkpoints);
    g_mutex_unlock(&drv->handles_lock);
    for (int i = 0; i < n; i++)
        handles_put_checkpoint(drv, conn, domain, cps[i]);

    for (int i = 0; i < n; i++) {
        const char *name = virDomainCheckpointGetName(cps[i]);
        /* One call per checkpoint gives its parent and its age, and the
         * whole document costs libvirt about what the short form does, so
         * the first stat and open of its xml need no call of their own. */
        g_autofree char *xml = CALL(drv, virDomainCheckpointGetXMLDesc(cps[i], 0));
        CpfsCheckpointRecord *rec;

        if (!xml) {
            int err = fail(drv, conn, "domain '%s': checkpoint '%s': get XML", domain, name);

            /* Deleted since the listing: leave it out, as a later list would. */
            if (err == -ENOENT)
                continue;
            rc = err;
            break;
        }
        rec = cpfs_cpxml_parse(xml, strlen(xml));
        if (!rec) {
            cpfs_error("domain '%s': checkpoint '%s': cannot parse its XML", domain, name);
            rc = -EIO;
            break;
        }
        rec->xml_size = (gint64)strlen(xml);
        if (doc_func)
            doc_func(domain, rec, xml, opaque);
        g_ptr_array_add(result, rec);
    }
    for (int i = 0; i < n; i++)
        virDomainCheckpointFree(cps[i]);
    free(cps);
    if (rc == 0)
        *records = g_steal_pointer(&result);
    return rc;
}

int
cpfs_driver_domain_xml(CpfsDriver *drv, const char *domain, char **xml)
{
    WITH_CONN(drv, conn, "domain XML");
    g_autoptr(virDomain) dom = NULL;
    char *desc;
    int rc;

    if ((rc = lookup_domain(drv, conn, domain, &dom)) < 0)
        return rc;
    /* Flags 0: never VIR_DOMAIN_XML_SECURE, so no passwords leave. */
    desc = CALL(drv, virDomainGetXMLDesc(dom, 0));
    if (!desc) {
        rc = fail(drv, conn, "domain '%s': get XML", domain);
        if (rc == -ENOENT)
            handles_drop(drv, domain, NULL);
        return rc;
    }
    *xml = g_strdup(desc);
    free(desc);
    return 0;
}

int
cpfs_driver_checkpoint_xml(CpfsDriver *drv, const char *domain, const char *name, char **xml)
{
    WITH_CONN(drv, conn, "checkpoint XML");
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    char *desc;
    int rc;

    if ((rc = lookup_domain(drv, conn, domain, &dom)) < 0 ||
        (rc = lookup_checkpoint(drv, conn, dom, domain, name, &cp)) < 0)
        return rc;
    /* Flags 0: the embedded domain XML without secrets. */
    desc = CALL(drv, virDomainCheckpointGetXMLDesc(cp, 0));
    if (!desc) {
        rc = fail(drv, conn, "domain '%s': checkpoint '%s': get XML", domain, name);
        if (rc == -ENOENT)
            handles_drop(drv, domain, name);
        return rc;
    }
    *xml = g_strdup(desc);
    free(desc);
    return 0;
}

/* Asks libvirt whether checkpoint NAME exists: 1 (its handle in *handle),
 * 0 when absent, or a negative errno. */
static int
checkpoint_find(CpfsDriver *drv, virConnectPtr conn, const char *domain, const char *name,
                virDomainCheckpointPtr *handle)
{
    g_autoptr(virDomain) dom = NULL;
    int rc;

    if ((rc = lookup_domain(drv, conn, domain, &dom)) < 0)
        return rc;
    *handle = CALL(drv, virDomainCheckpointLookupByName(dom, name, 0));
    if (!*handle) {
        virErrorPtr err = virGetLastError();

        /* Absent is an answer here, not a failure. */
        if (err && err->code == VIR_ERR_NO_DOMAIN_CHECKPOINT) {
            virResetLastError();
            return 0;
        }
        return fail(drv, conn, "domain '%s': checkpoint '%s': lookup", domain, name);
    }
    return 1;
}

int
cpfs_driver_checkpoint_exists(CpfsDriver *drv, const char *domain, const char *name)
{
    WITH_CONN(drv, conn, "look up checkpoint");
    g_autoptr(virDomainCheckpoint) cp = NULL;

    return checkpoint_find(drv, conn, domain, name, &cp);
}

/* Checks where libvirt put a new checkpoint; deletes it and returns -EPERM
 * when that is not below EXPECTED_PARENT. */
static int
verify_parent(CpfsDriver *drv, virConnectPtr conn, virDomainCheckpointPtr cp,
              const char *domain, const char *name, const char *expected_parent,
              CpfsCheckpointRecord **created)
{
    g_autofree char *desc = NULL;
    g_autoptr(CpfsCheckpointRecord) rec = NULL;

    desc = CALL(drv, virDomainCheckpointGetXMLDesc(cp, VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN));
    if (desc)
        rec = cpfs_cpxml_parse(desc, strlen(desc));
    if (!rec) {
        if (desc)
            cpfs_error("domain '%s': checkpoint '%s': cannot parse its XML", domain, name);
        else
            fail(drv, conn, "domain '%s': checkpoint '%s': get XML", domain, name);
        /* The checkpoint exists: report success rather than lose track of
         * it; the caller refreshes its listing, which shows its real place. */
        *created = NULL;
        return 0;
    }
    if (g_strcmp0(rec->parent, expected_parent) != 0) {
        /* libvirt made its hidden "current" checkpoint the parent, which is
         * not the directory mkdir ran in: undo, leaving nothing behind. */
        cpfs_error("domain '%s': checkpoint '%s' got parent '%s', not '%s' as its "
                   "directory asks; deleting it again", domain, name,
                   rec->parent ? rec->parent : "(none)",
                   expected_parent ? expected_parent : "(none)");
        if (CALL(drv, virDomainCheckpointDelete(cp, 0)) < 0)
            return fail(drv, conn, "domain '%s': delete misplaced checkpoint '%s'",
                        domain, name);
        return -EPERM;
    }
    *created = g_steal_pointer(&rec);
    return 0;
}

/* After a call that the connection's loss cut off: waits for libvirt to come
 * back and reports whether checkpoint NAME exists now (1/0), or -EIO. */
static int
outcome_after_loss(CpfsDriver *drv, const char *domain, const char *name, const char *op,
                   gint64 started, virDomainCheckpointPtr *handle, virConnectPtr *conn_out)
{
    gint64 left = started + CPFS_CALL_BUDGET_US - g_get_monotonic_time();
    g_autoptr(virConnect) conn = left > 0 ? conn_wait(drv, left) : NULL;
    int rc;

    if (!conn) {
        cpfs_error("domain '%s': %s '%s': outcome unknown, libvirt did not come back "
                   "in time", domain, op, name);
        return -EIO;
    }
    rc = checkpoint_find(drv, conn, domain, name, handle);
    if (rc < 0) {
        cpfs_error("domain '%s': %s '%s': outcome unknown after reconnecting", domain, op,
                   name);
        return -EIO;
    }
    cpfs_info("domain '%s': %s '%s' was cut off; after reconnecting the checkpoint %s",
              domain, op, name, rc ? "exists" : "does not exist");
    *conn_out = g_steal_pointer(&conn);
    return rc;
}

int
cpfs_driver_checkpoint_create(CpfsDriver *drv, const char *domain, const char *name,
                              const char *expected_parent, CpfsCheckpointRecord **created)
{
    WITH_CONN(drv, conn, "create checkpoint");
    gint64 started = g_get_monotonic_time();
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    g_autofree char *request = cpfs_cpxml_build_create(name);
    int rc;

    if ((rc = lookup_domain(drv, conn, domain, &dom)) < 0)
        return rc;
    cp = CALL(drv, virDomainCheckpointCreateXML(dom, request, 0));
    if (!cp) {
        virErrorPtr err = virGetLastError();
        virConnectPtr again = NULL;

        /* libvirt reports a duplicate name as a generic failure. */
        if (err && err->code == VIR_ERR_OPERATION_FAILED &&
            err->message && strstr(err->message, "already exists")) {
            cpfs_info("domain '%s': create checkpoint '%s': %s", domain, name, err->message);
            virResetLastError();
            return -EEXIST;
        }
        rc = fail(drv, conn, "domain '%s': create checkpoint '%s'", domain, name);
        if (virConnectIsAlive(conn) != 0)
            return rc;
        /* The connection broke mid-call: the checkpoint may or may not exist. */
        rc = outcome_after_loss(drv, domain, name, "create checkpoint", started, &cp, &again);
        if (rc <= 0)
            return rc < 0 ? rc : -EIO;
        virConnectClose(conn);
        conn = again;
    }
    rc = verify_parent(drv, conn, cp, domain, name, expected_parent, created);
    if (rc == 0)
        handles_put_checkpoint(drv, conn, domain, cp);
    return rc;
}

int
cpfs_driver_checkpoint_delete(CpfsDriver *drv, const char *domain, const char *name)
{
    WITH_CONN(drv, conn, "delete checkpoint");
    gint64 started = g_get_monotonic_time();
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    g_autoptr(virConnect) again = NULL;
    int rc;

    if ((rc = lookup_domain(drv, conn, domain, &dom)) < 0 ||
        (rc = lookup_checkpoint(drv, conn, dom, domain, name, &cp)) < 0)
        return rc;
    if (CALL(drv, virDomainCheckpointDelete(cp, 0)) == 0) {
        handles_drop(drv, domain, name);
        return 0;
    }
    rc = fail(drv, conn, "domain '%s': delete checkpoint '%s'", domain, name);
    if (rc == -ENOENT)
        handles_drop(drv, domain, name);
    if (virConnectIsAlive(conn) != 0)
        return rc;
    /* The connection broke mid-call: deleted if it is gone now. */
    g_clear_pointer(&cp, virDomainCheckpointFree);
    rc = outcome_after_loss(drv, domain, name, "delete checkpoint", started, &cp, &again);
    if (rc < 0)
        return rc;
    return rc == 0 ? 0 : -EIO;
}
