/* The image files of backups: DISK.raw and DISK.qcow2 in a domain
 * directory, DISK.qcow2 in a checkpoint directory (jobs/jobs.h). */
#include "fs/fs-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* What an open image file holds: its image in the job it shares. */
typedef struct {
    CpfsHandleKind kind;
    CpfsImage *image;
    CpfsHost *host;     /* referenced: its jobs hold the image */
} ImageHandle;

/* FUSE reads arrive in pieces of up to 1 MiB: tell cp to ask for that much. */
#define IMAGE_BLKSIZE (1024 * 1024)

/* Closes the image of IH: its job lingers if it was the last. */
static void
image_handle_free(ImageHandle *ih)
{
    cpfs_image_close(ih->host->jobs, ih->image);
    cpfs_host_unref(ih->host);
    g_free(ih);
}

/* The disks HOST's DIR (checkpoint AT, NULL: the domain) has images of. */
static int
dir_disks(CpfsHost *host, const CpfsNodeId *dir, CpfsCheckpoint *at, GPtrArray **disks)
{
    return cpfs_jobs_disks(host->jobs, dir->domain, at ? at->name : NULL, disks);
}

/* Whether NAME (disk DISK, format FORMAT) names an image a directory of
 * kind AT (NULL: the domain) holds: checkpoints hold overlays only. */
static gboolean
format_fits(CpfsCheckpoint *at, CpfsImageFormat format)
{
    return !at || format == CPFS_IMAGE_QCOW2;
}

int
cpfs_fs_image_child(CpfsHost *host, const CpfsNodeId *parent, CpfsCheckpoint *at,
                    const char *name, CpfsNodeId *child)
{
    g_autofree char *disk = NULL;
    g_autoptr(GPtrArray) disks = NULL;
    CpfsImageFormat format;
    CpfsNodeId id;
    int rc;

    if (!host->jobs || !cpfs_image_name_parse(name, &disk, &format) || !format_fits(at, format))
        return 0;
    if ((rc = dir_disks(host, parent, at, &disks)) < 0)
        return rc;
    if (!g_ptr_array_find_with_equal_func(disks, disk, g_str_equal, NULL))
        return 0;
    id = at ? cpfs_node_id_checkpoint_image(parent->host, parent->domain, at->name, at->serial,
                                            name)
            : cpfs_node_id_domain_image(parent->host, parent->domain, name);
    cpfs_node_id_copy(child, &id);
    return 1;
}

GPtrArray *
cpfs_fs_image_names(CpfsHost *host, const CpfsNodeId *dir, CpfsCheckpoint *at)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) disks = NULL;

    if (!host->jobs || dir_disks(host, dir, at, &disks) < 0)
        return names;
    for (guint i = 0; i < disks->len; i++) {
        if (!at)
            g_ptr_array_add(names, g_strdup_printf("%s.raw", (char *)disks->pdata[i]));
        g_ptr_array_add(names, g_strdup_printf("%s.qcow2", (char *)disks->pdata[i]));
    }
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
    return names;
}

void
cpfs_fs_image_warn_hidden(CpfsFs *fs, const char *host, const char *domain, const char *name)
{
    g_autofree char *key = g_strdup_printf("%s/%s/%s", host ? host : "", domain, name);
    gboolean first;

    /* Such names are rare, and each is warned of once: a small set. */
    g_mutex_lock(&fs->hidden_lock);
    first = g_hash_table_add(fs->hidden_warned, g_steal_pointer(&key));
    g_mutex_unlock(&fs->hidden_lock);
    if (first)
        cpfs_warn("%s%sdomain '%s': checkpoint '%s' is not shown: its name is that of a "
                  "disk image file (checkpoints below it neither)", host ? host : "",
                  host ? ": " : "", domain, name);
}

int
cpfs_fs_image_attr(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *id, guint64 ino,
                   struct stat *st)
{
    g_autofree char *disk = NULL;
    CpfsImageFormat format;
    guint64 size = 0, allocated = 0;
    int rc;

    if (!host->jobs || !cpfs_image_name_parse(id->image, &disk, &format))
        return -ENOENT;
    rc = cpfs_jobs_image_size(host->jobs, id->domain, id->checkpoint, id->serial, disk, format,
                              &size, &allocated);
    if (rc < 0)
        return rc;
    cpfs_fs_fill_common(fs, st, ino, FALSE);
    /* Stable times: tar and rsync take a changing one for a changed file. */
    cpfs_fs_fill_times(st, fs->mount_time);
    st->st_size = (off_t)size;
    /* What the raw file holds as data: cp --sparse and du look at it. */
    st->st_blocks = (blkcnt_t)((allocated + 511) / 512);
    st->st_blksize = IMAGE_BLKSIZE;
    return 0;
}

void
cpfs_fs_image_open(fuse_req_t req, CpfsHost *host, const CpfsNodeId *id,
                   struct fuse_file_info *fi)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_autofree char *disk = NULL;
    CpfsImageFormat format;
    CpfsImage *image = NULL;
    ImageHandle *ih;
    int rc;

    if (!host->jobs || !cpfs_image_name_parse(id->image, &disk, &format)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    rc = cpfs_jobs_open(host->jobs, id->domain, id->checkpoint, id->serial, disk, format, &image);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    ih = g_new0(ImageHandle, 1);
    ih->kind = CPFS_HANDLE_IMAGE;
    ih->image = image;
    ih->host = cpfs_host_ref(host);
    fi->fh = (uintptr_t)ih;
    /* Every read comes here: the size is known only once the job runs, and
     * the data must come from this job, not from an earlier one's pages.
     * (Through the page cache, with the kernel's read-ahead, full copies
     * were 1.7-2x slower on a quiet machine: bench/.)  Sequential readers
     * get the daemon's own read-ahead instead (jobs/stream.c). */
    fi->direct_io = 1;
    fi->noflush = 1;
    cpfs_fs_handle_track(fs, ih, (GDestroyNotify)image_handle_free);
    if (fuse_reply_open(req, fi) != 0)
        cpfs_fs_handle_release(fs, ih);
}

void
cpfs_fs_image_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
    ImageHandle *ih = (ImageHandle *)(uintptr_t)fi->fh;
    guint64 end = cpfs_image_size(ih->image);
    g_autofree guint8 *buf = NULL;
    gsize len;
    int rc;

    /* Its host left the fleet: its job is no longer the host's to serve. */
    if (cpfs_host_removed(ih->host)) {
        fuse_reply_err(req, EIO);
        return;
    }
    if (off < 0 || (guint64)off >= end) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    len = (gsize)MIN((guint64)size, end - (guint64)off);
    buf = g_malloc(len);
    rc = cpfs_image_read(ih->image, (guint64)off, len, buf);
    if (rc < 0)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_buf(req, (const char *)buf, len);
}

void
cpfs_fs_image_release(fuse_req_t req, struct fuse_file_info *fi)
{
    cpfs_fs_handle_release(cpfs_fs_of(req), (ImageHandle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

void
cpfs_fs_image_lseek(fuse_req_t req, off_t off, int whence, struct fuse_file_info *fi)
{
    ImageHandle *ih = (ImageHandle *)(uintptr_t)fi->fh;
    gint64 found;

    if (cpfs_host_removed(ih->host)) {
        fuse_reply_err(req, EIO);
        return;
    }
    if (off < 0) {
        fuse_reply_err(req, ENXIO);
        return;
    }
    found = cpfs_image_seek(ih->image, (guint64)off, whence == SEEK_DATA);
    if (found < 0)
        fuse_reply_err(req, (int)-found);
    else
        fuse_reply_lseek(req, (off_t)found);
}

gint64
cpfs_fs_image_served_size(CpfsFs *fs, const CpfsNodeId *id)
{
    g_autoptr(CpfsHost) host = cpfs_fs_host(fs, id);
    g_autofree char *disk = NULL;
    CpfsImageFormat format;
    guint64 size, allocated;

    if (!host || !host->jobs || !id->image || !cpfs_image_name_parse(id->image, &disk, &format)
        || !cpfs_jobs_served_size(host->jobs, id->domain, id->checkpoint, id->serial, disk, format,
                                  &size, &allocated))
        return -1;
    return (gint64)size;
}

gint64
cpfs_fs_image_handle_size(uint64_t fh)
{
    ImageHandle *ih = (ImageHandle *)(uintptr_t)fh;

    return (gint64)cpfs_image_size(ih->image);
}

char *
cpfs_fs_image_nbd_uri(CpfsFs *fs, fuse_ino_t ino)
{
    g_auto(CpfsNodeId) id = { 0 };
    g_autoptr(CpfsHost) host = NULL;
    g_autofree char *disk = NULL;
    CpfsImageFormat format;

    if (!cpfs_inode_table_get(fs->inodes, ino, &id) || !id.image
        || !(host = cpfs_fs_host(fs, &id)) || !host->jobs
        || !cpfs_image_name_parse(id.image, &disk, &format))
        return NULL;
    return cpfs_jobs_nbd_uri(host->jobs, id.domain, id.checkpoint, id.serial, disk);
}
