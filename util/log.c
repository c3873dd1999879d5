#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static gboolean log_to_stderr = TRUE;
static gboolean log_debug;

void
cpfs_log_init(gboolean to_stderr, gboolean debug)
{
    log_to_stderr = to_stderr;
    log_debug = debug;
}

void
cpfs_log_to_syslog(void)
{
    openlog("checkpointfs", LOG_PID, LOG_DAEMON);
    log_to_stderr = FALSE;
}

gboolean
cpfs_log_debug_enabled(void)
{
    return log_debug;
}

void
cpfs_log(int priority, const char *fmt, ...)
{
    static const char *const level_names[] = {
        "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
    };
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    /* Keep every record on one line: libvirt messages may hold newlines. */
    for (char *p = msg; *p; p++) {
        if (*p == '\n')
            *p = ' ';
    }

    if (log_to_stderr)
        fprintf(stderr, "checkpointfs: %s: %s\n", level_names[priority & 7], msg);
    else
        syslog(priority, "%s", msg);
}
