/* The one table of FUSE operations, and the registry of open handles. */
#include "fs/fs-internal.h"

void
cpfs_fs_init(CpfsFs *fs)
{
    g_mutex_init(&fs->handles_lock);
    fs->handles = g_hash_table_new(NULL, NULL);
    g_mutex_init(&fs->hidden_lock);
    fs->hidden_warned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    cpfs_fs_notify_init(fs);
    cpfs_fs_events_init(fs);
}

void
cpfs_fs_clear(CpfsFs *fs)
{
    GHashTableIter it;
    gpointer handle, free_func;

    if (!fs->handles)
        return;
    cpfs_fs_notify_clear(fs);
    cpfs_fs_events_clear(fs);
    g_hash_table_iter_init(&it, fs->handles);
    while (g_hash_table_iter_next(&it, &handle, &free_func))
        ((GDestroyNotify)free_func)(handle);
    g_clear_pointer(&fs->handles, g_hash_table_unref);
    g_clear_pointer(&fs->hidden_warned, g_hash_table_unref);
    g_mutex_clear(&fs->hidden_lock);
    g_mutex_clear(&fs->handles_lock);
}

void
cpfs_fs_handle_track(CpfsFs *fs, gpointer handle, GDestroyNotify free_func)
{
    g_mutex_lock(&fs->handles_lock);
    g_hash_table_insert(fs->handles, handle, free_func);
    g_mutex_unlock(&fs->handles_lock);
}

void
cpfs_fs_handle_release(CpfsFs *fs, gpointer handle)
{
    GDestroyNotify free_func = NULL;

    g_mutex_lock(&fs->handles_lock);
    free_func = g_hash_table_lookup(fs->handles, handle);
    g_hash_table_remove(fs->handles, handle);
    g_mutex_unlock(&fs->handles_lock);
    if (free_func)
        free_func(handle);
}

const struct fuse_lowlevel_ops cpfs_fs_ops = {
    /* attrs.c: attributes and lookup */
    .init = cpfs_op_init,
    .lookup = cpfs_op_lookup,
    .forget = cpfs_op_forget,
    .forget_multi = cpfs_op_forget_multi,
    .getattr = cpfs_op_getattr,
    .access = cpfs_op_access,
    .statfs = cpfs_op_statfs,
    /* dirs.c: directories */
    .opendir = cpfs_op_opendir,
    .readdir = cpfs_op_readdir,
    .readdirplus = cpfs_op_readdirplus,
    .releasedir = cpfs_op_releasedir,
    .fsyncdir = cpfs_op_fsync,
    /* files.c: the xml files (images.c: the image files) */
    .open = cpfs_op_open,
    .read = cpfs_op_read,
    .lseek = cpfs_op_lseek,
    .flush = cpfs_op_flush,
    .fsync = cpfs_op_fsync,
    .release = cpfs_op_release,
    /* changes.c: changes and refusals */
    .mkdir = cpfs_op_mkdir,
    .rmdir = cpfs_op_rmdir,
    .setattr = cpfs_op_setattr,
    .unlink = cpfs_op_unlink,
    .rename = cpfs_op_rename,
    .mknod = cpfs_op_mknod,
    .create = cpfs_op_create,
    .symlink = cpfs_op_symlink,
    .link = cpfs_op_link,
    .write = cpfs_op_write,
    .setxattr = cpfs_op_setxattr,
    .getxattr = cpfs_op_getxattr,
    .listxattr = cpfs_op_listxattr,
    .removexattr = cpfs_op_removexattr,
};
