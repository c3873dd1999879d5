/* Runs jobs on worker threads, so that a caller can stop waiting for a job
 * at a deadline while the job, stuck in a call to a libvirtd that does not
 * answer, goes on by itself.  Workers never take SIGINT or SIGTERM. */
#pragma once
#include <glib.h>

typedef struct _CpfsRunner CpfsRunner;

typedef void (*CpfsJobFunc)(gpointer job);

CpfsRunner *cpfs_runner_new(const char *name);
/* Frees RUNNER unless a job is still running (then the process is ending
 * and the workers keep it): TRUE when freed. */
gboolean cpfs_runner_free(CpfsRunner *runner);

/* Runs FUNC(JOB) on a worker and waits until it returns or DEADLINE (a
 * g_get_monotonic_time) passes.  TRUE: it returned, the caller keeps JOB.
 * FALSE: the caller must forget JOB; the worker frees it with JOB_FREE
 * once FUNC returns. */
gboolean cpfs_runner_run(CpfsRunner *runner, CpfsJobFunc func, gpointer job,
                         GDestroyNotify job_free, gint64 deadline);
/* cpfs_runner_run that also gives up (FALSE) once cpfs_runner_cancel was
 * called, before or during the wait. */
gboolean cpfs_runner_run_cancellable(CpfsRunner *runner, CpfsJobFunc func, gpointer job,
                                     GDestroyNotify job_free, gint64 deadline);
/* Ends every wait of cpfs_runner_run_cancellable, now and from then on:
 * the driver is stopping, and its monitor must not wait for a connection
 * attempt that hangs. */
void cpfs_runner_cancel(CpfsRunner *runner);
