/* libvirt's event loop, one thread for the whole process however many
 * drivers it has: the default implementation is process-wide, and threads
 * taking turns at it would only delay each other (see the thread model in
 * connection.c).  Drivers take references on it while they watch. */
#include "driver/events.h"
#include "util/log.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/xmlerror.h>
#include <pthread.h>
#include <signal.h>

/* How long the last cpfs_events_unref waits for the thread to stop. */
#define STOP_BUDGET_US (3 * G_USEC_PER_SEC)

static struct {
    GMutex lock;       /* guards the fields below */
    GCond stopped;     /* running went FALSE */
    guint refs;
    GThread *thread;   /* until joined: kept while it would not stop */
    gboolean running;  /* the thread is in its loop */
    gboolean quit;     /* asks the thread to leave its loop */
} loop;

static void
silent_error_handler(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
    /* libvirt prints every error to stderr by default; we log our own. */
}

static void G_GNUC_PRINTF(2, 3)
silent_xml_error(void *ctx G_GNUC_UNUSED, const char *msg G_GNUC_UNUSED, ...)
{
}

static gpointer
init_once(gpointer data G_GNUC_UNUSED)
{
    virSetErrorFunc(NULL, silent_error_handler);
    /* libxml2 prints parse errors (of a test driver's node file, say) to
     * stderr; libvirt's own message says it all in one line.  Connections
     * open on workers too, hence the default for new threads. */
    xmlSetGenericErrorFunc(NULL, silent_xml_error);
    xmlThrDefSetGenericErrorFunc(NULL, silent_xml_error);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
        return GINT_TO_POINTER(FALSE);
    return GINT_TO_POINTER(TRUE);
}

gboolean
cpfs_events_init(void)
{
    static GOnce once = G_ONCE_INIT;

    return GPOINTER_TO_INT(g_once(&once, init_once, NULL));
}

GThread *
cpfs_thread_new_without_signals(const char *name, GThreadFunc func, gpointer data)
{
    sigset_t all, old;
    GThread *thread;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    thread = g_thread_new(name, func, data);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return thread;
}

/* Whether the thread is to leave its loop; if so it is no longer running. */
static gboolean
loop_leaving(void)
{
    gboolean leave;

    g_mutex_lock(&loop.lock);
    leave = loop.quit;
    if (leave) {
        loop.running = FALSE;
        g_cond_broadcast(&loop.stopped);
    }
    g_mutex_unlock(&loop.lock);
    return leave;
}

static gpointer
loop_main(gpointer data G_GNUC_UNUSED)
{
    while (!loop_leaving()) {
        if (virEventRunDefaultImpl() < 0) {
            cpfs_error("libvirt event loop: %s", virGetLastErrorMessage());
            g_mutex_lock(&loop.lock);
            loop.running = FALSE;
            g_cond_broadcast(&loop.stopped);
            g_mutex_unlock(&loop.lock);
            break;
        }
    }
    return NULL;
}

void
cpfs_events_ref(void)
{
    g_mutex_lock(&loop.lock);
    if (loop.refs++ == 0) {
        loop.quit = FALSE;
        /* A thread that would not stop last time runs on as this one. */
        if (!loop.running) {
            if (loop.thread)
                g_thread_join(g_steal_pointer(&loop.thread));
            loop.running = TRUE;
            loop.thread = cpfs_thread_new_without_signals("libvirt-events", loop_main, NULL);
        }
    }
    g_mutex_unlock(&loop.lock);
}

static void
wake_loop(int timer, void *opaque G_GNUC_UNUSED)
{
    virEventRemoveTimeout(timer);
}

void
cpfs_events_unref(void)
{
    gint64 deadline = g_get_monotonic_time() + STOP_BUDGET_US;

    g_mutex_lock(&loop.lock);
    g_return_if_fail(loop.refs > 0);
    if (--loop.refs > 0) {
        g_mutex_unlock(&loop.lock);
        return;
    }
    loop.quit = TRUE;
    g_mutex_unlock(&loop.lock);
    /* A timer that fires at once makes the loop return and see quit. */
    virEventAddTimeout(0, wake_loop, NULL, NULL);
    g_mutex_lock(&loop.lock);
    /* Until it stopped, or a new reference wants it after all. */
    while (loop.running && loop.refs == 0 &&
           g_cond_wait_until(&loop.stopped, &loop.lock, deadline))
        ;
    /* With a new reference, the thread is someone else's again. */
    if (loop.refs == 0 && !loop.running && loop.thread)
        g_thread_join(g_steal_pointer(&loop.thread));
    else if (loop.refs == 0)
        cpfs_warn("the libvirt event thread did not stop within 3 s; going on without it");
    g_mutex_unlock(&loop.lock);
}

struct _CpfsEventGate {
    GMutex lock;       /* guards the fields below */
    GCond left;        /* a callback left */
    gpointer target;   /* NULL once closed */
    guint inside;      /* callbacks between enter and leave */
};

static void
gate_clear(gpointer data)
{
    CpfsEventGate *gate = data;

    g_mutex_clear(&gate->lock);
    g_cond_clear(&gate->left);
}

CpfsEventGate *
cpfs_event_gate_new(gpointer target)
{
    CpfsEventGate *gate = g_atomic_rc_box_new0(CpfsEventGate);

    g_mutex_init(&gate->lock);
    g_cond_init(&gate->left);
    gate->target = target;
    return gate;
}

CpfsEventGate *
cpfs_event_gate_ref(CpfsEventGate *gate)
{
    return g_atomic_rc_box_acquire(gate);
}

void
cpfs_event_gate_unref(gpointer gate)
{
    if (gate)
        g_atomic_rc_box_release_full(gate, gate_clear);
}

gpointer
cpfs_event_gate_enter(CpfsEventGate *gate)
{
    gpointer target;

    g_mutex_lock(&gate->lock);
    target = gate->target;
    if (target)
        gate->inside++;
    g_mutex_unlock(&gate->lock);
    return target;
}

void
cpfs_event_gate_leave(CpfsEventGate *gate)
{
    g_mutex_lock(&gate->lock);
    gate->inside--;
    g_cond_broadcast(&gate->left);
    g_mutex_unlock(&gate->lock);
}

gboolean
cpfs_event_gate_close(CpfsEventGate *gate, gint64 deadline)
{
    gboolean empty;

    g_mutex_lock(&gate->lock);
    gate->target = NULL;
    while (gate->inside > 0 && g_cond_wait_until(&gate->left, &gate->lock, deadline))
        ;
    empty = gate->inside == 0;
    g_mutex_unlock(&gate->lock);
    return empty;
}
