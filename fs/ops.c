#include "fs/ops.h"
#include "util/log.h"
#include "model/names.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* The inode number shown for a node the kernel has not looked up yet. */
#define CPFS_UNKNOWN_INO 0xffffffffu

/* What an open xml file serves: one document, rendered at open. */
typedef struct {
    char *data;
    size_t len;
} XmlHandle;

typedef struct {
    char *name;
    CpfsNodeId id;
} DirEntry;

/* A directory listing, taken at opendir so that a reader paging through it
 * sees one consistent list. */
typedef struct {
    GArray *entries;           /* DirEntry; [0] is ".", [1] is ".." */
    CpfsCheckpointTree *tree;  /* the tree the entries came from, or NULL */
} DirHandle;

static CpfsFs *
fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static void
dir_entry_clear(DirEntry *e)
{
    g_free(e->name);
    cpfs_node_id_clear(&e->id);
}

static void
dir_handle_free(DirHandle *dh)
{
    g_array_unref(dh->entries);
    cpfs_checkpoint_tree_unref(dh->tree);
    g_free(dh);
}

static void
xml_handle_free(XmlHandle *xh)
{
    g_free(xh->data);
    g_free(xh);
}

void
cpfs_fs_init(CpfsFs *fs)
{
    g_mutex_init(&fs->handles_lock);
    fs->handles = g_hash_table_new(NULL, NULL);
}

void
cpfs_fs_clear(CpfsFs *fs)
{
    GHashTableIter it;
    gpointer handle, free_func;

    if (!fs->handles)
        return;
    g_hash_table_iter_init(&it, fs->handles);
    while (g_hash_table_iter_next(&it, &handle, &free_func))
        ((GDestroyNotify)free_func)(handle);
    g_clear_pointer(&fs->handles, g_hash_table_unref);
    g_mutex_clear(&fs->handles_lock);
}

static void
handle_track(CpfsFs *fs, gpointer handle, GDestroyNotify free_func)
{
    g_mutex_lock(&fs->handles_lock);
    g_hash_table_insert(fs->handles, handle, free_func);
    g_mutex_unlock(&fs->handles_lock);
}

/* Forgets HANDLE and frees it. */
static void
handle_release(CpfsFs *fs, gpointer handle)
{
    GDestroyNotify free_func = NULL;

    g_mutex_lock(&fs->handles_lock);
    free_func = g_hash_table_lookup(fs->handles, handle);
    g_hash_table_remove(fs->handles, handle);
    g_mutex_unlock(&fs->handles_lock);
    if (free_func)
        free_func(handle);
}

/* The visible checkpoint ID names in TREE, or NULL. */
static CpfsCheckpoint *
visible_checkpoint(CpfsCheckpointTree *tree, const char *name)
{
    CpfsCheckpoint *cp = cpfs_checkpoint_tree_lookup(tree, name);

    if (!cp)
        return NULL;
    return cpfs_checkpoint_tree_child(tree, cp->parent, name);
}

/* The checkpoint ID stands for: visible, and the same incarnation. */
static CpfsCheckpoint *
checkpoint_of(CpfsCheckpointTree *tree, const CpfsNodeId *id)
{
    CpfsCheckpoint *cp = visible_checkpoint(tree, id->checkpoint);

    if (cp && id->serial && cp->serial != id->serial)
        return NULL;  /* deleted, and another made under its name since */
    return cp;
}

static void
fill_times(struct stat *st, time_t t)
{
    st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = t;
}

static void
fill_common(CpfsFs *fs, struct stat *st, guint64 ino, gboolean is_dir)
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

/* Attributes of a checkpoint directory or its xml, from TREE. */
static int
checkpoint_attr(CpfsFs *fs, const CpfsNodeId *id, CpfsCheckpointTree *tree, guint64 ino,
                struct stat *st)
{
    CpfsCheckpoint *cp = checkpoint_of(tree, id);
    gboolean is_dir = id->kind == CPFS_NODE_CHECKPOINT;

    if (!cp)
        return -ENOENT;
    fill_common(fs, st, ino, is_dir);
    fill_times(st, (time_t)cp->creation_time);
    if (is_dir) {
        st->st_nlink = 2 + cp->children->len;
    } else {
        gint64 size = -1;
        int rc = 0;

        /* An earlier version of the document keeps the size it had: the
         * kernel may hold its pages, and an open file may still read them. */
        if (cp->doc_version != id->doc_version && ino && ino != CPFS_UNKNOWN_INO)
            size = cpfs_inode_table_noted_size(fs->inodes, ino);
        if (size < 0)
            rc = cpfs_view_checkpoint_xml_size(fs->view, id->domain, cp, &size);
        if (rc < 0)
            return rc;
        st->st_size = size;
        st->st_blocks = (size + 511) / 512;
    }
    return 0;
}

static int
node_attr(CpfsFs *fs, const CpfsNodeId *id, guint64 ino, struct stat *st)
{
    g_autoptr(CpfsDomainList) domains = NULL;
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    int rc;

    if (id->kind == CPFS_NODE_ROOT) {
        /* The root stays stat-able while libvirt is unreachable, so that
         * the mount itself never looks broken; only its link count needs
         * the domain list. */
        fill_common(fs, st, ino, TRUE);
        if (cpfs_view_domains(fs->view, &domains) == 0)
            st->st_nlink = 2 + cpfs_domain_list_names(domains)->len;
        fill_times(st, fs->mount_time);
        return 0;
    }

    if ((rc = cpfs_view_domains(fs->view, &domains)) < 0)
        return rc;
    if (!cpfs_domain_list_contains(domains, id->domain))
        return -ENOENT;
    if ((rc = cpfs_view_checkpoints(fs->view, id->domain, &tree)) < 0)
        return rc;

    switch (id->kind) {
    case CPFS_NODE_DOMAIN:
    case CPFS_NODE_DOMAIN_XML: {
        gint64 newest = cpfs_checkpoint_tree_newest(tree);

        fill_common(fs, st, ino, id->kind == CPFS_NODE_DOMAIN);
        fill_times(st, newest ? (time_t)newest : fs->mount_time);
        if (id->kind == CPFS_NODE_DOMAIN) {
            st->st_nlink = 2 + cpfs_checkpoint_tree_children(tree, NULL)->len;
        } else {
            gint64 size;

            if ((rc = cpfs_view_domain_xml_size(fs->view, id->domain, &size)) < 0)
                return rc;
            st->st_size = size;
            st->st_blocks = (size + 511) / 512;
        }
        return 0;
    }
    case CPFS_NODE_CHECKPOINT:
    case CPFS_NODE_CHECKPOINT_XML:
        return checkpoint_attr(fs, id, tree, ino, st);
    case CPFS_NODE_ROOT:
        break;
    }
    return -ENOENT;
}

/* Which node NAME is inside directory PARENT: 0, -ENOENT or -ENOTDIR. */
static int
resolve_child(CpfsFs *fs, const CpfsNodeId *parent, const char *name, CpfsNodeId *child)
{
    g_autoptr(CpfsDomainList) domains = NULL;
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    CpfsCheckpoint *at = NULL;
    CpfsCheckpoint *found;
    int rc;

    if (!cpfs_node_is_dir(parent->kind))
        return -ENOTDIR;
    if ((rc = cpfs_view_domains(fs->view, &domains)) < 0)
        return rc;

    if (parent->kind == CPFS_NODE_ROOT) {
        if (!cpfs_domain_list_contains(domains, name))
            return -ENOENT;
        child->kind = CPFS_NODE_DOMAIN;
        child->domain = g_strdup(name);
        return 0;
    }

    if (!cpfs_domain_list_contains(domains, parent->domain))
        return -ENOENT;
    if ((rc = cpfs_view_checkpoints(fs->view, parent->domain, &tree)) < 0)
        return rc;
    if (parent->kind == CPFS_NODE_CHECKPOINT) {
        at = checkpoint_of(tree, parent);
        if (!at)
            return -ENOENT;
    }

    if (strcmp(name, CPFS_XML_NAME) == 0) {
        child->kind = at ? CPFS_NODE_CHECKPOINT_XML : CPFS_NODE_DOMAIN_XML;
        child->domain = g_strdup(parent->domain);
        child->checkpoint = g_strdup(parent->checkpoint);
        child->serial = at ? at->serial : 0;
        child->doc_version = at ? at->doc_version : 0;
        return 0;
    }
    found = cpfs_checkpoint_tree_child(tree, at, name);
    if (!found)
        return -ENOENT;
    child->kind = CPFS_NODE_CHECKPOINT;
    child->domain = g_strdup(parent->domain);
    child->checkpoint = g_strdup(name);
    child->serial = found->serial;
    return 0;
}

static gboolean
get_node(fuse_req_t req, fuse_ino_t ino, CpfsNodeId *id)
{
    CpfsInodeTable *inodes = fs_of(req)->inodes;

    if (!cpfs_inode_table_get(inodes, ino, id)) {
        fuse_reply_err(req, ESTALE);
        return FALSE;
    }
    return TRUE;
}

/* Resolves NAME in directory PARENT into *CHILD; on failure replies with
 * the errno and returns FALSE. */
static gboolean
get_child(fuse_req_t req, fuse_ino_t parent, const char *name, CpfsNodeId *child)
{
    g_auto(CpfsNodeId) pid = { 0 };
    int rc;

    if (!get_node(req, parent, &pid))
        return FALSE;
    rc = resolve_child(fs_of(req), &pid, name, child);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return FALSE;
    }
    return TRUE;
}

/* The domain directory's time and link count follow its checkpoints: tell
 * the kernel after a change below it.  Only attributes are dropped, which
 * takes no directory lock, so this is safe inside mkdir and rmdir. */
static void
domain_attrs_changed(CpfsFs *fs, const char *domain)
{
    CpfsNodeId dom = { .kind = CPFS_NODE_DOMAIN, .domain = (char *)domain };
    guint64 ino = cpfs_inode_table_peek(fs->inodes, &dom);

    struct fuse_session *se = g_atomic_pointer_get(&fs->se);

    if (ino && se)
        fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
}

/* Answers with CHILD, whose attributes E holds, counting one lookup. */
static void
send_entry(fuse_req_t req, const CpfsNodeId *child, struct fuse_entry_param *e)
{
    CpfsFs *fs = fs_of(req);

    e->ino = cpfs_inode_table_ref(fs->inodes, child);
    e->attr.st_ino = e->ino;
    if (child->kind == CPFS_NODE_CHECKPOINT_XML)
        cpfs_inode_table_note_size(fs->inodes, e->ino, e->attr.st_size);
    e->generation = 0;
    e->entry_timeout = fs->kernel_timeout;
    e->attr_timeout = fs->kernel_timeout;
    if (fuse_reply_entry(req, e) != 0)
        cpfs_inode_table_forget(fs->inodes, e->ino, 1);
}

/* Answers a lookup-like request with CHILD, counting one lookup. */
static void
reply_entry(fuse_req_t req, const CpfsNodeId *child)
{
    CpfsFs *fs = fs_of(req);
    struct fuse_entry_param e = { 0 };
    guint64 ino = cpfs_inode_table_peek(fs->inodes, child);
    int rc = node_attr(fs, child, ino ? ino : CPFS_UNKNOWN_INO, &e.attr);

    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    send_entry(req, child, &e);
}

static void
op_init(void *userdata G_GNUC_UNUSED, struct fuse_conn_info *conn)
{
    /* Nothing is ever written. */
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    g_auto(CpfsNodeId) child = { 0 };

    if (get_child(req, parent, name, &child))
        reply_entry(req, &child);
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    cpfs_inode_table_forget(fs_of(req)->inodes, ino, nlookup);
    fuse_reply_none(req);
}

static void
op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        cpfs_inode_table_forget(fs_of(req)->inodes, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    g_auto(CpfsNodeId) id = { 0 };
    struct stat st;
    int rc;

    if (!get_node(req, ino, &id))
        return;
    rc = node_attr(fs_of(req), &id, ino, &st);
    if (rc == -ENOENT && fi && fi->fh && !cpfs_node_is_dir(id.kind)) {
        /* fstat of an open xml whose checkpoint is gone: the file still
         * serves the document it was opened with. */
        XmlHandle *xh = (XmlHandle *)(uintptr_t)fi->fh;

        fill_common(fs_of(req), &st, ino, FALSE);
        st.st_size = (off_t)xh->len;
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
        cpfs_inode_table_note_size(fs_of(req)->inodes, ino, st.st_size);
    fuse_reply_attr(req, &st, fs_of(req)->kernel_timeout);
}

static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr G_GNUC_UNUSED, int to_set,
           struct fuse_file_info *fi)
{
    CpfsFs *fs = fs_of(req);

    if (fs->readonly && to_set) {
        fuse_reply_err(req, EROFS);
        return;
    }
    /* A truncate asks to write; the rest asks to change metadata we do not own. */
    if (to_set & FUSE_SET_ATTR_SIZE) {
        fuse_reply_err(req, EACCES);
        return;
    }
    if (to_set) {
        fuse_reply_err(req, EPERM);
        return;
    }
    op_getattr(req, ino, fi);
}

static void
op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
    g_auto(CpfsNodeId) id = { 0 };

    if (!get_node(req, ino, &id))
        return;
    if (mask & W_OK) {
        if (fs_of(req)->readonly)
            fuse_reply_err(req, EROFS);
        else if (!cpfs_node_is_dir(id.kind))
            fuse_reply_err(req, EACCES);
        else
            fuse_reply_err(req, 0);
        return;
    }
    fuse_reply_err(req, 0);
}

static void
add_dir_entry(GArray *entries, const char *name, const CpfsNodeId *id)
{
    DirEntry e = { .name = g_strdup(name) };

    e.id.kind = id->kind;
    e.id.domain = g_strdup(id->domain);
    e.id.checkpoint = g_strdup(id->checkpoint);
    e.id.serial = id->serial;
    e.id.doc_version = id->doc_version;
    g_array_append_val(entries, e);
}

static int
build_listing(CpfsFs *fs, const CpfsNodeId *dir, DirHandle *dh)
{
    g_autoptr(CpfsDomainList) domains = NULL;
    CpfsCheckpoint *at = NULL;
    CpfsNodeId self = *dir;
    CpfsNodeId up = { .kind = CPFS_NODE_ROOT };
    GPtrArray *children;
    int rc;

    if ((rc = cpfs_view_domains(fs->view, &domains)) < 0)
        return rc;
    add_dir_entry(dh->entries, ".", &self);

    if (dir->kind == CPFS_NODE_ROOT) {
        GPtrArray *names = cpfs_domain_list_names(domains);

        add_dir_entry(dh->entries, "..", &up);
        for (guint i = 0; i < names->len; i++) {
            CpfsNodeId id = { .kind = CPFS_NODE_DOMAIN, .domain = names->pdata[i] };

            add_dir_entry(dh->entries, names->pdata[i], &id);
        }
        return 0;
    }

    if (!cpfs_domain_list_contains(domains, dir->domain))
        return -ENOENT;
    if ((rc = cpfs_view_checkpoints(fs->view, dir->domain, &dh->tree)) < 0)
        return rc;
    if (dir->kind == CPFS_NODE_CHECKPOINT) {
        at = checkpoint_of(dh->tree, dir);
        if (!at)
            return -ENOENT;
        if (at->parent) {
            up.kind = CPFS_NODE_CHECKPOINT;
            up.checkpoint = at->parent->name;
            up.serial = at->parent->serial;
        } else {
            up.kind = CPFS_NODE_DOMAIN;
        }
        up.domain = dir->domain;
    }
    add_dir_entry(dh->entries, "..", &up);

    {
        CpfsNodeId xml = {
            .kind = at ? CPFS_NODE_CHECKPOINT_XML : CPFS_NODE_DOMAIN_XML,
            .domain = dir->domain,
            .checkpoint = dir->checkpoint,
            .serial = at ? at->serial : 0,
            .doc_version = at ? at->doc_version : 0,
        };

        add_dir_entry(dh->entries, CPFS_XML_NAME, &xml);
    }
    children = cpfs_checkpoint_tree_children(dh->tree, at);
    for (guint i = 0; i < children->len; i++) {
        CpfsCheckpoint *cp = children->pdata[i];
        CpfsNodeId id = { .kind = CPFS_NODE_CHECKPOINT, .domain = dir->domain,
                          .checkpoint = cp->name, .serial = cp->serial };

        add_dir_entry(dh->entries, cp->name, &id);
    }
    return 0;
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    g_auto(CpfsNodeId) id = { 0 };
    DirHandle *dh;
    int rc;

    if (!get_node(req, ino, &id))
        return;
    if (!cpfs_node_is_dir(id.kind)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    dh = g_new0(DirHandle, 1);
    dh->entries = g_array_new(FALSE, TRUE, sizeof(DirEntry));
    g_array_set_clear_func(dh->entries, (GDestroyNotify)dir_entry_clear);
    rc = build_listing(fs_of(req), &id, dh);
    if (rc < 0) {
        dir_handle_free(dh);
        fuse_reply_err(req, -rc);
        return;
    }
    fi->fh = (uintptr_t)dh;
    handle_track(fs_of(req), dh, (GDestroyNotify)dir_handle_free);
    if (fuse_reply_open(req, fi) != 0)
        handle_release(fs_of(req), dh);
}

static mode_t
entry_type(const DirEntry *e)
{
    return cpfs_node_is_dir(e->id.kind) ? S_IFDIR : S_IFREG;
}

static void
do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, gboolean plus)
{
    CpfsFs *fs = fs_of(req);
    DirHandle *dh = (DirHandle *)(uintptr_t)fi->fh;
    g_autofree char *buf = g_malloc(size);
    size_t used = 0;

    for (guint i = (guint)MAX(off, 0); i < dh->entries->len; i++) {
        const DirEntry *e = &g_array_index(dh->entries, DirEntry, i);
        guint64 known = cpfs_inode_table_peek(fs->inodes, &e->id);
        struct fuse_entry_param ep = { 0 };
        size_t need;

        ep.attr.st_ino = known ? known : CPFS_UNKNOWN_INO;
        ep.attr.st_mode = entry_type(e);
        if (!plus) {
            need = fuse_add_direntry(req, buf + used, size - used, e->name, &ep.attr, i + 1);
            if (need > size - used)
                break;
            used += need;
            continue;
        }

        /* Full attributes only for checkpoint directories, which cost
         * nothing here; the rest (".", "..", xml, domains) the kernel looks
         * up when it needs them, so a walk never renders an XML document. */
        need = fuse_add_direntry_plus(req, NULL, 0, e->name, &ep, i + 1);
        if (need > size - used)
            break;
        if (e->id.kind == CPFS_NODE_CHECKPOINT && i >= 2 && dh->tree &&
            checkpoint_attr(fs, &e->id, dh->tree, 0, &ep.attr) == 0) {
            ep.ino = cpfs_inode_table_ref(fs->inodes, &e->id);
            ep.attr.st_ino = ep.ino;
            ep.entry_timeout = fs->kernel_timeout;
            ep.attr_timeout = fs->kernel_timeout;
        }
        used += fuse_add_direntry_plus(req, buf + used, size - used, e->name, &ep, i + 1);
    }
    fuse_reply_buf(req, buf, used);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size, off_t off,
           struct fuse_file_info *fi)
{
    do_readdir(req, size, off, fi, FALSE);
}

static void
op_readdirplus(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size, off_t off,
               struct fuse_file_info *fi)
{
    do_readdir(req, size, off, fi, TRUE);
}

static void
op_releasedir(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, struct fuse_file_info *fi)
{
    handle_release(fs_of(req), (DirHandle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

/* FNV-1a, never 0 (0 means "no document" to the inode table). */
static guint64
document_hash(const char *doc)
{
    guint64 h = G_GUINT64_CONSTANT(14695981039346656037);

    for (const unsigned char *p = (const unsigned char *)doc; *p; p++)
        h = (h ^ *p) * G_GUINT64_CONSTANT(1099511628211);
    return h | 1;
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    CpfsFs *fs = fs_of(req);
    g_auto(CpfsNodeId) id = { 0 };
    g_autofree char *xml = NULL;
    CpfsPagePolicy pages = CPFS_PAGES_BYPASS;
    XmlHandle *xh;
    int rc;

    if (!get_node(req, ino, &id))
        return;
    if (cpfs_node_is_dir(id.kind)) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, fs->readonly ? EROFS : EACCES);
        return;
    }
    if (id.kind == CPFS_NODE_DOMAIN_XML) {
        rc = cpfs_view_domain_xml(fs->view, id.domain, &xml);
    } else {
        g_autoptr(CpfsCheckpointTree) tree = NULL;

        /* The file belongs to one incarnation of the name. */
        CpfsCheckpoint *cp = NULL;

        rc = cpfs_view_checkpoints(fs->view, id.domain, &tree);
        if (rc == 0 && !(cp = checkpoint_of(tree, &id)))
            rc = -ENOENT;
        if (rc == 0)
            rc = cpfs_view_checkpoint_xml(fs->view, id.domain, cp, &xml);
        /* An earlier version's inode (the kernel has not looked the name up
         * again yet) serves today's document, around its page cache. */
        if (rc == 0 && cp->doc_version == id.doc_version)
            pages = cpfs_inode_table_open_document(fs->inodes, ino, (gint64)strlen(xml),
                                                   document_hash(xml));
    }
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    xh = g_new0(XmlHandle, 1);
    xh->len = strlen(xml);
    xh->data = g_steal_pointer(&xml);
    fi->fh = (uintptr_t)xh;
    /* A checkpoint's document is fixed for its inode, so the page cache may
     * keep it across opens; the domain's changes as the domain runs, so
     * its reads are served from this document, whatever size the kernel
     * last saw in stat. */
    fi->direct_io = pages == CPFS_PAGES_BYPASS;
    fi->keep_cache = pages == CPFS_PAGES_KEEP;
    /* Read-only: close(2) has nothing to flush, so spare it the round trip. */
    fi->noflush = 1;
    handle_track(fs, xh, (GDestroyNotify)xml_handle_free);
    if (fuse_reply_open(req, fi) != 0)
        handle_release(fs, xh);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size, off_t off,
        struct fuse_file_info *fi)
{
    XmlHandle *xh = (XmlHandle *)(uintptr_t)fi->fh;

    if (off < 0 || (size_t)off >= xh->len) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    size_t len = MIN(size, xh->len - (size_t)off);
    /* Reply from a copy this thread owns: once the kernel has the data, the
     * reader may close the file and another thread free the document while
     * writev is still returning (ASan would see that as a use after free). */
    g_autofree char *copy = g_memdup2(xh->data + off, len);

    fuse_reply_buf(req, copy, len);
}

static void
op_release(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, struct fuse_file_info *fi)
{
    handle_release(fs_of(req), (XmlHandle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode G_GNUC_UNUSED)
{
    CpfsFs *fs = fs_of(req);
    g_auto(CpfsNodeId) pid = { 0 };
    CpfsNodeId child = { 0 };
    struct fuse_entry_param e = { 0 };
    gint64 created = 0;
    guint64 serial = 0;
    int rc;

    if (!get_node(req, parent, &pid))
        return;
    if (fs->readonly) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (pid.kind == CPFS_NODE_ROOT) {
        cpfs_info("mkdir '%s' at the mount root refused: domains are not created here", name);
        fuse_reply_err(req, EPERM);
        return;
    }
    if (!cpfs_node_is_dir(pid.kind)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    rc = cpfs_name_check(name);
    if (rc < 0) {
        cpfs_info("domain '%s': mkdir '%.64s%s' refused: %s", pid.domain, name,
                  strlen(name) > 64 ? "..." : "",
                  rc == -ENAMETOOLONG ? "name longer than 247 bytes"
                  : rc == -EEXIST ? "'xml' is the name of the description file"
                  : "a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
        fuse_reply_err(req, -rc);
        return;
    }
    rc = cpfs_view_mkdir(fs->view, pid.domain, pid.checkpoint, pid.serial, name, &created, &serial);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    /* Answer from what was created, not from a new look at the tree: another
     * process may delete the checkpoint before we reply, and this mkdir did
     * succeed all the same. */
    child.kind = CPFS_NODE_CHECKPOINT;
    child.domain = pid.domain;
    child.checkpoint = (char *)name;
    child.serial = serial;
    fill_common(fs, &e.attr, 0, TRUE);
    fill_times(&e.attr, (time_t)created);
    domain_attrs_changed(fs, pid.domain);
    send_entry(req, &child, &e);
}

/* The inodes of the child directories of checkpoint ID the kernel knows. */
static GPtrArray *
children_of(CpfsFs *fs, const CpfsNodeId *id)
{
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    GPtrArray *inos = g_ptr_array_new();
    CpfsCheckpoint *cp;

    if (cpfs_view_checkpoints(fs->view, id->domain, &tree) < 0 ||
        !(cp = checkpoint_of(tree, id)))
        return inos;
    for (guint i = 0; i < cp->children->len; i++) {
        CpfsCheckpoint *c = cp->children->pdata[i];
        CpfsNodeId cid = { .kind = CPFS_NODE_CHECKPOINT, .domain = id->domain,
                           .checkpoint = c->name, .serial = c->serial };
        guint64 ino = cpfs_inode_table_peek(fs->inodes, &cid);

        if (ino)
            g_ptr_array_add(inos, GSIZE_TO_POINTER(ino));
    }
    return inos;
}

/* The xml of each directory in DIRS names another parent now, so it is
 * another inode: drop the kernel's entries, so that the next path lookup
 * finds it at once.  Call only after replying: this takes the directory
 * locks, which the request being answered may hold. */
static void
documents_changed(CpfsFs *fs, GPtrArray *dirs)
{
    struct fuse_session *se = g_atomic_pointer_get(&fs->se);

    for (guint i = 0; se && i < dirs->len; i++)
        fuse_lowlevel_notify_inval_entry(se, GPOINTER_TO_SIZE(dirs->pdata[i]), CPFS_XML_NAME,
                                         strlen(CPFS_XML_NAME));
}

static void
op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    CpfsFs *fs = fs_of(req);
    g_auto(CpfsNodeId) child = { 0 };
    int rc;

    if (fs->readonly) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (!get_child(req, parent, name, &child))
        return;
    switch (child.kind) {
    case CPFS_NODE_DOMAIN:
        cpfs_info("rmdir of domain '%s' refused: checkpointfs never undefines a domain",
                  name);
        fuse_reply_err(req, EPERM);
        return;
    case CPFS_NODE_CHECKPOINT: {
        g_autoptr(GPtrArray) moved = children_of(fs, &child);

        rc = cpfs_view_rmdir(fs->view, child.domain, child.checkpoint);
        if (rc == 0)
            domain_attrs_changed(fs, child.domain);
        fuse_reply_err(req, -rc);
        if (rc == 0)
            documents_changed(fs, moved);
        return;
    }
    default:
        fuse_reply_err(req, ENOTDIR);
        return;
    }
}

/* Refuses a change to the namespace other than mkdir and rmdir. */
static void
refuse_change(fuse_req_t req, const char *what)
{
    CpfsFs *fs = fs_of(req);

    cpfs_debug("%s refused", what);
    fuse_reply_err(req, fs->readonly ? EROFS : EPERM);
}

static void
op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    g_auto(CpfsNodeId) child = { 0 };

    if (!get_child(req, parent, name, &child))
        return;
    if (cpfs_node_is_dir(child.kind))
        fuse_reply_err(req, EISDIR);
    else
        refuse_change(req, "unlink");
}

static void
op_rename(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
          fuse_ino_t newparent G_GNUC_UNUSED, const char *newname G_GNUC_UNUSED,
          unsigned int flags G_GNUC_UNUSED)
{
    refuse_change(req, "rename");
}

static void
op_mknod(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
         mode_t mode G_GNUC_UNUSED, dev_t rdev G_GNUC_UNUSED)
{
    refuse_change(req, "mknod");
}

static void
op_create(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
          mode_t mode G_GNUC_UNUSED, struct fuse_file_info *fi G_GNUC_UNUSED)
{
    refuse_change(req, "create");
}

static void
op_symlink(fuse_req_t req, const char *link G_GNUC_UNUSED, fuse_ino_t parent G_GNUC_UNUSED,
           const char *name G_GNUC_UNUSED)
{
    refuse_change(req, "symlink");
}

static void
op_link(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, fuse_ino_t newparent G_GNUC_UNUSED,
        const char *newname G_GNUC_UNUSED)
{
    refuse_change(req, "link");
}

static void
op_write(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *buf G_GNUC_UNUSED,
         size_t size G_GNUC_UNUSED, off_t off G_GNUC_UNUSED,
         struct fuse_file_info *fi G_GNUC_UNUSED)
{
    /* Unreachable: no file is ever opened for writing. */
    fuse_reply_err(req, EBADF);
}

static void
op_flush(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, struct fuse_file_info *fi G_GNUC_UNUSED)
{
    fuse_reply_err(req, 0);
}

static void
op_fsync(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, int datasync G_GNUC_UNUSED,
         struct fuse_file_info *fi G_GNUC_UNUSED)
{
    /* libvirt has every change already; there is nothing to write back. */
    fuse_reply_err(req, 0);
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED)
{
    struct statvfs sv = { 0 };

    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_namemax = CPFS_NAME_MAX;
    fuse_reply_statfs(req, &sv);
}

static void
op_setxattr(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
            const char *value G_GNUC_UNUSED, size_t size G_GNUC_UNUSED,
            int flags G_GNUC_UNUSED)
{
    fuse_reply_err(req, fs_of(req)->readonly ? EROFS : ENOTSUP);
}

/* The one extended attribute: the root's count of libvirt calls so far, so
 * that tests and curious administrators can see what a walk costs. */
#define CPFS_XATTR_CALLS "user.checkpointfs.libvirt_calls"

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

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    g_autofree char *value = NULL;

    if (ino != CPFS_ROOT_INO || strcmp(name, CPFS_XATTR_CALLS) != 0) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    value = g_strdup_printf("%" G_GUINT64_FORMAT,
                            cpfs_view_calls(fs_of(req)->view));
    reply_xattr_value(req, value, strlen(value), size);
}

static void
op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    if (ino != CPFS_ROOT_INO)
        reply_xattr_value(req, "", 0, size);
    else
        reply_xattr_value(req, CPFS_XATTR_CALLS, sizeof(CPFS_XATTR_CALLS), size);
}

static void
op_removexattr(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *name G_GNUC_UNUSED)
{
    fuse_reply_err(req, fs_of(req)->readonly ? EROFS : ENODATA);
}

void
cpfs_fs_domain_event(const char *domain, CpfsDomainEvent event, void *opaque)
{
    CpfsFs *fs = opaque;
    CpfsNodeId xml = { .kind = CPFS_NODE_DOMAIN_XML, .domain = (char *)domain };
    struct fuse_session *se = g_atomic_pointer_get(&fs->se);
    guint64 ino;

    cpfs_view_domain_event(fs->view, domain, event);
    if (!se)
        return;
    if (event == CPFS_DOMAIN_CHANGED) {
        ino = cpfs_inode_table_peek(fs->inodes, &xml);
        if (ino)
            fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
        return;
    }
    /* The kernel may hold a dentry (or a negative one) for the name and the
     * root's link count: drop both so the change shows at once.  Errors
     * only mean the kernel had nothing cached. */
    fuse_lowlevel_notify_inval_entry(se, CPFS_ROOT_INO, domain, strlen(domain));
    fuse_lowlevel_notify_inval_inode(se, CPFS_ROOT_INO, -1, 0);
}

void
cpfs_fs_reconnected(void *opaque)
{
    CpfsFs *fs = opaque;

    struct fuse_session *se = g_atomic_pointer_get(&fs->se);

    cpfs_view_forget_all(fs->view);
    /* Entries the kernel holds expire within cache_timeout; the root's
     * attributes (its link count) go now. */
    if (se)
        fuse_lowlevel_notify_inval_inode(se, CPFS_ROOT_INO, -1, 0);
}

const struct fuse_lowlevel_ops cpfs_fs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .access = op_access,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
    .fsyncdir = op_fsync,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .release = op_release,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .unlink = op_unlink,
    .rename = op_rename,
    .mknod = op_mknod,
    .create = op_create,
    .symlink = op_symlink,
    .link = op_link,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
};
