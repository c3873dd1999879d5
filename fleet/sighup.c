/* SIGHUP reloads the hosts file (a single URI's mount ignores it, where
 * libfuse's handler would have unmounted).
 *
 * Thread model: the signal handler only writes a byte to a pipe; the reload
 * thread reads it and reloads (cpfs_fleet_reload), so that nothing but a
 * write(2) runs in signal context.  Signals that come while a reload runs
 * make one more reload, not one each. */
#include "fleet/sighup.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

struct _CpfsReloader {
    CpfsFleet *fleet;
    GThread *thread;
    int pipe[2];            /* [1] written by the handler, [0] read by the thread */
    struct sigaction old;   /* what SIGHUP did before (libfuse's exit handler) */
};

/* The one reloader's pipe: a signal handler takes no argument. */
static volatile sig_atomic_t hup_fd = -1;

/* Wakes the reload thread: nothing else is safe in a signal handler. */
static void
on_sighup(int sig G_GNUC_UNUSED)
{
    int saved = errno;
    char byte = 'h';

    if (hup_fd >= 0 && write(hup_fd, &byte, 1) < 0) {
        /* The pipe is full: a reload is pending anyway. */
    }
    errno = saved;
}

/* Reloads once per wake-up until told to stop ('q') or the pipe closes. */
static gpointer
reload_thread(gpointer data)
{
    CpfsReloader *r = data;
    char buf[64];
    ssize_t n;

    while ((n = read(r->pipe[0], buf, sizeof(buf))) != 0) {
        g_autofree char *error = NULL;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        /* A 'q' among the bytes: the mount is ending. */
        if (memchr(buf, 'q', (size_t)n))
            break;
        if (!cpfs_fleet_has_hosts(r->fleet)) {
            cpfs_info("SIGHUP ignored: a single URI's mount has no hosts file to re-read");
            continue;
        }
        cpfs_info("SIGHUP: reloading %s", cpfs_fleet_path(r->fleet));
        if (!cpfs_fleet_reload(r->fleet, &error))
            cpfs_error("reload of %s failed: %s (hosts unchanged)", cpfs_fleet_path(r->fleet),
                       error);
    }
    return NULL;
}

CpfsReloader *
cpfs_reloader_start(CpfsFleet *fleet)
{
    CpfsReloader *r = g_new0(CpfsReloader, 1);
    struct sigaction sa = { .sa_handler = on_sighup };
    sigset_t all, old;

    r->fleet = fleet;
    if (!g_unix_open_pipe(r->pipe, FD_CLOEXEC, NULL)) {
        g_free(r);
        return NULL;
    }
    fcntl(r->pipe[1], F_SETFL, O_NONBLOCK);
    /* The thread never takes a signal: they belong to the FUSE loop. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    r->thread = g_thread_new("cpfs-reload", reload_thread, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    hup_fd = r->pipe[1];
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, &r->old);
    return r;
}

void
cpfs_reloader_stop(CpfsReloader *r)
{
    char byte = 'q';

    if (!r)
        return;
    sigaction(SIGHUP, &r->old, NULL);
    hup_fd = -1;
    if (write(r->pipe[1], &byte, 1) < 0)
        cpfs_warn("cannot stop the reload thread: %s", g_strerror(errno));
    g_thread_join(r->thread);
    close(r->pipe[0]);
    close(r->pipe[1]);
    g_free(r);
}
