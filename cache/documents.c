#include "cache/documents.h"

#include <string.h>

typedef struct {
    char *key;
    char *text;        /* NULL when only the size is kept */
    gint64 size;
    gint64 put;        /* monotonic µs */
    GList link;        /* in order, data = the entry */
} Entry;

struct _CpfsDocuments {
    gint64 ttl;
    gsize max_bytes;
    GMutex lock;       /* guards all below */
    GHashTable *by_key;  /* key -> Entry*, owns them */
    GQueue order;      /* of Entry.link: oldest put first */
    gsize bytes;       /* of texts held */
};

static void
entry_free(Entry *e)
{
    g_free(e->key);
    g_free(e->text);
    g_free(e);
}

CpfsDocuments *
cpfs_documents_new(gint64 ttl_us, gsize max_bytes)
{
    CpfsDocuments *docs = g_new0(CpfsDocuments, 1);

    docs->ttl = ttl_us;
    docs->max_bytes = max_bytes;
    g_mutex_init(&docs->lock);
    docs->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)entry_free);
    g_queue_init(&docs->order);
    return docs;
}

void
cpfs_documents_free(CpfsDocuments *docs)
{
    if (!docs)
        return;
    g_hash_table_unref(docs->by_key);  /* the queue's links live in the entries */
    g_mutex_clear(&docs->lock);
    g_free(docs);
}

static gboolean
fresh(CpfsDocuments *docs, const Entry *e, gint64 now)
{
    return now - e->put < docs->ttl;
}

/* Drops E; call with docs->lock held. */
static void
drop(CpfsDocuments *docs, Entry *e)
{
    if (e->text)
        docs->bytes -= (gsize)e->size;
    g_queue_unlink(&docs->order, &e->link);
    g_hash_table_remove(docs->by_key, e->key);
}

/* Drops expired entries: the oldest puts are at the head, since a put moves
 * its entry to the tail. */
static void
drop_expired(CpfsDocuments *docs, gint64 now)
{
    while (docs->order.head && !fresh(docs, docs->order.head->data, now))
        drop(docs, docs->order.head->data);
}

void
cpfs_documents_put(CpfsDocuments *docs, const char *key, const char *xml)
{
    gint64 now = g_get_monotonic_time();
    gsize len = strlen(xml);
    Entry *e;

    g_mutex_lock(&docs->lock);
    drop_expired(docs, now);
    e = g_hash_table_lookup(docs->by_key, key);
    if (e)
        drop(docs, e);
    e = g_new0(Entry, 1);
    e->key = g_strdup(key);
    e->size = (gint64)len;
    e->put = now;
    e->link.data = e;
    if (docs->bytes + len <= docs->max_bytes) {
        e->text = g_strdup(xml);
        docs->bytes += len;
    }
    g_hash_table_insert(docs->by_key, e->key, e);
    g_queue_push_tail_link(&docs->order, &e->link);
    g_mutex_unlock(&docs->lock);
}

/* KEY's entry if fresh; call with docs->lock held. */
static Entry *
lookup_fresh(CpfsDocuments *docs, const char *key)
{
    Entry *e = g_hash_table_lookup(docs->by_key, key);

    return e && fresh(docs, e, g_get_monotonic_time()) ? e : NULL;
}

char *
cpfs_documents_get(CpfsDocuments *docs, const char *key)
{
    char *text = NULL;
    Entry *e;

    g_mutex_lock(&docs->lock);
    e = lookup_fresh(docs, key);
    if (e && e->text)
        text = g_strdup(e->text);
    g_mutex_unlock(&docs->lock);
    return text;
}

gboolean
cpfs_documents_size(CpfsDocuments *docs, const char *key, gint64 *size)
{
    Entry *e;

    g_mutex_lock(&docs->lock);
    e = lookup_fresh(docs, key);
    if (e)
        *size = e->size;
    g_mutex_unlock(&docs->lock);
    return e != NULL;
}

void
cpfs_documents_forget_prefix(CpfsDocuments *docs, const char *prefix)
{
    GList *l, *next;

    g_mutex_lock(&docs->lock);
    for (l = docs->order.head; l; l = next) {
        Entry *e = l->data;

        next = l->next;
        if (g_str_has_prefix(e->key, prefix))
            drop(docs, e);
    }
    g_mutex_unlock(&docs->lock);
}

void
cpfs_documents_clear(CpfsDocuments *docs)
{
    cpfs_documents_forget_prefix(docs, "");
}

guint
cpfs_documents_count(CpfsDocuments *docs)
{
    guint n;

    g_mutex_lock(&docs->lock);
    n = g_hash_table_size(docs->by_key);
    g_mutex_unlock(&docs->lock);
    return n;
}

gsize
cpfs_documents_bytes(CpfsDocuments *docs)
{
    gsize n;

    g_mutex_lock(&docs->lock);
    n = docs->bytes;
    g_mutex_unlock(&docs->lock);
    return n;
}
