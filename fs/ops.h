/* The FUSE low-level operations: they turn an inode into a node kind once,
 * then dispatch, and translate between the kernel and the view.  One table,
 * cpfs_fs_ops; the operations live in fs/ by family (see fs/fs-internal.h). */
#pragma once
#include <fuse_lowlevel.h>
#include <glib.h>
#include <sys/types.h>

#include "fleet/fleet.h"
#include "model/inodes.h"

typedef struct _CpfsRelinker CpfsRelinker;

/* Whether the image files (DISK.raw, DISK.qcow2) are there, and listed. */
typedef enum {
    CPFS_BACKUP_FILES_HIDDEN,   /* reachable by name, not listed */
    CPFS_BACKUP_FILES_VISIBLE,
    CPFS_BACKUP_FILES_OFF,
} CpfsBackupFiles;

typedef struct {
    CpfsFleet *fleet;        /* the hosts: each has its view and jobs */
    CpfsBackupFiles backup_files;
    CpfsInodeTable *inodes;
    uid_t uid;               /* everything belongs to the mounting user */
    gid_t gid;
    gboolean readonly;
    double kernel_timeout;   /* entry and attribute timeout handed to the kernel */
    time_t mount_time;
    const char *mount_point;  /* absolute; the relinker looks things up there */
    struct fuse_session *se;  /* for invalidating the kernel's caches */
    /* Open file and directory handles.  The kernel sends RELEASE after
     * close() returns and may unmount before it arrives, so whatever is
     * still here when the session ends is freed by cpfs_fs_clear. */
    GMutex handles_lock;     /* a leaf: nothing is locked while it is held */
    GHashTable *handles;     /* handle -> its free function */
    /* Checkpoints not shown because their names are image files' names,
     * each warned of once ("domain/name"). */
    GMutex hidden_lock;      /* a leaf */
    GHashTable *hidden_warned;
    /* Moves the kernel's entries of checkpoints that an rmdir moved up
     * (fs/notify.c); private to it. */
    CpfsRelinker *relinker;
    /* Threads that tell the kernel what events and reloads changed
     * (fs/events.c), so that neither libvirt's one event thread nor the
     * reload thread ever waits on a kernel directory lock. */
    GThreadPool *notifier;
} CpfsFs;

void cpfs_fs_init(CpfsFs *fs);
/* Frees the handles the kernel never released; call once the session ended. */
void cpfs_fs_clear(CpfsFs *fs);

/* What the fleet tells the filesystem (fs/notify.c): domain events and
 * reconnections of a host, on libvirt's event or monitor thread, and hosts
 * that came or went at a reload.  OPAQUE is the CpfsFs. */
CpfsFleetEvents cpfs_fs_fleet_events(CpfsFs *fs);

extern const struct fuse_lowlevel_ops cpfs_fs_ops;
