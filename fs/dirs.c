/* Directories: listings for opendir, readdir and readdirplus. */
#include "fs/fs-internal.h"

#include <errno.h>
#include <string.h>

typedef struct {
    char *name;
    CpfsNodeId id;
} DirEntry;

/* A directory listing: a reader paging through it sees one consistent list;
 * a read from offset 0 after the first (rewinddir) lists afresh. */
typedef struct {
    CpfsNodeId dir;
    GArray *entries;           /* DirEntry; [0] is ".", [1] is ".." */
    CpfsCheckpointTree *tree;  /* the tree the entries came from, or NULL */
    CpfsHost *host;            /* referenced: listings fail once a reload removed it */
    gboolean fresh;            /* built by opendir, not yet read from 0 */
} DirHandle;

static void
dir_entry_clear(DirEntry *e)
{
    g_free(e->name);
    cpfs_node_id_clear(&e->id);
}

static void
dir_listing_clear(DirHandle *dh)
{
    g_clear_pointer(&dh->entries, g_array_unref);
    g_clear_pointer(&dh->tree, cpfs_checkpoint_tree_unref);
}

static void
dir_handle_free(DirHandle *dh)
{
    dir_listing_clear(dh);
    g_clear_pointer(&dh->host, cpfs_host_unref);
    cpfs_node_id_clear(&dh->dir);
    g_free(dh);
}

static void
add_dir_entry(GArray *entries, const char *name, const CpfsNodeId *id)
{
    DirEntry e = { .name = g_strdup(name) };

    cpfs_node_id_copy(&e.id, id);
    g_array_append_val(entries, e);
}

/* A host directory's entries: itself, and a directory per domain. */
static void
list_domains(DirHandle *dh, CpfsDomainList *domains)
{
    GPtrArray *names = cpfs_domain_list_names(domains);
    CpfsNodeId root = cpfs_node_id_root();

    add_dir_entry(dh->entries, ".", &dh->dir);
    add_dir_entry(dh->entries, "..", &root);
    for (guint i = 0; i < names->len; i++) {
        CpfsNodeId id = cpfs_node_id_domain(dh->dir.host, names->pdata[i]);

        add_dir_entry(dh->entries, names->pdata[i], &id);
    }
}

/* The root's entries of a hosts file's mount: a directory per host. */
static void
list_hosts(CpfsFs *fs, DirHandle *dh)
{
    g_autoptr(GPtrArray) names = cpfs_fleet_host_names(fs->fleet);

    add_dir_entry(dh->entries, ".", &dh->dir);
    add_dir_entry(dh->entries, "..", &dh->dir);
    for (guint i = 0; i < names->len; i++) {
        CpfsNodeId id = cpfs_node_id_host(names->pdata[i]);

        add_dir_entry(dh->entries, names->pdata[i], &id);
    }
}

/* Whether NAME is among the sorted IMAGES. */
static gboolean
is_image_name(GPtrArray *images, const char *name)
{
    return g_ptr_array_find_with_equal_func(images, name, g_str_equal, NULL);
}

/* Whether a checkpoint of CHILDREN has the form of an image file name. */
static gboolean
any_image_name(GPtrArray *children)
{
    for (guint i = 0; i < children->len; i++) {
        g_autofree char *disk = NULL;
        CpfsImageFormat format;

        if (cpfs_image_name_parse(((CpfsCheckpoint *)children->pdata[i])->name, &disk, &format))
            return TRUE;
    }
    return FALSE;
}

/* The entries of a domain or checkpoint directory AT (NULL: the domain):
 * its checkpoints, and its image files when they are listed.  A checkpoint
 * named like an image file of the directory is not listed (the name is the
 * file's), like one named xml. */
static void
list_checkpoints(CpfsFs *fs, DirHandle *dh, CpfsCheckpoint *at)
{
    g_autoptr(GPtrArray) images = NULL;
    const CpfsNodeId *dir = &dh->dir;
    CpfsNodeId up = cpfs_node_id_domain(dir->host, dir->domain);
    CpfsNodeId xml = cpfs_node_id_domain_xml(dir->host, dir->domain);
    GPtrArray *children = cpfs_checkpoint_tree_children(dh->tree, at);

    if (at && at->parent)
        up = cpfs_node_id_checkpoint(dir->host, dir->domain, at->parent->name,
                                     at->parent->serial);
    else if (!at)
        up = cpfs_fs_host_dir(dir->host);
    if (at)
        xml = cpfs_node_id_checkpoint_xml(dir->host, dir->domain, dir->checkpoint, at->serial,
                                          at->doc_version);
    /* Hidden files cost nothing unless a checkpoint may be named like one. */
    if (fs->backup_files == CPFS_BACKUP_FILES_VISIBLE || any_image_name(children))
        images = cpfs_fs_image_names(dh->host, dir, at);
    else
        images = g_ptr_array_new();
    add_dir_entry(dh->entries, ".", dir);
    add_dir_entry(dh->entries, "..", &up);
    add_dir_entry(dh->entries, CPFS_XML_NAME, &xml);
    for (guint i = 0; i < children->len; i++) {
        CpfsCheckpoint *cp = children->pdata[i];
        CpfsNodeId id = cpfs_node_id_checkpoint(dir->host, dir->domain, cp->name, cp->serial);

        if (is_image_name(images, cp->name)) {
            cpfs_fs_image_warn_hidden(fs, dir->host, dir->domain, cp->name);
            continue;
        }
        add_dir_entry(dh->entries, cp->name, &id);
    }
    for (guint i = 0; fs->backup_files == CPFS_BACKUP_FILES_VISIBLE && i < images->len; i++) {
        CpfsNodeId id = at ? cpfs_node_id_checkpoint_image(dir->host, dir->domain, at->name,
                                                           at->serial, images->pdata[i])
                           : cpfs_node_id_domain_image(dir->host, dir->domain,
                                                       images->pdata[i]);

        add_dir_entry(dh->entries, images->pdata[i], &id);
    }
}

/* (Re)builds DH's listing from the view's current state. */
static int
build_listing(CpfsFs *fs, DirHandle *dh)
{
    g_autoptr(CpfsDomainList) domains = NULL;
    CpfsCheckpoint *at = NULL;
    int rc;

    dir_listing_clear(dh);
    dh->entries = g_array_new(FALSE, TRUE, sizeof(DirEntry));
    g_array_set_clear_func(dh->entries, (GDestroyNotify)dir_entry_clear);
    if (cpfs_fs_lists_hosts(fs, &dh->dir)) {
        list_hosts(fs, dh);
        return 0;
    }
    /* A listing read again (rewinddir) stays with the host it began with. */
    if (!dh->host && !(dh->host = cpfs_fs_host(fs, &dh->dir)))
        return -ENOENT;  /* a reload removed its host */
    if (cpfs_host_removed(dh->host))
        return -EIO;
    if ((rc = cpfs_view_domains(dh->host->view, &domains)) < 0)
        return rc;
    if (cpfs_fs_is_host_dir(fs, &dh->dir)) {
        list_domains(dh, domains);
        return 0;
    }
    if (!cpfs_domain_list_contains(domains, dh->dir.domain))
        return -ENOENT;
    if ((rc = cpfs_view_checkpoints(dh->host->view, dh->dir.domain, &dh->tree)) < 0)
        return rc;
    if (dh->dir.kind == CPFS_NODE_CHECKPOINT && !(at = cpfs_fs_checkpoint_of(dh->tree, &dh->dir)))
        return -ENOENT;
    list_checkpoints(fs, dh, at);
    return 0;
}

void
cpfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    CpfsFs *fs = cpfs_fs_of(req);
    DirHandle *dh;
    int rc;

    dh = g_new0(DirHandle, 1);
    if (!cpfs_fs_get_node(req, ino, &dh->dir)) {
        dir_handle_free(dh);
        return;
    }
    if (!cpfs_node_is_dir(dh->dir.kind)) {
        dir_handle_free(dh);
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    rc = build_listing(fs, dh);
    if (rc < 0) {
        dir_handle_free(dh);
        fuse_reply_err(req, -rc);
        return;
    }
    dh->fresh = TRUE;
    fi->fh = (uintptr_t)dh;
    cpfs_fs_handle_track(fs, dh, (GDestroyNotify)dir_handle_free);
    if (fuse_reply_open(req, fi) != 0)
        cpfs_fs_handle_release(fs, dh);
}

/* Adds entry I of DH to BUF (SIZE bytes, USED taken); FALSE when full. */
static gboolean
add_to_reply(fuse_req_t req, DirHandle *dh, guint i, char *buf, size_t size, size_t *used,
             gboolean plus)
{
    CpfsFs *fs = cpfs_fs_of(req);
    const DirEntry *e = &g_array_index(dh->entries, DirEntry, i);
    struct fuse_entry_param ep = { 0 };
    size_t need;

    /* The number stat will show: the table keeps it for a while even if
     * the kernel never looks the name up. */
    ep.attr.st_ino = cpfs_inode_table_assign(fs->inodes, &e->id);
    ep.attr.st_mode = cpfs_node_is_dir(e->id.kind) ? S_IFDIR : S_IFREG;
    if (!plus) {
        need = fuse_add_direntry(req, buf + *used, size - *used, e->name, &ep.attr, i + 1);
        if (need > size - *used)
            return FALSE;
        *used += need;
        return TRUE;
    }
    /* Full attributes only for checkpoint directories, which cost nothing
     * here; the rest (".", "..", xml, domains) the kernel looks up when it
     * needs them, so a walk never renders an XML document. */
    need = fuse_add_direntry_plus(req, NULL, 0, e->name, &ep, i + 1);
    if (need > size - *used)
        return FALSE;
    if (e->id.kind == CPFS_NODE_CHECKPOINT && i >= 2 && dh->tree &&
        cpfs_fs_checkpoint_attr(fs, dh->host, &e->id, dh->tree, CPFS_INO_UNKNOWN,
                                &ep.attr) == 0) {
        if (dh->host->readonly)
            ep.attr.st_mode &= ~0222;
        ep.ino = cpfs_inode_table_add_lookup(fs->inodes, &e->id);
        ep.attr.st_ino = ep.ino;
        ep.entry_timeout = fs->kernel_timeout;
        ep.attr_timeout = fs->kernel_timeout;
    }
    *used += fuse_add_direntry_plus(req, buf + *used, size - *used, e->name, &ep, i + 1);
    return TRUE;
}

static void
do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, gboolean plus)
{
    DirHandle *dh = (DirHandle *)(uintptr_t)fi->fh;
    g_autofree char *buf = g_malloc(size);
    size_t used = 0;

    /* Its host left the fleet: what it listed may be anything by now. */
    if (dh->host && cpfs_host_removed(dh->host)) {
        fuse_reply_err(req, EIO);
        return;
    }
    /* POSIX: after rewinddir, readdir shows the directory as it is now. */
    if (off <= 0 && !dh->fresh) {
        int rc = build_listing(cpfs_fs_of(req), dh);

        if (rc < 0) {
            fuse_reply_err(req, -rc);
            return;
        }
    }
    dh->fresh = FALSE;
    for (guint i = (guint)MAX(off, 0); i < dh->entries->len; i++) {
        if (!add_to_reply(req, dh, i, buf, size, &used, plus))
            break;
    }
    fuse_reply_buf(req, buf, used);
}

void
cpfs_op_readdir(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size, off_t off,
                struct fuse_file_info *fi)
{
    do_readdir(req, size, off, fi, FALSE);
}

void
cpfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    do_readdir(req, size, off, fi, TRUE);
}

void
cpfs_op_releasedir(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, struct fuse_file_info *fi)
{
    cpfs_fs_handle_release(cpfs_fs_of(req), (DirHandle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}
