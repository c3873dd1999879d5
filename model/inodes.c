#include "model/inodes.h"

#include <string.h>

typedef struct {
    guint64 ino;
    guint64 nlookup;
    char *key;
    CpfsNodeId id;
    gint64 noted_size;   /* -1: none told */
    guint64 doc_hash;    /* of the document the page cache may hold; 0 none */
    gboolean uncacheable;
} InodeEntry;

struct _CpfsInodeTable {
    GMutex lock;
    guint64 next_ino;
    GHashTable *by_key;   /* key -> InodeEntry*, attached entries only */
    GHashTable *by_ino;   /* &ino -> InodeEntry*, owns the entries */
};

void
cpfs_node_id_clear(CpfsNodeId *id)
{
    g_clear_pointer(&id->domain, g_free);
    g_clear_pointer(&id->checkpoint, g_free);
}

gboolean
cpfs_node_is_dir(CpfsNodeKind kind)
{
    return kind == CPFS_NODE_ROOT || kind == CPFS_NODE_DOMAIN || kind == CPFS_NODE_CHECKPOINT;
}

/* Names hold any byte but NUL, so NUL separates the parts of the key. */
static char *
node_key(const CpfsNodeId *id, gsize *len)
{
    GString *key = g_string_new(NULL);

    g_string_append_c(key, (char)('0' + id->kind));
    g_string_append_c(key, '\0');
    if (id->domain)
        g_string_append(key, id->domain);
    g_string_append_c(key, '\0');
    if (id->checkpoint)
        g_string_append(key, id->checkpoint);
    g_string_append_c(key, '\0');
    g_string_append_len(key, (const char *)&id->serial, sizeof(id->serial));
    g_string_append_len(key, (const char *)&id->doc_version, sizeof(id->doc_version));
    *len = key->len;
    /* Store the length up front so hashing and comparing see all parts. */
    g_string_prepend_len(key, (const char *)len, sizeof(*len));
    return g_string_free(key, FALSE);
}

static guint
key_hash(gconstpointer k)
{
    gsize len;
    const guchar *p = k;
    guint h = 5381;

    memcpy(&len, k, sizeof(len));
    for (gsize i = 0; i < len; i++)
        h = h * 33 + p[sizeof(len) + i];
    return h;
}

static gboolean
key_equal(gconstpointer a, gconstpointer b)
{
    gsize la, lb;

    memcpy(&la, a, sizeof(la));
    memcpy(&lb, b, sizeof(lb));
    return la == lb && memcmp((const char *)a + sizeof(la), (const char *)b + sizeof(lb), la) == 0;
}

static void
entry_free(InodeEntry *entry)
{
    cpfs_node_id_clear(&entry->id);
    g_free(entry->key);
    g_free(entry);
}

static InodeEntry *
entry_new(CpfsInodeTable *table, const CpfsNodeId *id, char *key)
{
    InodeEntry *entry = g_new0(InodeEntry, 1);

    entry->ino = table->next_ino++;
    entry->key = key;
    entry->id.kind = id->kind;
    entry->id.domain = g_strdup(id->domain);
    entry->id.checkpoint = g_strdup(id->checkpoint);
    entry->id.serial = id->serial;
    entry->id.doc_version = id->doc_version;
    entry->noted_size = -1;
    g_hash_table_insert(table->by_key, entry->key, entry);
    g_hash_table_insert(table->by_ino, &entry->ino, entry);
    return entry;
}

CpfsInodeTable *
cpfs_inode_table_new(void)
{
    CpfsInodeTable *table = g_new0(CpfsInodeTable, 1);
    CpfsNodeId root = { .kind = CPFS_NODE_ROOT };
    gsize len;

    g_mutex_init(&table->lock);
    table->next_ino = CPFS_ROOT_INO;
    table->by_key = g_hash_table_new(key_hash, key_equal);
    table->by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                          (GDestroyNotify)entry_free);
    /* The kernel never forgets the root. */
    entry_new(table, &root, node_key(&root, &len))->nlookup = 1;
    return table;
}

void
cpfs_inode_table_free(CpfsInodeTable *table)
{
    if (!table)
        return;
    g_hash_table_unref(table->by_key);
    g_hash_table_unref(table->by_ino);
    g_mutex_clear(&table->lock);
    g_free(table);
}

guint64
cpfs_inode_table_ref(CpfsInodeTable *table, const CpfsNodeId *id)
{
    gsize len;
    char *key = node_key(id, &len);
    InodeEntry *entry;
    guint64 ino;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_key, key);
    if (entry)
        g_free(key);
    else
        entry = entry_new(table, id, key);
    entry->nlookup++;
    ino = entry->ino;
    g_mutex_unlock(&table->lock);
    return ino;
}

guint64
cpfs_inode_table_peek(CpfsInodeTable *table, const CpfsNodeId *id)
{
    gsize len;
    g_autofree char *key = node_key(id, &len);
    InodeEntry *entry;
    guint64 ino = 0;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_key, key);
    if (entry)
        ino = entry->ino;
    g_mutex_unlock(&table->lock);
    return ino;
}

gboolean
cpfs_inode_table_get(CpfsInodeTable *table, guint64 ino, CpfsNodeId *out)
{
    InodeEntry *entry;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_ino, &ino);
    if (entry) {
        out->kind = entry->id.kind;
        out->domain = g_strdup(entry->id.domain);
        out->checkpoint = g_strdup(entry->id.checkpoint);
        out->serial = entry->id.serial;
        out->doc_version = entry->id.doc_version;
    }
    g_mutex_unlock(&table->lock);
    return entry != NULL;
}

void
cpfs_inode_table_forget(CpfsInodeTable *table, guint64 ino, guint64 nlookup)
{
    InodeEntry *entry;

    if (ino == CPFS_ROOT_INO)
        return;
    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_ino, &ino);
    if (entry) {
        entry->nlookup -= MIN(nlookup, entry->nlookup);
        if (entry->nlookup == 0) {
            g_hash_table_remove(table->by_key, entry->key);
            g_hash_table_remove(table->by_ino, &ino);  /* frees the entry */
        }
    }
    g_mutex_unlock(&table->lock);
}

guint
cpfs_inode_table_count(CpfsInodeTable *table)
{
    guint n;

    g_mutex_lock(&table->lock);
    n = g_hash_table_size(table->by_ino);
    g_mutex_unlock(&table->lock);
    return n;
}

void
cpfs_inode_table_note_size(CpfsInodeTable *table, guint64 ino, gint64 size)
{
    InodeEntry *entry;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_ino, &ino);
    if (entry)
        entry->noted_size = size;
    g_mutex_unlock(&table->lock);
}

gint64
cpfs_inode_table_noted_size(CpfsInodeTable *table, guint64 ino)
{
    InodeEntry *entry;
    gint64 size = -1;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_ino, &ino);
    if (entry)
        size = entry->noted_size;
    g_mutex_unlock(&table->lock);
    return size;
}

CpfsPagePolicy
cpfs_inode_table_open_document(CpfsInodeTable *table, guint64 ino, gint64 len, guint64 hash)
{
    CpfsPagePolicy policy = CPFS_PAGES_BYPASS;
    InodeEntry *entry;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_ino, &ino);
    if (!entry || entry->uncacheable || entry->noted_size < 0) {
        /* nothing known: bypass, and keep whatever else holds */
    } else if (entry->noted_size != len || (entry->doc_hash && entry->doc_hash != hash)) {
        /* The document changed under one version: the kernel's size or
         * pages are of another.  Rare (a redefinition from outside that
         * kept the parent); reading through the daemon is always right. */
        entry->uncacheable = TRUE;
    } else if (entry->doc_hash == hash) {
        policy = CPFS_PAGES_KEEP;
    } else {
        entry->doc_hash = hash;
        policy = CPFS_PAGES_REFILL;
    }
    g_mutex_unlock(&table->lock);
    return policy;
}
