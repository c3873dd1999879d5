/* What the fleet tells the filesystem: domain events and reconnections of a
 * host, and hosts a reload added, removed or replaced.  The view learns at
 * once; the kernel is told by the notifier threads.
 *
 * Thread model: events arrive on libvirt's one event thread (shared by every
 * host), reconnections on a host's monitor thread, reload news on the reload
 * thread.  None of them may wait on the kernel: an invalidation takes a
 * directory's lock, which a request of a slow host may hold for its whole
 * libvirt budget, and one host must not hold up the others' events.  So they
 * queue a notice, and a pool of NOTIFIERS threads hands it to the kernel. */
#include "fs/fs-internal.h"

#include <string.h>

/* Threads telling the kernel: a stuck one leaves the others going. */
#define NOTIFIERS 2

typedef enum {
    NOTICE_DOMAIN_XML,      /* a domain's XML changed (started, stopped...) */
    NOTICE_DOMAIN_ENTRY,    /* a domain came or went in its host's directory */
    NOTICE_HOST_ATTRS,      /* a host came back: its directory's link count */
    NOTICE_HOST_ENTRY,      /* a host came, went or was replaced at a reload */
} NoticeKind;

typedef struct {
    NoticeKind kind;
    char *host;             /* NULL: a single URI's */
    char *domain;
} Notice;

static void
notice_free(Notice *n)
{
    g_free(n->host);
    g_free(n->domain);
    g_free(n);
}

/* Tells the kernel of session SE what notice N says.  Errors only mean the
 * kernel had nothing cached. */
static void
tell_kernel(CpfsFs *fs, struct fuse_session *se, const Notice *n)
{
    CpfsNodeId xml = cpfs_node_id_domain_xml(n->host, n->domain);
    guint64 ino;

    if (n->kind == NOTICE_DOMAIN_XML) {
        if ((ino = cpfs_inode_table_peek(fs->inodes, &xml)) != CPFS_INO_UNKNOWN)
            fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
    } else if (n->kind == NOTICE_HOST_ENTRY) {
        fuse_lowlevel_notify_inval_entry(se, CPFS_ROOT_INO, n->host, strlen(n->host));
        fuse_lowlevel_notify_inval_inode(se, CPFS_ROOT_INO, -1, 0);
    } else if ((ino = cpfs_fs_host_dir_ino(fs, n->host)) != CPFS_INO_UNKNOWN) {
        /* A dentry (or a negative one) of the domain's name, and the host
         * directory's link count: both go, so the change shows at once. */
        if (n->kind == NOTICE_DOMAIN_ENTRY)
            fuse_lowlevel_notify_inval_entry(se, ino, n->domain, strlen(n->domain));
        fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
    }
}

/* Tells the kernel what notice DATA says, if the session still runs. */
static void
notice_run(gpointer data, gpointer user_data)
{
    CpfsFs *fs = user_data;
    struct fuse_session *se = g_atomic_pointer_get(&fs->se);

    if (se)
        tell_kernel(fs, se, data);
    notice_free(data);
}

/* Queues a notice of KIND about HOST's DOMAIN. */
static void
notify_later(CpfsFs *fs, NoticeKind kind, const char *host, const char *domain)
{
    Notice *n = g_new0(Notice, 1);

    n->kind = kind;
    n->host = g_strdup(host);
    n->domain = g_strdup(domain);
    g_thread_pool_push(fs->notifier, n, NULL);
}

/* A domain of HOST came, went or changed (on libvirt's event thread). */
static void
domain_event(CpfsHost *host, const char *domain, CpfsDomainEvent event, void *opaque)
{
    CpfsFs *fs = opaque;

    cpfs_view_domain_event(host->view, domain, event);
    notify_later(fs, event == CPFS_DOMAIN_CHANGED ? NOTICE_DOMAIN_XML : NOTICE_DOMAIN_ENTRY,
                 host->name, domain);
}

/* HOST's libvirt came back: what happened meanwhile is unknown.  Entries
 * the kernel holds expire within cache_timeout; the directory's link count
 * goes now. */
static void
reconnected(CpfsHost *host, void *opaque)
{
    CpfsFs *fs = opaque;

    cpfs_view_forget_all(host->view);
    notify_later(fs, NOTICE_HOST_ATTRS, host->name, NULL);
}

/* Host NAME came, went or was replaced at a reload. */
static void
host_changed(const char *name, void *opaque)
{
    notify_later(opaque, NOTICE_HOST_ENTRY, name, NULL);
}

CpfsFleetEvents
cpfs_fs_fleet_events(CpfsFs *fs)
{
    return (CpfsFleetEvents){ .domain_event = domain_event, .reconnected = reconnected,
                              .host_changed = host_changed, .opaque = fs };
}

void
cpfs_fs_events_init(CpfsFs *fs)
{
    /* Not exclusive: no thread starts before daemonizing. */
    fs->notifier = g_thread_pool_new(notice_run, fs, NOTIFIERS, FALSE, NULL);
}

void
cpfs_fs_events_clear(CpfsFs *fs)
{
    if (fs->notifier)
        g_thread_pool_free(g_steal_pointer(&fs->notifier), FALSE, TRUE);
}
