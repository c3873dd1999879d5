/* Attributes and lookup: what a node is and what stat says about it. */
#include "fs/fs-internal.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

/* The visible checkpoint NAME in TREE, or NULL. */
static CpfsCheckpoint *
visible_checkpoint(CpfsCheckpointTree *tree, const char *name)
{
    CpfsCheckpoint *cp = cpfs_checkpoint_tree_lookup(tree, name);

    if (!cp)
        return NULL;
    return cpfs_checkpoint_tree_child(tree, cp->parent, name);
}

CpfsCheckpoint *
cpfs_fs_checkpoint_of(CpfsCheckpointTree *tree, const CpfsNodeId *id)
{
    CpfsCheckpoint *cp = visible_checkpoint(tree, id->checkpoint);

    if (cp && id->serial && cp->serial != id->serial)
        return NULL;  /* deleted, and another made under its name since */
    return cp;
}

void
cpfs_fs_fill_times(struct stat *st, time_t t)
{
    st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = t;
}

void
cpfs_fs_fill_common(CpfsFs *fs, struct stat *st, guint64 ino, gboolean is_dir)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_blksize = 4096;
    if (is_dir) {
        st->st_mode = S_IFDIR | (fs->readonly ? 0555 : 0755);
        st->st_nlink = 2;
    } else {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
    }
}

int
cpfs_fs_checkpoint_attr(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *id,
                        CpfsCheckpointTree *tree, guint64 ino, struct stat *st)
{
    CpfsCheckpoint *cp = cpfs_fs_checkpoint_of(tree, id);
    gboolean is_dir = id->kind == CPFS_NODE_CHECKPOINT;

    if (!cp)
        return -ENOENT;
    cpfs_fs_fill_common(fs, st, ino, is_dir);
    cpfs_fs_fill_times(st, (time_t)cp->creation_time);
    if (is_dir) {
        st->st_nlink = 2 + cp->children->len;
    } else {
        gint64 size = -1;
        int rc = 0;

        /* An earlier version of the document keeps the size the kernel was
         * told: it may hold its pages, and an open file may still read them. */
        if (cp->doc_version != id->doc_version && ino != CPFS_INO_UNKNOWN)
            size = cpfs_pages_told_size(fs->inodes, ino);
        if (size < 0)
            rc = cpfs_view_checkpoint_xml_size(host->view, id->domain, cp, &size);
        if (rc < 0)
            return rc;
        st->st_size = size;
        st->st_blocks = (size + 511) / 512;
    }
    return 0;
}

/* Attributes of a domain directory or its xml of HOST, from TREE. */
static int
domain_attr(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *id, CpfsCheckpointTree *tree,
            guint64 ino, struct stat *st)
{
    gint64 newest = cpfs_checkpoint_tree_newest(tree);
    gint64 size;
    int rc;

    cpfs_fs_fill_common(fs, st, ino, id->kind == CPFS_NODE_DOMAIN);
    cpfs_fs_fill_times(st, newest ? (time_t)newest : fs->mount_time);
    if (id->kind == CPFS_NODE_DOMAIN) {
        st->st_nlink = 2 + cpfs_checkpoint_tree_children(tree, NULL)->len;
        return 0;
    }
    if ((rc = cpfs_view_domain_xml_size(host->view, id->domain, &size)) < 0)
        return rc;
    st->st_size = size;
    st->st_blocks = (size + 511) / 512;
    return 0;
}

/* Attributes of node ID of HOST. */
static int
host_node_attr(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *id, guint64 ino,
               struct stat *st)
{
    g_autoptr(CpfsDomainList) domains = NULL;
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    int rc;

    if (cpfs_fs_is_host_dir(fs, id)) {
        /* A host's directory stays stat-able while its libvirt is
         * unreachable, so that the mount never looks broken; only its link
         * count needs the domain list.  In a fleet, any list read before
         * will do: a lookup in the root must not wait for a hung host,
         * holding the root's lock against every other host's lookups. */
        cpfs_fs_fill_common(fs, st, ino, TRUE);
        if (id->kind == CPFS_NODE_HOST)
            domains = cpfs_view_last_domains(host->view);
        if (!domains && (id->kind != CPFS_NODE_HOST ||
                         cpfs_driver_state(host->drv, NULL) == CPFS_DRIVER_CONNECTED))
            cpfs_view_domains(host->view, &domains);
        if (domains)
            st->st_nlink = 2 + cpfs_domain_list_names(domains)->len;
        cpfs_fs_fill_times(st, fs->mount_time);
        return 0;
    }

    if ((rc = cpfs_view_domains(host->view, &domains)) < 0)
        return rc;
    if (!cpfs_domain_list_contains(domains, id->domain))
        return -ENOENT;
    if ((rc = cpfs_view_checkpoints(host->view, id->domain, &tree)) < 0)
        return rc;
    if (id->kind == CPFS_NODE_DOMAIN || id->kind == CPFS_NODE_DOMAIN_XML)
        return domain_attr(fs, host, id, tree, ino, st);
    if (id->kind == CPFS_NODE_CHECKPOINT_IMAGE && !cpfs_fs_checkpoint_of(tree, id))
        return -ENOENT;
    if (id->kind == CPFS_NODE_DOMAIN_IMAGE || id->kind == CPFS_NODE_CHECKPOINT_IMAGE)
        return cpfs_fs_image_attr(fs, host, id, ino, st);
    return cpfs_fs_checkpoint_attr(fs, host, id, tree, ino, st);
}

static int
node_attr(CpfsFs *fs, const CpfsNodeId *id, guint64 ino, struct stat *st)
{
    g_autoptr(CpfsHost) host = NULL;
    int rc;

    if (cpfs_fs_lists_hosts(fs, id)) {
        cpfs_fs_fleet_root_attr(fs, ino, st);
        return 0;
    }
    if (!(host = cpfs_fs_host(fs, id)))
        return -ENOENT;  /* a reload removed its host */
    rc = host_node_attr(fs, host, id, ino, st);
    if (rc == 0 && host->readonly)
        st->st_mode &= ~0222;
    return rc;
}

/* Which node NAME is inside directory PARENT: 0, -ENOENT or -ENOTDIR. */
static int
resolve_child(CpfsFs *fs, const CpfsNodeId *parent, const char *name, CpfsNodeId *child)
{
    g_autoptr(CpfsHost) host = NULL;
    g_autoptr(CpfsDomainList) domains = NULL;
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    CpfsCheckpoint *at = NULL;
    CpfsCheckpoint *found;
    int rc;

    if (!cpfs_node_is_dir(parent->kind))
        return -ENOTDIR;
    if (cpfs_fs_lists_hosts(fs, parent))
        return cpfs_fs_host_child(fs, name, child);
    if (!(host = cpfs_fs_host(fs, parent)))
        return -ENOENT;
    if ((rc = cpfs_view_domains(host->view, &domains)) < 0)
        return rc;

    if (cpfs_fs_is_host_dir(fs, parent)) {
        if (!cpfs_domain_list_contains(domains, name))
            return -ENOENT;
        CpfsNodeId dom = cpfs_node_id_domain(parent->host, name);

        cpfs_node_id_copy(child, &dom);
        return 0;
    }

    if (!cpfs_domain_list_contains(domains, parent->domain))
        return -ENOENT;
    if ((rc = cpfs_view_checkpoints(host->view, parent->domain, &tree)) < 0)
        return rc;
    if (parent->kind == CPFS_NODE_CHECKPOINT) {
        at = cpfs_fs_checkpoint_of(tree, parent);
        if (!at)
            return -ENOENT;
    }

    if (strcmp(name, CPFS_XML_NAME) == 0) {
        CpfsNodeId xml = at ? cpfs_node_id_checkpoint_xml(parent->host, parent->domain,
                                                          parent->checkpoint, at->serial,
                                                          at->doc_version)
                            : cpfs_node_id_domain_xml(parent->host, parent->domain);

        cpfs_node_id_copy(child, &xml);
        return 0;
    }
    if ((rc = cpfs_fs_image_child(host, parent, at, name, child)) != 0)
        return rc < 0 ? rc : 0;
    found = cpfs_checkpoint_tree_child(tree, at, name);
    if (!found)
        return -ENOENT;
    {
        CpfsNodeId cp = cpfs_node_id_checkpoint(parent->host, parent->domain, name,
                                                found->serial);

        cpfs_node_id_copy(child, &cp);
    }
    return 0;
}

gboolean
cpfs_fs_get_node(fuse_req_t req, fuse_ino_t ino, CpfsNodeId *id)
{
    if (!cpfs_inode_table_get(cpfs_fs_of(req)->inodes, ino, id)) {
        fuse_reply_err(req, ESTALE);
        return FALSE;
    }
    return TRUE;
}

gboolean
cpfs_fs_get_child(fuse_req_t req, fuse_ino_t parent, const char *name, CpfsNodeId *child)
{
    g_auto(CpfsNodeId) pid = { 0 };
    int rc;

    /* statfs says f_namemax: no longer name exists, whatever the kernel
     * lets through (up to 1,024 bytes). */
    if (strlen(name) > CPFS_NAME_MAX) {
        cpfs_info("'%.64s...' (%zu bytes) refused: %s", name, strlen(name),
                  cpfs_name_refusal(-ENAMETOOLONG));
        fuse_reply_err(req, ENAMETOOLONG);
        return FALSE;
    }
    if (!cpfs_fs_get_node(req, parent, &pid))
        return FALSE;
    rc = resolve_child(cpfs_fs_of(req), &pid, name, child);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return FALSE;
    }
    return TRUE;
}

void
cpfs_fs_send_entry(fuse_req_t req, const CpfsNodeId *child, struct fuse_entry_param *e)
{
    CpfsFs *fs = cpfs_fs_of(req);

    e->ino = cpfs_inode_table_add_lookup(fs->inodes, child);
    e->attr.st_ino = e->ino;
    if (child->kind == CPFS_NODE_CHECKPOINT_XML)
        cpfs_pages_tell_size(fs->inodes, e->ino, e->attr.st_size);
    e->generation = 0;
    e->entry_timeout = fs->kernel_timeout;
    e->attr_timeout = child->image ? 0 : fs->kernel_timeout;
    if (fuse_reply_entry(req, e) != 0)
        cpfs_inode_table_forget(fs->inodes, e->ino, 1);
}

void
cpfs_op_init(void *userdata G_GNUC_UNUSED, struct fuse_conn_info *conn)
{
    /* Nothing is ever written. */
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
}

void
cpfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_auto(CpfsNodeId) child = { 0 };
    struct fuse_entry_param e = { 0 };
    int rc;

    if (!cpfs_fs_get_child(req, parent, name, &child))
        return;
    rc = node_attr(fs, &child, cpfs_inode_table_peek(fs->inodes, &child), &e.attr);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    cpfs_fs_send_entry(req, &child, &e);
}

void
cpfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    cpfs_inode_table_forget(cpfs_fs_of(req)->inodes, ino, nlookup);
    fuse_reply_none(req);
}

void
cpfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        cpfs_inode_table_forget(cpfs_fs_of(req)->inodes, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

/* Replies to getattr of image ID, given node_attr's RC and ST.  While a job
 * serves it, its size is the job's, even with libvirt away (EIO) or its
 * checkpoint gone (no name links it then: nlink 0); the kernel passes no
 * handle to fstat's getattr.  Sizes change as jobs come and go: the kernel
 * keeps none. */
static void
reply_image_attr(fuse_req_t req, const CpfsNodeId *id, fuse_ino_t ino,
                 struct fuse_file_info *fi, int rc, struct stat *st)
{
    CpfsFs *fs = cpfs_fs_of(req);
    gint64 served = fi && fi->fh ? cpfs_fs_image_handle_size(fi->fh)
                                 : cpfs_fs_image_served_size(fs, id);

    if (rc < 0 && served < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    if (rc < 0) {
        cpfs_fs_fill_common(fs, st, ino, FALSE);
        cpfs_fs_fill_times(st, fs->mount_time);
        st->st_nlink = rc == -ENOENT ? 0 : 1;
        st->st_blocks = (served + 511) / 512;
    }
    if (served >= 0)
        st->st_size = served;
    fuse_reply_attr(req, st, 0);
}

void
cpfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_auto(CpfsNodeId) id = { 0 };
    struct stat st;
    int rc;

    if (!cpfs_fs_get_node(req, ino, &id))
        return;
    rc = node_attr(fs, &id, ino, &st);
    if (id.image) {
        reply_image_attr(req, &id, ino, fi, rc, &st);
        return;
    }
    if (rc == -ENOENT && !cpfs_node_is_dir(id.kind)) {
        /* An xml whose checkpoint is gone, still held by the kernel (fstat
         * of an open one: the kernel passes no handle then): no name links
         * it, and an open file serves the document it was opened with. */
        cpfs_fs_fill_common(fs, &st, ino, FALSE);
        if (fi && fi->fh)
            st.st_size = (off_t)((XmlHandle *)(uintptr_t)fi->fh)->len;
        else
            st.st_size = MAX(cpfs_pages_told_size(fs->inodes, ino), 0);
        st.st_blocks = (st.st_size + 511) / 512;
        st.st_nlink = 0;
        fuse_reply_attr(req, &st, 0);
        return;
    }
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    if (id.kind == CPFS_NODE_CHECKPOINT_XML)
        cpfs_pages_tell_size(fs->inodes, ino, st.st_size);
    fuse_reply_attr(req, &st, fs->kernel_timeout);
}

void
cpfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
    g_auto(CpfsNodeId) id = { 0 };
    g_autoptr(CpfsHost) host = NULL;

    if (!cpfs_fs_get_node(req, ino, &id))
        return;
    if (mask & W_OK) {
        host = cpfs_fs_host(cpfs_fs_of(req), &id);
        if (cpfs_fs_of(req)->readonly || (host && host->readonly))
            fuse_reply_err(req, EROFS);
        else if (!host)
            fuse_reply_err(req, EACCES);  /* the root of hosts: nothing is made there */
        else if (!cpfs_node_is_dir(id.kind))
            fuse_reply_err(req, EACCES);
        else
            fuse_reply_err(req, 0);
        return;
    }
    fuse_reply_err(req, 0);
}

void
cpfs_op_statfs(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED)
{
    struct statvfs sv = { 0 };

    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_namemax = CPFS_NAME_MAX;
    fuse_reply_statfs(req, &sv);
}
