/* Telling the kernel what an rmdir changed: the entries it moved, and the
 * domain's attributes (fs/events.c tells it what libvirt and reloads change).
 *
 * rmdir of a checkpoint moves its children up to its parent.  The kernel
 * does not know: its entry of a moved child still hangs below the deleted
 * directory, so a shell whose cwd is that child finds ".." dead (ENOENT)
 * until a lookup of the child at its new place moves the entry there (the
 * kernel reuses a directory's one entry, d_splice_alias).  A FUSE daemon
 * cannot ask the kernel to move an entry, so after the rmdir's reply the
 * relinker thread looks each moved child up through the mount itself (its
 * LOOKUP is served by a FUSE worker like any other).  It holds the mount
 * point open only during one relink: a file held open on the mount would
 * make unmounting fail (EBUSY).  The thread owns a reference to the relinker
 * and is never joined: a lookup may wait on a kernel that waits for FUSE
 * threads already gone, and must not block our exit. */
#include "fs/fs-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

struct _CpfsRelinker {
    CpfsFleet *fleet;
    GAsyncQueue *jobs;     /* RelinkJob*; a job without domain stops the thread */
    GMutex lock;           /* guards thread, stopping and busy */
    GCond idle;            /* busy went FALSE */
    GThread *thread;       /* started by the first job */
    gboolean stopping;     /* the session ended: the fleet is about to go */
    gboolean busy;         /* the thread is using the fleet */
    char *mount_point;     /* absolute, set before the thread starts */
};

typedef struct {
    char *host;            /* NULL: a single URI's */
    char *domain;          /* NULL: stop */
    char *checkpoint;
} RelinkJob;

/* Most relinks a burst of rmdirs may leave queued; more are dropped (the
 * entries then move at the next lookup, as without a relinker). */
#define RELINK_QUEUE_MAX 4096

static void
relink_job_free(RelinkJob *job)
{
    g_free(job->host);
    g_free(job->domain);
    g_free(job->checkpoint);
    g_free(job);
}

static void
relinker_release(CpfsRelinker *rl)
{
    RelinkJob *job;

    while ((job = g_async_queue_try_pop(rl->jobs)))
        relink_job_free(job);
    g_async_queue_unref(rl->jobs);
    g_free(rl->mount_point);
    if (rl->thread)
        g_thread_unref(rl->thread);
    g_mutex_clear(&rl->lock);
    g_cond_clear(&rl->idle);
}

static void
relinker_unref(CpfsRelinker *rl)
{
    g_atomic_rc_box_release_full(rl, (GDestroyNotify)relinker_release);
}

/* Marks the thread busy with the fleet; FALSE when the session ended. */
static gboolean
relinker_enter(CpfsRelinker *rl)
{
    gboolean go;

    g_mutex_lock(&rl->lock);
    go = !rl->stopping;
    rl->busy = go;
    g_mutex_unlock(&rl->lock);
    return go;
}

static void
relinker_leave(CpfsRelinker *rl)
{
    g_mutex_lock(&rl->lock);
    rl->busy = FALSE;
    g_cond_broadcast(&rl->idle);
    g_mutex_unlock(&rl->lock);
}

/* The path of JOB's checkpoint below the mount root, now. */
static char *
checkpoint_path(CpfsFleet *fleet, const RelinkJob *job)
{
    g_autoptr(CpfsHost) host = cpfs_fleet_host(fleet, job->host);
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    GString *path;
    CpfsCheckpoint *cp;

    if (!host || cpfs_view_checkpoints(host->view, job->domain, &tree) < 0 ||
        !(cp = cpfs_checkpoint_tree_lookup(tree, job->checkpoint)) || !cp->visible)
        return NULL;
    for (; cp; cp = cp->parent)
        g_ptr_array_add(names, cp->name);
    path = g_string_new(NULL);
    if (job->host)
        g_string_append_printf(path, "%s/", job->host);
    g_string_append(path, job->domain);
    for (guint i = names->len; i > 0; i--)
        g_string_append_printf(path, "/%s", (char *)names->pdata[i - 1]);
    return g_string_free(path, FALSE);
}

static gpointer
relink_thread(gpointer data)
{
    CpfsRelinker *rl = data;
    RelinkJob *job;

    while ((job = g_async_queue_pop(rl->jobs))->domain) {
        g_autofree char *path = NULL;
        struct stat st;
        int root_fd;

        if (!relinker_enter(rl)) {
            relink_job_free(job);
            continue;
        }
        path = checkpoint_path(rl->fleet, job);
        relinker_leave(rl);
        /* O_PATH: opening sends the daemon nothing. */
        root_fd = path ? open(rl->mount_point, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        /* A lookup there moves the kernel's entry of the directory. */
        if (root_fd >= 0 && fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
            cpfs_debug("relinking '%s' after rmdir: %s", path, g_strerror(errno));
        if (root_fd >= 0)
            close(root_fd);
        relink_job_free(job);
    }
    relink_job_free(job);
    relinker_unref(rl);
    return NULL;
}

void
cpfs_fs_notify_init(CpfsFs *fs)
{
    CpfsRelinker *rl = g_atomic_rc_box_new0(CpfsRelinker);

    rl->jobs = g_async_queue_new();
    g_mutex_init(&rl->lock);
    g_cond_init(&rl->idle);
    fs->relinker = rl;
}

/* Queues a relink of CHECKPOINT of DOMAIN on HOST, starting the thread if
 * needed. */
static void
relink_later(CpfsFs *fs, const char *host, const char *domain, const char *checkpoint)
{
    CpfsRelinker *rl = fs->relinker;
    RelinkJob *job;

    if (g_async_queue_length(rl->jobs) >= RELINK_QUEUE_MAX)
        return;
    g_mutex_lock(&rl->lock);
    if (!rl->thread && fs->mount_point) {
        rl->fleet = fs->fleet;
        rl->mount_point = g_strdup(fs->mount_point);
        rl->thread = g_thread_new("cpfs-relink", relink_thread, g_atomic_rc_box_acquire(rl));
    }
    g_mutex_unlock(&rl->lock);
    job = g_new0(RelinkJob, 1);
    job->host = g_strdup(host);
    job->domain = g_strdup(domain);
    job->checkpoint = g_strdup(checkpoint);
    g_async_queue_push(rl->jobs, job);
}

void
cpfs_fs_notify_clear(CpfsFs *fs)
{
    CpfsRelinker *rl = g_steal_pointer(&fs->relinker);

    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;

    if (!rl)
        return;
    /* The fleet goes after this: wait for a relink using it (its libvirt
     * calls end within their budget). */
    g_mutex_lock(&rl->lock);
    rl->stopping = TRUE;
    while (rl->busy && g_cond_wait_until(&rl->idle, &rl->lock, deadline))
        ;
    if (rl->thread)
        g_async_queue_push(rl->jobs, g_new0(RelinkJob, 1));
    g_mutex_unlock(&rl->lock);
    relinker_unref(rl);
}

void
cpfs_fs_domain_attrs_changed(CpfsFs *fs, const char *host, const char *domain)
{
    CpfsNodeId dom = cpfs_node_id_domain(host, domain);
    guint64 ino = cpfs_inode_table_peek(fs->inodes, &dom);
    struct fuse_session *se = g_atomic_pointer_get(&fs->se);

    if (ino != CPFS_INO_UNKNOWN && se)
        fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
}

void
cpfs_rmdir_notice_free(CpfsRmdirNotice *notice)
{
    g_ptr_array_unref(notice->moved);
    g_free(notice);
}

static void
node_id_free(CpfsNodeId *id)
{
    cpfs_node_id_clear(id);
    g_free(id);
}

CpfsRmdirNotice *
cpfs_rmdir_notice_new(CpfsFs *fs, CpfsHost *host, fuse_ino_t parent, const CpfsNodeId *id)
{
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    CpfsRmdirNotice *notice = g_new0(CpfsRmdirNotice, 1);
    CpfsCheckpoint *cp;

    notice->parent = parent;
    notice->moved = g_ptr_array_new_with_free_func((GDestroyNotify)node_id_free);
    if (cpfs_view_checkpoints(host->view, id->domain, &tree) < 0 ||
        !(cp = cpfs_fs_checkpoint_of(tree, id)))
        return notice;
    {
        CpfsNodeId xml = cpfs_node_id_checkpoint_xml(id->host, id->domain, id->checkpoint,
                                                     cp->serial, cp->doc_version);

        notice->xml_ino = cpfs_inode_table_peek(fs->inodes, &xml);
    }
    for (guint i = 0; i < cp->children->len; i++) {
        CpfsCheckpoint *c = cp->children->pdata[i];
        CpfsNodeId cid = cpfs_node_id_checkpoint(id->host, id->domain, c->name, c->serial);
        CpfsNodeId *copy = g_new0(CpfsNodeId, 1);

        cpfs_node_id_copy(copy, &cid);
        g_ptr_array_add(notice->moved, copy);
    }
    return notice;
}

void
cpfs_fs_rmdir_notify(CpfsFs *fs, const CpfsRmdirNotice *notice)
{
    struct fuse_session *se = g_atomic_pointer_get(&fs->se);

    if (!se)
        return;
    /* An open xml of the deleted checkpoint: its link count is 0 now. */
    if (notice->xml_ino != CPFS_INO_UNKNOWN)
        fuse_lowlevel_notify_inval_inode(se, notice->xml_ino, -1, 0);
    for (guint i = 0; i < notice->moved->len; i++) {
        const CpfsNodeId *child = notice->moved->pdata[i];
        guint64 ino = cpfs_inode_table_peek(fs->inodes, child);

        if (ino == CPFS_INO_UNKNOWN || cpfs_inode_table_lookups(fs->inodes, ino) == 0)
            continue;  /* the kernel holds no entry of it to move */
        /* Its xml names another parent now, so it is another inode: the
         * next path lookup must find that one. */
        fuse_lowlevel_notify_inval_entry(se, ino, CPFS_XML_NAME, strlen(CPFS_XML_NAME));
        /* A negative entry of the name at its new place would hide it. */
        fuse_lowlevel_notify_inval_entry(se, notice->parent, child->checkpoint,
                                         strlen(child->checkpoint));
        relink_later(fs, child->host, child->domain, child->checkpoint);
    }
}
