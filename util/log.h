/* Logging: stderr in the foreground, syslog once daemonized. */
#pragma once
#include <glib.h>

void cpfs_log_init(gboolean to_stderr, gboolean debug);
void cpfs_log_to_syslog(void);
gboolean cpfs_log_debug_enabled(void);

void cpfs_log(int priority, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#define cpfs_error(...) cpfs_log(3, __VA_ARGS__)
#define cpfs_warn(...) cpfs_log(4, __VA_ARGS__)
#define cpfs_info(...) cpfs_log(6, __VA_ARGS__)
#define cpfs_debug(...) \
    do { if (cpfs_log_debug_enabled()) cpfs_log(7, __VA_ARGS__); } while (0)
