/* The extended attributes: what the daemon tells about itself (the root),
 * about a host's connection (a host's directory), and about the export
 * that serves an open image file.  Nothing can be set. */
#include "fs/fs-internal.h"

#include <errno.h>
#include <string.h>

/* The names a host's directory answers (and a single URI's root). */
static const char host_names[] = CPFS_XATTR_CALLS "\0" CPFS_XATTR_URI "\0" CPFS_XATTR_STATE
                                 "\0" CPFS_XATTR_ERROR;

void
cpfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name G_GNUC_UNUSED,
                 const char *value G_GNUC_UNUSED, size_t size G_GNUC_UNUSED,
                 int flags G_GNUC_UNUSED)
{
    fuse_reply_err(req, cpfs_fs_readonly(cpfs_fs_of(req), ino) ? EROFS : ENOTSUP);
}

/* Answers a getxattr or listxattr of SIZE bytes with VALUE (LEN bytes). */
static void
reply_xattr_value(fuse_req_t req, const char *value, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, value, len);
}

/* "domains=N documents=N document_bytes=N handles=N inodes=N jobs=N", over
 * all hosts. */
static char *
cache_summary(CpfsFs *fs)
{
    g_autoptr(GPtrArray) hosts = cpfs_fleet_hosts(fs->fleet);
    CpfsViewStats sum = { 0 };

    for (guint i = 0; i < hosts->len; i++) {
        CpfsViewStats stats;

        cpfs_view_stats(((CpfsHost *)hosts->pdata[i])->view, &stats);
        sum.domains += stats.domains;
        sum.documents += stats.documents;
        sum.document_bytes += stats.document_bytes;
        sum.driver_handles += stats.driver_handles;
    }
    return g_strdup_printf("domains=%u documents=%u document_bytes=%" G_GSIZE_FORMAT
                           " handles=%u inodes=%u jobs=%u", sum.domains, sum.documents,
                           sum.document_bytes, sum.driver_handles,
                           cpfs_inode_table_count(fs->inodes), cpfs_fs_jobs_count(fs));
}

/* Attribute NAME of HOST's directory, or NULL when it has none. */
static char *
host_attr(CpfsHost *host, const char *name)
{
    static const char *const states[] = {
        [CPFS_DRIVER_CONNECTED] = "connected",
        [CPFS_DRIVER_CONNECTING] = "connecting",
        [CPFS_DRIVER_DOWN] = "down",
    };
    char *error = NULL;
    CpfsDriverState state;

    if (strcmp(name, CPFS_XATTR_CALLS) == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT, cpfs_driver_calls(host->drv));
    if (strcmp(name, CPFS_XATTR_URI) == 0)
        return g_strdup(host->uri);
    if (strcmp(name, CPFS_XATTR_STATE) == 0) {
        state = cpfs_driver_state(host->drv, NULL);
        return g_strdup(states[state]);
    }
    if (strcmp(name, CPFS_XATTR_ERROR) == 0) {
        cpfs_driver_state(host->drv, &error);
        return error;
    }
    return NULL;
}

/* The value of attribute NAME of node ID (inode INO), or NULL. */
static char *
node_xattr(CpfsFs *fs, fuse_ino_t ino, const CpfsNodeId *id, const char *name)
{
    g_autoptr(CpfsHost) host = NULL;

    if (cpfs_fs_lists_hosts(fs, id)) {
        if (strcmp(name, CPFS_XATTR_CALLS) == 0)
            return g_strdup_printf("%" G_GUINT64_FORMAT, cpfs_fleet_calls(fs->fleet));
        return strcmp(name, CPFS_XATTR_CACHE) == 0 ? cache_summary(fs) : NULL;
    }
    if (cpfs_fs_is_host_dir(fs, id)) {
        if (id->kind == CPFS_NODE_ROOT && strcmp(name, CPFS_XATTR_CACHE) == 0)
            return cache_summary(fs);
        return (host = cpfs_fs_host(fs, id)) ? host_attr(host, name) : NULL;
    }
    if (id->image && strcmp(name, CPFS_XATTR_NBD) == 0)
        return cpfs_fs_image_nbd_uri(fs, ino);
    return NULL;
}

void
cpfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_auto(CpfsNodeId) id = { 0 };
    g_autofree char *value = NULL;

    if (!cpfs_fs_get_node(req, ino, &id))
        return;
    if (!(value = node_xattr(fs, ino, &id, name))) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    reply_xattr_value(req, value, strlen(value), size);
}

/* The names node ID has, NUL-separated, into *LEN bytes. */
static char *
node_xattr_names(CpfsFs *fs, fuse_ino_t ino, const CpfsNodeId *id, size_t *len)
{
    static const char root_names[] = CPFS_XATTR_CALLS "\0" CPFS_XATTR_CACHE;
    g_autoptr(CpfsHost) host = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *error = NULL;
    GString *names = g_string_new(NULL);

    if (cpfs_fs_lists_hosts(fs, id)) {
        g_string_append_len(names, root_names, sizeof(root_names));
    } else if (cpfs_fs_is_host_dir(fs, id) && (host = cpfs_fs_host(fs, id))) {
        cpfs_driver_state(host->drv, &error);
        /* The error is listed only when there is one to read. */
        g_string_append_len(names, host_names,
                            error ? sizeof(host_names) : sizeof(host_names) -
                                                             sizeof(CPFS_XATTR_ERROR));
        if (id->kind == CPFS_NODE_ROOT)
            g_string_append_len(names, CPFS_XATTR_CACHE, sizeof(CPFS_XATTR_CACHE));
    } else if (id->image && (uri = cpfs_fs_image_nbd_uri(fs, ino))) {
        g_string_append_len(names, CPFS_XATTR_NBD, sizeof(CPFS_XATTR_NBD));
    }
    *len = names->len;
    return g_string_free(names, FALSE);
}

void
cpfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    g_auto(CpfsNodeId) id = { 0 };
    g_autofree char *names = NULL;
    size_t len;

    if (!cpfs_fs_get_node(req, ino, &id))
        return;
    names = node_xattr_names(cpfs_fs_of(req), ino, &id, &len);
    reply_xattr_value(req, names, len, size);
}

void
cpfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name G_GNUC_UNUSED)
{
    fuse_reply_err(req, cpfs_fs_readonly(cpfs_fs_of(req), ino) ? EROFS : ENODATA);
}
