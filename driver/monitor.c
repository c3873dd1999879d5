/* The driver's two threads, libvirt's event loop and the monitor that
 * reconnects and probes (see the thread model in connection.c), and the
 * driver's end. */
#include "driver/connection.h"
#include "util/log.h"

#include <pthread.h>
#include <signal.h>

/* How long the monitor waits for a reconnection or a probe to answer. */
#define MONITOR_BUDGET_US (G_USEC_PER_SEC * 4)
/* How often a HUNG connection is probed. */
#define PROBE_INTERVAL_US (G_USEC_PER_SEC / 2)

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

static void
thread_done(CpfsDriver *drv)
{
    g_mutex_lock(&drv->lock);
    drv->threads_done++;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
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

/* A reconnection: opened and set up on a worker. */
typedef struct {
    CpfsDriver *drv;
    CpfsConnection *result;  /* NULL on failure */
    int lifecycle_id;
} OpenJob;

static void
open_job_run(gpointer data)
{
    OpenJob *job = data;
    CpfsDriver *drv = job->drv;
    virConnectPtr conn = CALL(drv, drv->readonly ? virConnectOpenReadOnly(drv->uri)
                                                 : virConnectOpen(drv->uri));

    if (!conn) {
        cpfs_debug("reconnect to %s failed: %s", drv->uri, virGetLastErrorMessage());
        virResetLastError();
        return;
    }
    /* Keepalive stays off (see connection.c). */
    if (CALL(drv, virConnectSetKeepAlive(conn, -1, 0)) < 0)
        virResetLastError();
    job->result = cpfs_connection_new(drv, conn);
    job->lifecycle_id = cpfs_connection_setup(job->result, drv->event_func != NULL);
}

static void
open_job_free(gpointer data)
{
    OpenJob *job = data;

    /* Opened too late for the monitor, which has moved on. */
    cpfs_connection_unref(job->result);
    g_free(job);
}

/* Opens a new connection and makes it the live one.  Call without
 * drv->lock; TRUE on success. */
static gboolean
reconnect(CpfsDriver *drv)
{
    OpenJob *job = g_new0(OpenJob, 1);

    job->drv = drv;
    job->lifecycle_id = -1;
    if (!cpfs_runner_run(drv->runner, open_job_run, job, open_job_free,
                         g_get_monotonic_time() + MONITOR_BUDGET_US))
        return FALSE;
    if (!job->result) {
        open_job_free(job);
        return FALSE;
    }
    g_mutex_lock(&drv->lock);
    drv->live = g_steal_pointer(&job->result);
    drv->epoch++;
    drv->lifecycle_id = job->lifecycle_id;
    drv->state = CPFS_CONN_UP;
    drv->came_back = TRUE;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
    open_job_free(job);
    cpfs_info("reconnected to libvirt at %s", drv->uri);
    return TRUE;
}

/* A probe of a HUNG connection: any answer makes it UP again. */
static void
probe_run(gpointer data)
{
    CpfsConnection *c = data;
    CpfsDriver *drv = c->drv;
    unsigned long version;
    gboolean answered = CALL(drv, virConnectGetLibVersion(c->conn, &version)) == 0;

    if (!answered)
        cpfs_driver_fail(c, "probe libvirt");
    g_mutex_lock(&drv->lock);
    answered = answered && drv->live == c && drv->state == CPFS_CONN_HUNG;
    if (answered) {
        drv->state = CPFS_CONN_UP;
        drv->came_back = TRUE;
    }
    drv->probing = FALSE;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
    if (answered)
        cpfs_info("libvirt at %s answers again", drv->uri);
}

/* One step of the monitor for the state it finds; called and returns with
 * drv->lock held, which it drops around libvirt calls. */
static void
monitor_step(CpfsDriver *drv, gint64 *backoff)
{
    CpfsConnection *c;

    if ((c = g_steal_pointer(&drv->lost))) {
        g_mutex_unlock(&drv->lock);
        cpfs_connection_unref(c);
    } else if (drv->came_back) {
        drv->came_back = FALSE;
        g_mutex_unlock(&drv->lock);
        /* Whatever happened while it was away is unknown: the caller
         * forgets all it cached. */
        if (drv->reconnected_func)
            drv->reconnected_func(drv->event_opaque);
    } else if (drv->state == CPFS_CONN_UP) {
        *backoff = G_USEC_PER_SEC / 10;
        g_cond_wait(&drv->changed, &drv->lock);
        return;
    } else if (drv->state == CPFS_CONN_HUNG) {
        if (!drv->probing) {
            drv->probing = TRUE;
            c = cpfs_connection_ref(drv->live);
            g_mutex_unlock(&drv->lock);
            if (cpfs_runner_run(drv->runner, probe_run, c,
                                (GDestroyNotify)cpfs_connection_unref,
                                g_get_monotonic_time() + PROBE_INTERVAL_US))
                cpfs_connection_unref(c);
            g_mutex_lock(&drv->lock);
            return;
        }
        g_cond_wait_until(&drv->changed, &drv->lock, g_get_monotonic_time() + PROBE_INTERVAL_US);
        return;
    } else {
        g_mutex_unlock(&drv->lock);
        if (!reconnect(drv)) {
            g_mutex_lock(&drv->lock);
            g_cond_wait_until(&drv->changed, &drv->lock, g_get_monotonic_time() + *backoff);
            *backoff = MIN(*backoff * 2, 2 * G_USEC_PER_SEC);
            return;
        }
    }
    g_mutex_lock(&drv->lock);
}

/* Lets go of lost connections, reconnects with backoff from 0.1 s to 2 s,
 * and probes a hung connection until it answers. */
static gpointer
monitor_loop(gpointer data)
{
    CpfsDriver *drv = data;
    gint64 backoff = G_USEC_PER_SEC / 10;

    g_mutex_lock(&drv->lock);
    while (!drv->stopping)
        monitor_step(drv, &backoff);
    g_mutex_unlock(&drv->lock);
    thread_done(drv);
    return NULL;
}

/* Registers for domain events on the live connection. */
typedef struct {
    CpfsCall base;
    int id;
} RegisterCall;

static void
register_run(CpfsCall *call)
{
    RegisterCall *reg = (RegisterCall *)call;

    reg->id = cpfs_connection_setup_events(call->c);
    call->rc = 0;
}

int
cpfs_driver_watch_domains(CpfsDriver *drv, CpfsDomainEventFunc func,
                          CpfsReconnectedFunc reconnected, void *opaque)
{
    RegisterCall *reg = g_new0(RegisterCall, 1);
    int id;

    drv->event_func = func;
    drv->reconnected_func = reconnected;
    drv->event_opaque = opaque;
    drv->event_thread = thread_new_without_signals("libvirt-events", event_loop, drv);
    drv->monitor_thread = thread_new_without_signals("libvirt-monitor", monitor_loop, drv);
    reg->base.run = register_run;
    reg->id = -1;
    /* Its id stays unknown if libvirt does not answer in time; the monitor
     * registers again on every new connection. */
    if (cpfs_driver_call_keep(drv, &reg->base, "register for domain events") == 0) {
        id = reg->id;
        g_mutex_lock(&drv->lock);
        drv->lifecycle_id = id;
        g_mutex_unlock(&drv->lock);
        cpfs_driver_call_done(&reg->base);
    }
    return 0;
}

gboolean
cpfs_driver_wait_up(CpfsDriver *drv, gint64 deadline)
{
    gboolean up;

    g_mutex_lock(&drv->lock);
    while (drv->state != CPFS_CONN_UP && !drv->stopping &&
           g_cond_wait_until(&drv->changed, &drv->lock, deadline))
        ;
    up = drv->state == CPFS_CONN_UP;
    g_mutex_unlock(&drv->lock);
    return up;
}

static void
wake_event_loop(int timer, void *opaque G_GNUC_UNUSED)
{
    virEventRemoveTimeout(timer);
}

/* Waits up to 3 s for both threads; FALSE when one would not stop (stuck in
 * a call to a hung libvirtd, or telling a kernel that waits for the FUSE
 * threads, which are gone): unmounting must not wait for that. */
static gboolean
join_threads(CpfsDriver *drv)
{
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    gboolean done;

    g_mutex_lock(&drv->lock);
    while (drv->threads_done < 2 && g_cond_wait_until(&drv->changed, &drv->lock, deadline))
        ;
    done = drv->threads_done >= 2;
    g_mutex_unlock(&drv->lock);
    if (done) {
        g_thread_join(g_steal_pointer(&drv->monitor_thread));
        g_thread_join(g_steal_pointer(&drv->event_thread));
    } else {
        cpfs_warn("a libvirt thread did not stop within 3 s; exiting without it");
        g_thread_unref(g_steal_pointer(&drv->monitor_thread));
        g_thread_unref(g_steal_pointer(&drv->event_thread));
    }
    return done;
}

typedef struct {
    CpfsCall base;
    int id;
} DeregisterCall;

static void
deregister_run(CpfsCall *call)
{
    DeregisterCall *dereg = (DeregisterCall *)call;

    call->rc = CALL(call->c->drv, virConnectDomainEventDeregisterAny(call->c->conn, dereg->id));
}

void
cpfs_driver_unwatch(CpfsDriver *drv)
{
    DeregisterCall *dereg;
    int id;

    if (!drv->event_thread)
        return;
    g_mutex_lock(&drv->lock);
    drv->stopping = TRUE;
    g_cond_broadcast(&drv->changed);
    id = drv->lifecycle_id;
    drv->lifecycle_id = -1;
    g_mutex_unlock(&drv->lock);
    if (id >= 0) {
        dereg = g_new0(DeregisterCall, 1);
        dereg->base.run = deregister_run;
        dereg->id = id;
        cpfs_driver_call(drv, &dereg->base, "deregister domain events");
    }
    g_atomic_int_set(&drv->event_quit, 1);
    /* A timer that fires at once makes the loop return and see the flag. */
    virEventAddTimeout(0, wake_event_loop, NULL, NULL);
    if (!join_threads(drv))
        drv->abandoned = TRUE;
}

void
cpfs_driver_free(CpfsDriver *drv)
{
    if (!drv)
        return;
    cpfs_driver_unwatch(drv);
    /* A thread or a job stuck in libvirt may still use the driver: leave it
     * to the process's exit. */
    if (drv->abandoned || !cpfs_runner_free(drv->runner))
        return;
    /* Closing a connection that does not answer would wait for it. */
    if (drv->state == CPFS_CONN_HUNG)
        drv->live = NULL;
    cpfs_connection_unref(drv->live);
    cpfs_connection_unref(drv->lost);
    g_mutex_clear(&drv->lock);
    g_cond_clear(&drv->changed);
    g_free(drv->uri);
    g_free(drv);
}
