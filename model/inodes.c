#include "model/inodes.h"

#include <string.h>

typedef struct {
    guint64 ino;
    guint64 nlookup;
    char *key;
    CpfsNodeId id;
    GList *idle_link;          /* in idle while made by assign and not looked up */
    gpointer payload;          /* the table user's, see cpfs_inode_table_with_payload */
    GDestroyNotify payload_destroy;
} InodeEntry;

struct _CpfsInodeTable {
    GMutex lock;
    guint64 next_ino;
    GHashTable *by_key;   /* key -> InodeEntry*, attached entries only */
    GHashTable *by_ino;   /* &ino -> InodeEntry*, owns the entries */
    GQueue idle;          /* InodeEntry*, most recently assigned first */
};

CpfsNodeId
cpfs_node_id_root(void)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_ROOT };
}

CpfsNodeId
cpfs_node_id_host(const char *host)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_HOST, .host = (char *)host };
}

CpfsNodeId
cpfs_node_id_domain(const char *host, const char *domain)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_DOMAIN, .host = (char *)host,
                         .domain = (char *)domain };
}

CpfsNodeId
cpfs_node_id_domain_xml(const char *host, const char *domain)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_DOMAIN_XML, .host = (char *)host,
                         .domain = (char *)domain };
}

CpfsNodeId
cpfs_node_id_checkpoint(const char *host, const char *domain, const char *checkpoint,
                        guint64 serial)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_CHECKPOINT, .host = (char *)host,
                         .domain = (char *)domain, .checkpoint = (char *)checkpoint,
                         .serial = serial };
}

CpfsNodeId
cpfs_node_id_checkpoint_xml(const char *host, const char *domain, const char *checkpoint,
                            guint64 serial, guint64 doc_version)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_CHECKPOINT_XML, .host = (char *)host,
                         .domain = (char *)domain, .checkpoint = (char *)checkpoint,
                         .serial = serial, .doc_version = doc_version };
}

CpfsNodeId
cpfs_node_id_domain_image(const char *host, const char *domain, const char *image)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_DOMAIN_IMAGE, .host = (char *)host,
                         .domain = (char *)domain, .image = (char *)image };
}

CpfsNodeId
cpfs_node_id_checkpoint_image(const char *host, const char *domain, const char *checkpoint,
                              guint64 serial, const char *image)
{
    return (CpfsNodeId){ .kind = CPFS_NODE_CHECKPOINT_IMAGE, .host = (char *)host,
                         .domain = (char *)domain, .checkpoint = (char *)checkpoint,
                         .serial = serial, .image = (char *)image };
}

void
cpfs_node_id_copy(CpfsNodeId *out, const CpfsNodeId *src)
{
    *out = *src;
    out->host = g_strdup(src->host);
    out->domain = g_strdup(src->domain);
    out->checkpoint = g_strdup(src->checkpoint);
    out->image = g_strdup(src->image);
}

void
cpfs_node_id_clear(CpfsNodeId *id)
{
    g_clear_pointer(&id->host, g_free);
    g_clear_pointer(&id->domain, g_free);
    g_clear_pointer(&id->checkpoint, g_free);
    g_clear_pointer(&id->image, g_free);
}

gboolean
cpfs_node_is_dir(CpfsNodeKind kind)
{
    return kind == CPFS_NODE_ROOT || kind == CPFS_NODE_HOST || kind == CPFS_NODE_DOMAIN
           || kind == CPFS_NODE_CHECKPOINT;
}

/* Names hold any byte but NUL, so NUL separates the parts of the key. */
static char *
node_key(const CpfsNodeId *id)
{
    GString *key = g_string_new(NULL);
    gsize len;

    g_string_append_c(key, (char)('0' + id->kind));
    g_string_append_c(key, '\0');
    if (id->host)
        g_string_append(key, id->host);
    g_string_append_c(key, '\0');
    if (id->domain)
        g_string_append(key, id->domain);
    g_string_append_c(key, '\0');
    if (id->checkpoint)
        g_string_append(key, id->checkpoint);
    g_string_append_c(key, '\0');
    if (id->image)
        g_string_append(key, id->image);
    g_string_append_c(key, '\0');
    g_string_append_len(key, (const char *)&id->serial, sizeof(id->serial));
    g_string_append_len(key, (const char *)&id->doc_version, sizeof(id->doc_version));
    len = key->len;
    /* Store the length up front so hashing and comparing see all parts. */
    g_string_prepend_len(key, (const char *)&len, sizeof(len));
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
    if (entry->payload && entry->payload_destroy)
        entry->payload_destroy(entry->payload);
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
    cpfs_node_id_copy(&entry->id, id);
    g_hash_table_insert(table->by_key, entry->key, entry);
    g_hash_table_insert(table->by_ino, &entry->ino, entry);
    return entry;
}

/* Removes ENTRY from the table and frees it; the lock is held. */
static void
entry_remove(CpfsInodeTable *table, InodeEntry *entry)
{
    guint64 ino = entry->ino;

    if (entry->idle_link)
        g_queue_delete_link(&table->idle, entry->idle_link);
    g_hash_table_remove(table->by_key, entry->key);
    g_hash_table_remove(table->by_ino, &ino);  /* frees the entry */
}

/* The entry of ID, created if needed; the lock is held. */
static InodeEntry *
entry_find_or_new(CpfsInodeTable *table, const CpfsNodeId *id, gboolean *created)
{
    char *key = node_key(id);
    InodeEntry *entry = g_hash_table_lookup(table->by_key, key);

    *created = entry == NULL;
    if (entry)
        g_free(key);
    else
        entry = entry_new(table, id, key);
    return entry;
}

CpfsInodeTable *
cpfs_inode_table_new(void)
{
    CpfsInodeTable *table = g_new0(CpfsInodeTable, 1);
    CpfsNodeId root = cpfs_node_id_root();

    g_mutex_init(&table->lock);
    g_queue_init(&table->idle);
    table->next_ino = CPFS_ROOT_INO;
    table->by_key = g_hash_table_new(key_hash, key_equal);
    table->by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                          (GDestroyNotify)entry_free);
    /* The kernel never forgets the root. */
    entry_new(table, &root, node_key(&root))->nlookup = 1;
    return table;
}

void
cpfs_inode_table_free(CpfsInodeTable *table)
{
    if (!table)
        return;
    g_queue_clear(&table->idle);
    g_hash_table_unref(table->by_key);
    g_hash_table_unref(table->by_ino);
    g_mutex_clear(&table->lock);
    g_free(table);
}

guint64
cpfs_inode_table_add_lookup(CpfsInodeTable *table, const CpfsNodeId *id)
{
    InodeEntry *entry;
    gboolean created;
    guint64 ino;

    g_mutex_lock(&table->lock);
    entry = entry_find_or_new(table, id, &created);
    if (entry->idle_link) {
        g_queue_delete_link(&table->idle, entry->idle_link);
        entry->idle_link = NULL;
    }
    entry->nlookup++;
    ino = entry->ino;
    g_mutex_unlock(&table->lock);
    return ino;
}

guint64
cpfs_inode_table_assign(CpfsInodeTable *table, const CpfsNodeId *id)
{
    InodeEntry *entry;
    gboolean created;
    guint64 ino;

    g_mutex_lock(&table->lock);
    entry = entry_find_or_new(table, id, &created);
    ino = entry->ino;
    if (entry->idle_link) {
        /* Shown again: the most recent now. */
        g_queue_unlink(&table->idle, entry->idle_link);
        g_queue_push_head_link(&table->idle, entry->idle_link);
    } else if (created) {
        g_queue_push_head(&table->idle, entry);
        entry->idle_link = table->idle.head;
        if (table->idle.length > CPFS_INODES_IDLE_MAX)
            entry_remove(table, g_queue_peek_tail(&table->idle));
    }
    g_mutex_unlock(&table->lock);
    return ino;
}

guint64
cpfs_inode_table_peek(CpfsInodeTable *table, const CpfsNodeId *id)
{
    g_autofree char *key = node_key(id);
    InodeEntry *entry;
    guint64 ino = CPFS_INO_UNKNOWN;

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
    if (entry)
        cpfs_node_id_copy(out, &entry->id);
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
    /* An idle entry holds no lookup the kernel could forget. */
    if (entry && !entry->idle_link) {
        entry->nlookup -= MIN(nlookup, entry->nlookup);
        if (entry->nlookup == 0)
            entry_remove(table, entry);
    }
    g_mutex_unlock(&table->lock);
}

guint64
cpfs_inode_table_lookups(CpfsInodeTable *table, guint64 ino)
{
    InodeEntry *entry;
    guint64 n = 0;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_ino, &ino);
    if (entry)
        n = entry->nlookup;
    g_mutex_unlock(&table->lock);
    return n;
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

gboolean
cpfs_inode_table_with_payload(CpfsInodeTable *table, guint64 ino, CpfsInodePayloadFunc func,
                              gpointer data)
{
    InodeEntry *entry;

    g_mutex_lock(&table->lock);
    entry = g_hash_table_lookup(table->by_ino, &ino);
    if (entry)
        func(&entry->payload, &entry->payload_destroy, data);
    g_mutex_unlock(&table->lock);
    return entry != NULL;
}
