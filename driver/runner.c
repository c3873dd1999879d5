/* Worker threads for libvirt calls.
 *
 * Thread model: a caller pushes a task and waits on the task's condition
 * until the worker marks it done or the caller's deadline passes.  Workers
 * are made on demand (one per task in flight at most, so a stuck job never
 * delays another) and end after WORKER_IDLE_US without work.  A task is
 * shared by the caller and the worker; runner->lock guards every task's
 * done/abandoned flags, and whoever of the two comes last frees it. */
#include "driver/runner.h"

#include <pthread.h>
#include <signal.h>

#define WORKER_IDLE_US (10 * G_USEC_PER_SEC)

struct _CpfsRunner {
    char *name;
    GAsyncQueue *tasks;
    GMutex lock;          /* guards the fields below and every task's flags */
    GCond done_cond;      /* a task finished */
    guint idle;           /* workers waiting for a task */
    guint queued;         /* tasks pushed and not yet taken */
    guint busy;           /* tasks taken by a worker and not finished */
    guint workers;
    gboolean cancelled;   /* cancellable waits end at once */
};

typedef struct {
    CpfsJobFunc func;
    gpointer job;
    GDestroyNotify job_free;
    gboolean done;
    gboolean abandoned;
} Task;

/* Pushed to make an idle worker end. */
static Task stop_task;

static gpointer
worker_main(gpointer data)
{
    CpfsRunner *runner = data;

    for (;;) {
        Task *task = g_async_queue_timeout_pop(runner->tasks, WORKER_IDLE_US);

        g_mutex_lock(&runner->lock);
        if (!task && runner->queued > 0) {
            /* Timed out just as a task came, counting on this worker. */
            g_mutex_unlock(&runner->lock);
            continue;
        }
        runner->idle--;
        if (!task || task == &stop_task) {
            runner->workers--;
            g_cond_broadcast(&runner->done_cond);
            g_mutex_unlock(&runner->lock);
            return NULL;
        }
        runner->queued--;
        runner->busy++;
        g_mutex_unlock(&runner->lock);

        task->func(task->job);

        g_mutex_lock(&runner->lock);
        runner->busy--;
        runner->idle++;
        task->done = TRUE;
        if (task->abandoned) {
            g_mutex_unlock(&runner->lock);
            task->job_free(task->job);
            g_free(task);
            g_mutex_lock(&runner->lock);
        }
        g_cond_broadcast(&runner->done_cond);
        g_mutex_unlock(&runner->lock);
    }
}

/* Starts a worker; call with runner->lock held.  Signals stay blocked in
 * it: SIGINT and SIGTERM must reach the FUSE loop, which unmounts. */
static void
worker_start(CpfsRunner *runner)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    g_thread_unref(g_thread_new(runner->name, worker_main, runner));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    runner->workers++;
    runner->idle++;
}

CpfsRunner *
cpfs_runner_new(const char *name)
{
    CpfsRunner *runner = g_new0(CpfsRunner, 1);

    runner->name = g_strdup(name);
    runner->tasks = g_async_queue_new();
    g_mutex_init(&runner->lock);
    g_cond_init(&runner->done_cond);
    return runner;
}

gboolean
cpfs_runner_free(CpfsRunner *runner)
{
    /* Long enough for an attempt to connect to end, short enough that a
     * hundred stuck hosts do not hold an unmount up for long. */
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC / 5;

    if (!runner)
        return TRUE;
    g_mutex_lock(&runner->lock);
    /* One stop for every worker: idle ones end at once, busy ones once
     * their task returns (a connection attempt under way, say); those
     * still busy at the deadline are stuck in libvirt. */
    for (guint i = 0; i < runner->workers; i++)
        g_async_queue_push(runner->tasks, &stop_task);
    while (runner->workers > 0 &&
           g_cond_wait_until(&runner->done_cond, &runner->lock, deadline))
        ;
    if (runner->workers > 0) {
        g_mutex_unlock(&runner->lock);
        return FALSE;
    }
    g_mutex_unlock(&runner->lock);
    g_async_queue_unref(runner->tasks);
    g_mutex_clear(&runner->lock);
    g_cond_clear(&runner->done_cond);
    g_free(runner->name);
    g_free(runner);
    return TRUE;
}

/* cpfs_runner_run, cancellable or not. */
static gboolean
run(CpfsRunner *runner, CpfsJobFunc func, gpointer job, GDestroyNotify job_free,
    gint64 deadline, gboolean cancellable)
{
    Task *task;
    gboolean finished;

    g_mutex_lock(&runner->lock);
    finished = cancellable && runner->cancelled;
    g_mutex_unlock(&runner->lock);
    if (finished) {
        /* Never started: not worth a worker. */
        job_free(job);
        return FALSE;
    }
    task = g_new0(Task, 1);
    task->func = func;
    task->job = job;
    task->job_free = job_free;
    g_mutex_lock(&runner->lock);
    if (runner->idle <= runner->queued)
        worker_start(runner);
    runner->queued++;
    g_async_queue_push(runner->tasks, task);
    while (!task->done && !(cancellable && runner->cancelled) &&
           g_cond_wait_until(&runner->done_cond, &runner->lock, deadline))
        ;
    finished = task->done;
    if (!finished)
        task->abandoned = TRUE;
    g_mutex_unlock(&runner->lock);
    if (finished)
        g_free(task);
    return finished;
}

gboolean
cpfs_runner_run(CpfsRunner *runner, CpfsJobFunc func, gpointer job, GDestroyNotify job_free,
                gint64 deadline)
{
    return run(runner, func, job, job_free, deadline, FALSE);
}

gboolean
cpfs_runner_run_cancellable(CpfsRunner *runner, CpfsJobFunc func, gpointer job,
                            GDestroyNotify job_free, gint64 deadline)
{
    return run(runner, func, job, job_free, deadline, TRUE);
}

void
cpfs_runner_cancel(CpfsRunner *runner)
{
    g_mutex_lock(&runner->lock);
    runner->cancelled = TRUE;
    g_cond_broadcast(&runner->done_cond);
    g_mutex_unlock(&runner->lock);
}
