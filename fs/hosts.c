/* The hosts: which host a node belongs to, and the root of a hosts file's
 * mount, whose entries are the hosts' directories. */
#include "fs/fs-internal.h"

#include <errno.h>

CpfsHost *
cpfs_fs_host(CpfsFs *fs, const CpfsNodeId *id)
{
    if (cpfs_fs_lists_hosts(fs, id))
        return NULL;
    return cpfs_fleet_host(fs->fleet, id->host);
}

gboolean
cpfs_fs_readonly(CpfsFs *fs, fuse_ino_t ino)
{
    g_auto(CpfsNodeId) id = { 0 };
    g_autoptr(CpfsHost) host = NULL;

    if (fs->readonly)
        return TRUE;
    if (!cpfs_inode_table_get(fs->inodes, ino, &id))
        return FALSE;
    host = cpfs_fs_host(fs, &id);
    return host && host->readonly;
}

gboolean
cpfs_fs_lists_hosts(CpfsFs *fs, const CpfsNodeId *id)
{
    return id->kind == CPFS_NODE_ROOT && cpfs_fleet_has_hosts(fs->fleet);
}

gboolean
cpfs_fs_is_host_dir(CpfsFs *fs, const CpfsNodeId *id)
{
    return id->kind == CPFS_NODE_HOST
           || (id->kind == CPFS_NODE_ROOT && !cpfs_fleet_has_hosts(fs->fleet));
}

CpfsNodeId
cpfs_fs_host_dir(const char *host)
{
    return host ? cpfs_node_id_host(host) : cpfs_node_id_root();
}

guint64
cpfs_fs_host_dir_ino(CpfsFs *fs, const char *host)
{
    CpfsNodeId dir = cpfs_fs_host_dir(host);

    return host ? cpfs_inode_table_peek(fs->inodes, &dir) : CPFS_ROOT_INO;
}

void
cpfs_fs_fleet_root_attr(CpfsFs *fs, guint64 ino, struct stat *st)
{
    g_autoptr(GPtrArray) names = cpfs_fleet_host_names(fs->fleet);

    cpfs_fs_fill_common(fs, st, ino, TRUE);
    /* Nothing is made here: hosts come from the hosts file. */
    st->st_mode &= ~0222;
    st->st_nlink = 2 + names->len;
    cpfs_fs_fill_times(st, fs->mount_time);
}

int
cpfs_fs_host_child(CpfsFs *fs, const char *name, CpfsNodeId *child)
{
    g_autoptr(CpfsHost) host = cpfs_fleet_host(fs->fleet, name);
    CpfsNodeId id = cpfs_node_id_host(name);

    if (!host)
        return -ENOENT;
    cpfs_node_id_copy(child, &id);
    return 0;
}

guint
cpfs_fs_jobs_count(CpfsFs *fs)
{
    g_autoptr(GPtrArray) hosts = cpfs_fleet_hosts(fs->fleet);
    guint count = 0;

    for (guint i = 0; i < hosts->len; i++) {
        CpfsHost *host = hosts->pdata[i];

        count += host->jobs ? cpfs_jobs_count(host->jobs) : 0;
    }
    return count;
}
