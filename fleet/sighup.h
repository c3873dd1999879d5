/* Reloading the hosts file on SIGHUP (sighup.c has the thread model). */
#pragma once
#include <glib.h>
#include <glib-unix.h>

#include "fleet/fleet.h"

typedef struct _CpfsReloader CpfsReloader;

/* Makes SIGHUP reload FLEET's hosts file on a thread of its own, in place of
 * what SIGHUP did (libfuse's handler ends the mount).  Call after
 * daemonizing and after libfuse set its handlers.  NULL if it cannot. */
CpfsReloader *cpfs_reloader_start(CpfsFleet *fleet);
/* Gives SIGHUP back to what it did before and stops the thread. */
void cpfs_reloader_stop(CpfsReloader *r);
