#include "fs/pages.h"

typedef struct {
    gint64 told_size;    /* -1: none told */
    guint64 doc_hash;    /* of the document the page cache may hold; 0 none */
    gboolean uncacheable;
} PageState;

/* The state of a payload slot, made on first use. */
static PageState *
page_state(gpointer *payload, GDestroyNotify *destroy)
{
    PageState *ps = *payload;

    if (!ps) {
        ps = g_new0(PageState, 1);
        ps->told_size = -1;
        *payload = ps;
        *destroy = g_free;
    }
    return ps;
}

static void
tell_size(gpointer *payload, GDestroyNotify *destroy, gpointer data)
{
    page_state(payload, destroy)->told_size = *(gint64 *)data;
}

void
cpfs_pages_tell_size(CpfsInodeTable *inodes, guint64 ino, gint64 size)
{
    cpfs_inode_table_with_payload(inodes, ino, tell_size, &size);
}

static void
read_told_size(gpointer *payload, GDestroyNotify *destroy G_GNUC_UNUSED, gpointer data)
{
    PageState *ps = *payload;

    *(gint64 *)data = ps ? ps->told_size : -1;
}

gint64
cpfs_pages_told_size(CpfsInodeTable *inodes, guint64 ino)
{
    gint64 size = -1;

    cpfs_inode_table_with_payload(inodes, ino, read_told_size, &size);
    return size;
}

typedef struct {
    gint64 len;
    guint64 hash;
    CpfsPagePolicy policy;
} OpenArgs;

static void
open_document(gpointer *payload, GDestroyNotify *destroy, gpointer data)
{
    PageState *ps = page_state(payload, destroy);
    OpenArgs *args = data;

    args->policy = CPFS_PAGES_BYPASS;
    if (ps->uncacheable || ps->told_size < 0) {
        /* nothing known: bypass, and keep whatever else holds */
    } else if (ps->told_size != args->len || (ps->doc_hash && ps->doc_hash != args->hash)) {
        /* The document changed under one version: the kernel's size or
         * pages are of another.  Rare (a redefinition from outside that
         * kept the parent); reading through the daemon is always right. */
        ps->uncacheable = TRUE;
    } else if (ps->doc_hash == args->hash) {
        args->policy = CPFS_PAGES_KEEP;
    } else {
        ps->doc_hash = args->hash;
        args->policy = CPFS_PAGES_REFILL;
    }
}

CpfsPagePolicy
cpfs_pages_open_document(CpfsInodeTable *inodes, guint64 ino, gint64 len, guint64 hash)
{
    OpenArgs args = { .len = len, .hash = hash, .policy = CPFS_PAGES_BYPASS };

    cpfs_inode_table_with_payload(inodes, ino, open_document, &args);
    return args.policy;
}

guint64
cpfs_pages_document_hash(const char *doc)
{
    guint64 h = G_GUINT64_CONSTANT(14695981039346656037);

    for (const unsigned char *p = (const unsigned char *)doc; *p; p++)
        h = (h ^ *p) * G_GUINT64_CONSTANT(1099511628211);
    return h | 1;
}
