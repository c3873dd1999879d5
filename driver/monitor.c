/* The driver's monitor thread, which connects, reconnects and probes (see
 * the thread model in connection.c), and the driver's end. */
#include "driver/connection.h"
#include "util/log.h"

/* How long the monitor waits for a connection attempt or a probe to answer. */
#define MONITOR_BUDGET_US (G_USEC_PER_SEC * 4)
/* How often a HUNG connection is probed. */
#define PROBE_INTERVAL_US (G_USEC_PER_SEC / 2)
/* How long stopping a driver waits for its monitor and callbacks. */
#define STOP_BUDGET_US (G_USEC_PER_SEC * 3)

/* A connection attempt: opened and set up on a worker. */
typedef struct {
    CpfsDriver *drv;
    CpfsConnection *result;  /* NULL on failure */
    char *error;             /* libvirt's message, on failure */
    gboolean in_process;
    int lifecycle_id;
} OpenJob;

static gboolean
stopping(CpfsDriver *drv)
{
    gboolean stop;

    g_mutex_lock(&drv->lock);
    stop = drv->stopping;
    g_mutex_unlock(&drv->lock);
    return stop;
}

static void
open_job_run(gpointer data)
{
    OpenJob *job = data;
    CpfsDriver *drv = job->drv;
    virConnectPtr conn = CALL(drv, drv->readonly ? virConnectOpenReadOnly(drv->uri)
                                                 : virConnectOpen(drv->uri));

    if (!conn) {
        const char *msg = virGetLastErrorMessage();

        job->error = g_strdup(msg ? msg : "unknown libvirt error");
        cpfs_debug("connecting to %s failed: %s", drv->uri, job->error);
        virResetLastError();
        return;
    }
    /* Answered after the driver began to stop: nobody wants it now. */
    if (stopping(drv)) {
        CALL(drv, virConnectClose(conn));
        return;
    }
    /* Keepalive stays off (see connection.c). */
    job->in_process = cpfs_driver_runs_in_process(drv, conn);
    job->result = cpfs_connection_new(drv, conn);
    job->lifecycle_id = cpfs_connection_setup(job->result, drv->event_func != NULL);
}

/* Frees JOB: the monitor's, or the worker's when the monitor gave up on
 * it (then the driver is still alive: freeing it waits for workers). */
static void
open_job_free(gpointer data)
{
    OpenJob *job = data;
    CpfsDriver *drv = job->drv;

    /* Opened too late for the monitor, which has moved on. */
    cpfs_connection_unref(job->result);
    g_free(job->error);
    g_free(job);
    g_mutex_lock(&drv->lock);
    drv->opening = FALSE;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
}

/* The attempt failed with ERROR (NULL: the driver is stopping). */
static void
connect_failed(CpfsDriver *drv, const char *error)
{
    g_mutex_lock(&drv->lock);
    drv->attempting = FALSE;
    if (error) {
        cpfs_driver_set_error_locked(drv, error);
        /* Calls waiting for the first attempt fail now. */
        if (drv->state == CPFS_CONN_NEW)
            drv->state = CPFS_CONN_DOWN;
    }
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
    /* One line per failure streak: retries every 2 s would flood the log. */
    if (error && !drv->failing)
        cpfs_error("cannot connect to libvirt at %s: %s; retrying", drv->uri, error);
    drv->failing = drv->failing || error;
}

/* Opens a new connection and makes it the live one.  Call without
 * drv->lock; TRUE on success. */
static gboolean
reconnect(CpfsDriver *drv)
{
    OpenJob *job = g_new0(OpenJob, 1);
    gboolean first;

    job->drv = drv;
    job->lifecycle_id = -1;
    /* unwatch cancels the wait: an attempt that hangs must not keep it. */
    if (!cpfs_runner_run_cancellable(drv->runner, open_job_run, job, open_job_free,
                                     g_get_monotonic_time() + MONITOR_BUDGET_US)) {
        g_autofree char *late = g_strdup_printf("no answer within %.1f s",
                                                MONITOR_BUDGET_US / 1e6);

        connect_failed(drv, stopping(drv) ? NULL : late);
        return FALSE;
    }
    if (!job->result) {
        connect_failed(drv, job->error);
        open_job_free(job);
        return FALSE;
    }
    g_mutex_lock(&drv->lock);
    first = !drv->connected_once;
    if (first)
        drv->in_process = job->in_process;
    drv->connected_once = TRUE;
    drv->attempting = FALSE;
    drv->live = g_steal_pointer(&job->result);
    drv->epoch++;
    drv->lifecycle_id = job->lifecycle_id;
    drv->state = CPFS_CONN_UP;
    drv->came_back = TRUE;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
    open_job_free(job);
    drv->failing = FALSE;
    cpfs_info("%s to libvirt at %s", first ? "connected" : "reconnected", drv->uri);
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
    } else if (drv->opening) {
        /* An attempt given up on still hangs: one at a time, or a host
         * that never answers would pile up workers. */
        g_cond_wait_until(&drv->changed, &drv->lock, g_get_monotonic_time() + *backoff);
        return;
    } else {
        /* NEW or DOWN: an attempt now, the next after the backoff. */
        drv->attempting = TRUE;
        drv->opening = TRUE;
        g_mutex_unlock(&drv->lock);
        if (!reconnect(drv)) {
            g_mutex_lock(&drv->lock);
            if (!drv->stopping)
                g_cond_wait_until(&drv->changed, &drv->lock,
                                  g_get_monotonic_time() + *backoff);
            *backoff = MIN(*backoff * 2, 2 * G_USEC_PER_SEC);
            return;
        }
    }
    g_mutex_lock(&drv->lock);
}

/* Lets go of lost connections, connects and reconnects with backoff from
 * 0.1 s to 2 s, and probes a hung connection until it answers. */
static gpointer
monitor_loop(gpointer data)
{
    CpfsDriver *drv = data;
    gint64 backoff = G_USEC_PER_SEC / 10;

    g_mutex_lock(&drv->lock);
    while (!drv->stopping)
        monitor_step(drv, &backoff);
    drv->monitor_done = TRUE;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
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
    RegisterCall *reg;
    gboolean up;

    /* Before the monitor starts: it registers on every connection it makes. */
    drv->event_func = func;
    drv->reconnected_func = reconnected;
    drv->event_opaque = opaque;
    cpfs_events_ref();
    g_mutex_lock(&drv->lock);
    up = drv->state == CPFS_CONN_UP;
    g_mutex_unlock(&drv->lock);
    /* A connection opened by cpfs_driver_open has no registration yet; it
     * is made before the monitor runs, which could replace the connection.
     * Its id stays unknown if libvirt does not answer in time. */
    if (up) {
        reg = g_new0(RegisterCall, 1);
        reg->base.run = register_run;
        reg->id = -1;
        if (cpfs_driver_call_keep(drv, &reg->base, "register for domain events") == 0) {
            g_mutex_lock(&drv->lock);
            drv->lifecycle_id = reg->id;
            g_mutex_unlock(&drv->lock);
            cpfs_driver_call_done(&reg->base);
        }
    }
    drv->monitor_thread = cpfs_thread_new_without_signals("libvirt-monitor", monitor_loop, drv);
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

/* Waits up to 3 s for the monitor; FALSE when it would not stop (stuck in
 * a call to a hung libvirtd, or in RECONNECTED telling a kernel that waits
 * for the FUSE threads, which are gone): unmounting must not wait for that. */
static gboolean
join_monitor(CpfsDriver *drv)
{
    gint64 deadline = g_get_monotonic_time() + STOP_BUDGET_US;
    gboolean done;

    g_mutex_lock(&drv->lock);
    while (!drv->monitor_done && g_cond_wait_until(&drv->changed, &drv->lock, deadline))
        ;
    done = drv->monitor_done;
    g_mutex_unlock(&drv->lock);
    if (done) {
        g_thread_join(g_steal_pointer(&drv->monitor_thread));
    } else {
        cpfs_warn("the libvirt monitor of %s did not stop within 3 s; going on without it",
                  drv->uri);
        g_thread_unref(g_steal_pointer(&drv->monitor_thread));
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

    if (!drv->monitor_thread)
        return;
    g_mutex_lock(&drv->lock);
    drv->stopping = TRUE;
    g_cond_broadcast(&drv->changed);
    g_mutex_unlock(&drv->lock);
    /* A connection attempt that hangs is left to its worker. */
    cpfs_runner_cancel(drv->runner);
    if (!join_monitor(drv))
        drv->abandoned = TRUE;
    /* The monitor is gone: no connection and no registration comes now. */
    g_mutex_lock(&drv->lock);
    id = drv->lifecycle_id;
    drv->lifecycle_id = -1;
    g_mutex_unlock(&drv->lock);
    if (id >= 0) {
        dereg = g_new0(DeregisterCall, 1);
        dereg->base.run = deregister_run;
        dereg->id = id;
        cpfs_driver_call(drv, &dereg->base, "deregister domain events");
    }
    /* An event under way may still be delivered after deregistering. */
    if (!cpfs_event_gate_close(drv->gate, g_get_monotonic_time() + STOP_BUDGET_US)) {
        cpfs_warn("a domain event callback of %s did not return within 3 s", drv->uri);
        drv->abandoned = TRUE;
    }
    cpfs_events_unref();
}

/* Drivers left to the process's exit (cpfs_driver_free). */
static GPtrArray *kept_drivers;
G_LOCK_DEFINE_STATIC(kept_drivers);

/* Keeps DRV reachable until the process exits. */
static void
keep_until_exit(CpfsDriver *drv)
{
    G_LOCK(kept_drivers);
    if (!kept_drivers)
        kept_drivers = g_ptr_array_new();
    g_ptr_array_add(kept_drivers, drv);
    G_UNLOCK(kept_drivers);
}

void
cpfs_driver_free(CpfsDriver *drv)
{
    if (!drv)
        return;
    cpfs_driver_unwatch(drv);
    /* A thread or a job stuck in libvirt may still use the driver: leave it
     * to the process's exit, kept where leak checkers see it is meant. */
    if (drv->abandoned || !cpfs_runner_free(drv->runner)) {
        keep_until_exit(drv);
        return;
    }
    /* Closing a connection that does not answer would wait for it. */
    if (drv->state == CPFS_CONN_HUNG)
        drv->live = NULL;
    cpfs_connection_unref(drv->live);
    cpfs_connection_unref(drv->lost);
    /* libvirt may keep the gate a while longer (registrations of closed
     * connections); closed, it leads nowhere. */
    cpfs_event_gate_close(drv->gate, g_get_monotonic_time());
    cpfs_event_gate_unref(drv->gate);
    g_mutex_clear(&drv->lock);
    g_cond_clear(&drv->changed);
    g_free(drv->last_error);
    g_free(drv->uri);
    g_free(drv);
}
