/* Inside driver/: what all drivers of the process share, and nothing else:
 * libvirt's global set-up and the one thread that runs libvirt's event loop
 * (domain events, connection I/O of every driver).  Also the gate through
 * which a callback on that thread reaches one driver. */
#pragma once
#include <glib.h>

/* Sets libvirt up for the process, once: silent error printing (we log our
 * own), the default event implementation (which must exist before any
 * connection opens, or that connection never delivers events).  FALSE when
 * libvirt cannot be initialized. */
gboolean cpfs_events_init(void);

/* Takes a reference on the event loop thread: the first starts it. */
void cpfs_events_ref(void);
/* Drops one: the last stops the thread, waiting up to 3 s for it (a
 * callback stuck in it is left behind, and the thread is used again by the
 * next cpfs_events_ref: there is never more than one). */
void cpfs_events_unref(void);

/* Starts a thread that never takes SIGINT or SIGTERM: those must reach the
 * FUSE loop's thread, which unmounts. */
GThread *cpfs_thread_new_without_signals(const char *name, GThreadFunc func, gpointer data);

/* A callback's way to its target (a driver): reference-counted, so that
 * libvirt may keep it after the target is gone, and closed so that no
 * callback runs for the target once it is stopping. */
typedef struct _CpfsEventGate CpfsEventGate;

CpfsEventGate *cpfs_event_gate_new(gpointer target);
CpfsEventGate *cpfs_event_gate_ref(CpfsEventGate *gate);
/* A GDestroyNotify (libvirt's freecb). */
void cpfs_event_gate_unref(gpointer gate);
/* The target, for a callback to use until cpfs_event_gate_leave; NULL once
 * closed (then no leave). */
gpointer cpfs_event_gate_enter(CpfsEventGate *gate);
void cpfs_event_gate_leave(CpfsEventGate *gate);
/* Closes GATE and waits until no callback is inside it or DEADLINE
 * (monotonic) passes: FALSE then, and the target must stay alive. */
gboolean cpfs_event_gate_close(CpfsEventGate *gate, gint64 deadline);
