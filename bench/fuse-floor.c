/* fuse-floor: the FUSE floor for bench/run.  A minimal libfuse3 low-level
 * server that serves a fixed directory shape from memory, the least any
 * FUSE filesystem of that shape must cost the kernel and a client.
 *
 *   fuse-floor -o shape=FILE[,cache_timeout=SECS][,hidden] [FUSE options] MOUNTPOINT
 *
 * FILE is what bench/libvirt-floor --shape writes:
 *   D <domain> <xml bytes>
 *   C <domain> <checkpoint> <parent or -> <xml bytes>
 * and the tree is the one checkpointfs shows for it: a directory per domain,
 * nested checkpoint directories, an `xml` file of the given size in each.
 *
 * Same kernel settings as checkpointfs: entry and attribute timeouts of
 * cache_timeout / 2 (default cache_timeout 1), readdirplus, multi-threaded
 * loop.  Unlike checkpointfs it hands full attributes for every entry in
 * readdirplus and lets the page cache keep file contents (keep_cache):
 * nothing here ever changes, which is the floor.
 *
 * With `hidden`, the checkpoint directories exist but are invisible until
 * mkdir names them at their place in the shape: the floor of "create all
 * by mkdir".  Every other change is refused with EPERM. */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <glib.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

typedef struct Node Node;
struct Node {
    fuse_ino_t ino;
    char *name;
    gboolean is_dir;
    Node *xml;              /* a directory's xml file */
    GPtrArray *children;    /* a directory's subdirectories, sorted by name */
    GHashTable *by_name;    /* name -> Node*, subdirectories and xml */
    size_t size;            /* a file's size */
    int visible;            /* atomic; 0 only for hidden checkpoints */
};

typedef struct {
    GPtrArray *nodes;       /* index = inode number; [0] unused */
    double timeout;         /* entry and attribute timeout */
    char *content;          /* the bytes every file serves from */
    size_t max_size;
    uid_t uid;
    gid_t gid;
    time_t mtime;
} Floor;

static Floor fl;

static Node *
node_new(const char *name, gboolean is_dir, size_t size)
{
    Node *n = g_new0(Node, 1);

    n->name = g_strdup(name);
    n->is_dir = is_dir;
    n->size = size;
    n->visible = 1;
    n->ino = fl.nodes->len;
    g_ptr_array_add(fl.nodes, n);
    if (is_dir) {
        n->children = g_ptr_array_new();
        n->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    }
    if (size > fl.max_size)
        fl.max_size = size;
    return n;
}

static Node *
dir_new(const char *name, size_t xml_size)
{
    Node *d = node_new(name, TRUE, 0);

    d->xml = node_new("xml", FALSE, xml_size);
    g_hash_table_insert(d->by_name, d->xml->name, d->xml);
    return d;
}

static void
dir_add(Node *parent, Node *child)
{
    g_ptr_array_add(parent->children, child);
    g_hash_table_insert(parent->by_name, child->name, child);
}

static gint
node_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(Node *const *)a)->name, (*(Node *const *)b)->name);
}

static void
sort_children(Node *d)
{
    g_ptr_array_sort(d->children, node_cmp);
    for (guint i = 0; i < d->children->len; i++)
        sort_children(d->children->pdata[i]);
}

typedef struct {
    char *domain, *name, *parent;
    size_t size;
} CpLine;

static int
load_shape(const char *path, gboolean hidden)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GHashTable) domains = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) cps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GArray *cplines = g_array_new(FALSE, TRUE, sizeof(CpLine));
    Node *root;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        fprintf(stderr, "fuse-floor: %s\n", err->message);
        return -1;
    }
    fl.nodes = g_ptr_array_new();
    g_ptr_array_add(fl.nodes, NULL);
    root = node_new("", TRUE, 0);
    root->ino = FUSE_ROOT_ID;

    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
        guint nf = g_strv_length(f);

        if (nf == 3 && strcmp(f[0], "D") == 0) {
            Node *d = dir_new(f[1], strtoull(f[2], NULL, 10));

            dir_add(root, d);
            g_hash_table_insert(domains, d->name, d);
        } else if (nf == 5 && strcmp(f[0], "C") == 0) {
            CpLine c = { g_strdup(f[1]), g_strdup(f[2]),
                         strcmp(f[3], "-") ? g_strdup(f[3]) : NULL,
                         strtoull(f[4], NULL, 10) };

            g_array_append_val(cplines, c);
        } else if (nf > 1) {
            fprintf(stderr, "fuse-floor: %s: bad line '%s'\n", path, *l);
            return -1;
        }
    }
    for (guint i = 0; i < cplines->len; i++) {
        CpLine *c = &g_array_index(cplines, CpLine, i);
        Node *n = dir_new(c->name, c->size);

        n->visible = n->xml->visible = !hidden;
        g_hash_table_insert(cps, g_strconcat(c->domain, "/", c->name, NULL), n);
    }
    for (guint i = 0; i < cplines->len; i++) {
        CpLine *c = &g_array_index(cplines, CpLine, i);
        g_autofree char *key = g_strconcat(c->domain, "/", c->name, NULL);
        Node *n = g_hash_table_lookup(cps, key);
        Node *parent;

        if (c->parent) {
            g_autofree char *pkey = g_strconcat(c->domain, "/", c->parent, NULL);

            parent = g_hash_table_lookup(cps, pkey);
        } else {
            parent = g_hash_table_lookup(domains, c->domain);
        }
        if (!parent) {
            fprintf(stderr, "fuse-floor: %s: no parent for %s\n", path, key);
            return -1;
        }
        dir_add(parent, n);
        g_free(c->domain);
        g_free(c->name);
        g_free(c->parent);
    }
    g_array_unref(cplines);
    sort_children(root);

    fl.content = g_malloc(fl.max_size + 1);
    for (size_t i = 0; i < fl.max_size; i++)
        fl.content[i] = i % 64 == 63 ? '\n' : "<domaincheckpoint/>"[i % 19];
    return 0;
}

static Node *
node_of(fuse_ino_t ino)
{
    if (ino == 0 || ino >= fl.nodes->len)
        return NULL;
    return fl.nodes->pdata[ino];
}

static gboolean
visible(Node *n)
{
    return __atomic_load_n(&n->visible, __ATOMIC_ACQUIRE);
}

static void
fill_attr(Node *n, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = n->ino;
    st->st_uid = fl.uid;
    st->st_gid = fl.gid;
    st->st_blksize = 4096;
    st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = fl.mtime;
    if (n->is_dir) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        for (guint i = 0; i < n->children->len; i++)
            st->st_nlink += visible(n->children->pdata[i]) ? 1 : 0;
    } else {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
        st->st_size = (off_t)n->size;
        st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
    }
}

static void
fill_entry(Node *n, struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = n->ino;
    e->entry_timeout = fl.timeout;
    e->attr_timeout = fl.timeout;
    fill_attr(n, &e->attr);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    Node *p = node_of(parent), *n;
    struct fuse_entry_param e;

    if (!p || !p->is_dir) {
        fuse_reply_err(req, p ? ENOTDIR : ESTALE);
        return;
    }
    n = g_hash_table_lookup(p->by_name, name);
    if (!n || !visible(n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill_entry(n, &e);
    fuse_reply_entry(req, &e);
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    (void)ino;
    (void)nlookup;
    fuse_reply_none(req);
}

static void
op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    (void)count;
    (void)forgets;
    fuse_reply_none(req);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    Node *n = node_of(ino);
    struct stat st;

    (void)fi;
    if (!n) {
        fuse_reply_err(req, ESTALE);
        return;
    }
    fill_attr(n, &st);
    fuse_reply_attr(req, &st, fl.timeout);
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    Node *n = node_of(ino);

    if (!n || !n->is_dir) {
        fuse_reply_err(req, n ? ENOTDIR : ESTALE);
        return;
    }
    fuse_reply_open(req, fi);
}

/* Entry I of directory D: 0 ".", 1 "..", 2 "xml" (not at the root), then the
 * subdirectories; NULL name past the end, NULL node for "." and "..". */
static const char *
dir_entry(Node *d, guint i, Node **n)
{
    guint first = d->xml ? 3 : 2;

    *n = NULL;
    if (i == 0)
        return ".";
    if (i == 1)
        return "..";
    if (i == 2 && d->xml) {
        *n = d->xml;
        return "xml";
    }
    if (i - first >= d->children->len)
        return NULL;
    *n = d->children->pdata[i - first];
    return (*n)->name;
}

static void
do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, gboolean plus)
{
    Node *d = node_of(ino), *n;
    g_autofree char *buf = g_malloc(size);
    size_t used = 0;
    const char *name;

    if (!d || !d->is_dir) {
        fuse_reply_err(req, d ? ENOTDIR : ESTALE);
        return;
    }
    for (guint i = (guint)MAX(off, 0); (name = dir_entry(d, i, &n)); i++) {
        struct fuse_entry_param e = { 0 };
        size_t need;

        if (n && !visible(n))
            continue;
        if (n)
            fill_entry(n, &e);
        else
            e.attr.st_mode = S_IFDIR;
        if (plus) {
            need = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
        } else {
            e.attr.st_ino = n ? n->ino : 0;
            need = fuse_add_direntry(req, buf + used, size - used, name, &e.attr, i + 1);
        }
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, FALSE);
}

static void
op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
               struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, TRUE);
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    Node *n = node_of(ino);

    if (!n) {
        fuse_reply_err(req, ESTALE);
        return;
    }
    if (n->is_dir) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EACCES);
        return;
    }
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    Node *n = node_of(ino);

    (void)fi;
    if (!n || off < 0 || (size_t)off >= n->size) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    fuse_reply_buf(req, fl.content + off, MIN(size, n->size - (size_t)off));
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    Node *p = node_of(parent), *n;
    struct fuse_entry_param e;

    (void)mode;
    if (!p || !p->is_dir) {
        fuse_reply_err(req, p ? ENOTDIR : ESTALE);
        return;
    }
    n = g_hash_table_lookup(p->by_name, name);
    if (!n || !n->is_dir) {
        fuse_reply_err(req, n ? EEXIST : EPERM);
        return;
    }
    if (__atomic_exchange_n(&n->visible, 1, __ATOMIC_ACQ_REL)) {
        fuse_reply_err(req, EEXIST);
        return;
    }
    __atomic_store_n(&n->xml->visible, 1, __ATOMIC_RELEASE);
    fill_entry(n, &e);
    fuse_reply_entry(req, &e);
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs sv = { 0 };

    (void)ino;
    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
}

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    (void)ino;
    (void)name;
    (void)size;
    fuse_reply_err(req, ENODATA);
}

static const struct fuse_lowlevel_ops floor_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .open = op_open,
    .read = op_read,
    .mkdir = op_mkdir,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
};

struct options {
    char *shape;
    double cache_timeout;
    int hidden;
};

#define OPT(t, p, v) { t, offsetof(struct options, p), v }
static const struct fuse_opt floor_opts[] = {
    OPT("shape=%s", shape, 0),
    OPT("cache_timeout=%lf", cache_timeout, 0),
    OPT("hidden", hidden, 1),
    FUSE_OPT_END
};

int
main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct options opts = { .cache_timeout = 1.0 };
    struct fuse_cmdline_opts cmd = { 0 };
    struct fuse_session *se;
    struct fuse_loop_config *loop;
    int ret = 1;

    if (fuse_opt_parse(&args, &opts, floor_opts, NULL) == -1 ||
        fuse_parse_cmdline(&args, &cmd) != 0)
        return 1;
    if (!opts.shape || !cmd.mountpoint) {
        fprintf(stderr, "usage: fuse-floor -o shape=FILE[,cache_timeout=SECS][,hidden] "
                        "[-f] [-s] MOUNTPOINT\n");
        return 1;
    }
    fl.timeout = opts.cache_timeout / 2;
    fl.uid = getuid();
    fl.gid = getgid();
    fl.mtime = time(NULL);
    if (load_shape(opts.shape, opts.hidden) < 0)
        return 1;

    se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), NULL);
    if (!se)
        return 1;
    if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, cmd.mountpoint) != 0)
        goto out;
    if (fuse_daemonize(cmd.foreground) != 0)
        goto out_unmount;
    if (cmd.singlethread) {
        ret = fuse_session_loop(se);
    } else {
        loop = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(loop, cmd.clone_fd);
        if (cmd.max_idle_threads != UINT_MAX)
            fuse_loop_cfg_set_idle_threads(loop, cmd.max_idle_threads);
        if (cmd.max_threads > 0 && cmd.max_threads <= 100000)
            fuse_loop_cfg_set_max_threads(loop, cmd.max_threads);
        ret = fuse_session_loop_mt(se, loop);
        fuse_loop_cfg_destroy(loop);
    }
    ret = ret < 0 ? 1 : 0;
 out_unmount:
    fuse_session_unmount(se);
 out:
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    free(cmd.mountpoint);
    fuse_opt_free_args(&args);
    return ret;
}
