#include "model/tree.h"
#include "model/names.h"

#include <errno.h>
#include <string.h>

/* Allocated with g_atomic_rc_box: immutable once built, shared by readers. */
struct _CpfsCheckpointTree {
    GHashTable *by_name;     /* name -> CpfsCheckpoint*, owns the nodes */
    GPtrArray *roots;        /* visible roots, sorted by name */
    gint64 newest;
    gboolean has_hidden;
};

CpfsCheckpointRecord *
cpfs_checkpoint_record_new(const char *name, const char *parent, gint64 creation_time)
{
    CpfsCheckpointRecord *rec = g_new0(CpfsCheckpointRecord, 1);

    rec->name = g_strdup(name);
    rec->parent = g_strdup(parent);
    rec->creation_time = creation_time;
    return rec;
}

void
cpfs_checkpoint_record_free(CpfsCheckpointRecord *rec)
{
    if (!rec)
        return;
    g_free(rec->name);
    g_free(rec->parent);
    g_free(rec);
}

GPtrArray *
cpfs_checkpoint_records_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)cpfs_checkpoint_record_free);
}

static void
checkpoint_free(CpfsCheckpoint *cp)
{
    g_free(cp->name);
    g_ptr_array_unref(cp->children);
    g_free(cp);
}

static gint
checkpoint_cmp(gconstpointer a, gconstpointer b)
{
    const CpfsCheckpoint *x = *(CpfsCheckpoint *const *)a;
    const CpfsCheckpoint *y = *(CpfsCheckpoint *const *)b;

    return strcmp(x->name, y->name);
}

/* Breaks parent loops (possible only in a corrupt listing) by making one
 * node of each loop a root.  Each node is walked once: linear time. */
static void
break_loops(GPtrArray *nodes)
{
    enum { UNSEEN, ON_PATH, DONE };
    g_autoptr(GHashTable) state = g_hash_table_new(NULL, NULL);
    g_autoptr(GPtrArray) path = g_ptr_array_new();

    for (guint i = 0; i < nodes->len; i++) {
        CpfsCheckpoint *cp = nodes->pdata[i];

        g_ptr_array_set_size(path, 0);
        while (cp && GPOINTER_TO_INT(g_hash_table_lookup(state, cp)) == UNSEEN) {
            g_hash_table_insert(state, cp, GINT_TO_POINTER(ON_PATH));
            g_ptr_array_add(path, cp);
            cp = cp->parent;
        }
        if (cp && GPOINTER_TO_INT(g_hash_table_lookup(state, cp)) == ON_PATH)
            ((CpfsCheckpoint *)path->pdata[path->len - 1])->parent = NULL;
        for (guint j = 0; j < path->len; j++)
            g_hash_table_insert(state, path->pdata[j], GINT_TO_POINTER(DONE));
    }
}

/* Serials are unique in the process, never reused. */
static guint64 next_serial = 1;

static guint64
new_serial(void)
{
    return __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED);
}

CpfsCheckpointTree *
cpfs_checkpoint_tree_new(GPtrArray *records)
{
    return cpfs_checkpoint_tree_new_after(records, NULL);
}

/* Carries serials over from FROM: same name and creation time is the same
 * object; its XML is the same version if its parent is. */
static void
tree_carry_over(CpfsCheckpointTree *from, GPtrArray *nodes)
{
    for (guint i = 0; i < nodes->len; i++) {
        CpfsCheckpoint *cp = nodes->pdata[i];
        CpfsCheckpoint *old = from ? g_hash_table_lookup(from->by_name, cp->name) : NULL;

        if (!old || old->creation_time != cp->creation_time) {
            cp->serial = new_serial();
            cp->doc_version = new_serial();
            continue;
        }
        cp->serial = old->serial;
        if (!g_strcmp0(old->parent ? old->parent->name : NULL,
                       cp->parent ? cp->parent->name : NULL))
            cp->doc_version = old->doc_version;
        else
            cp->doc_version = new_serial();
    }
}

CpfsCheckpointTree *
cpfs_checkpoint_tree_new_after(GPtrArray *records, CpfsCheckpointTree *previous)
{
    CpfsCheckpointTree *tree = g_atomic_rc_box_new0(CpfsCheckpointTree);
    g_autoptr(GPtrArray) nodes = g_ptr_array_new();      /* in record order */
    g_autoptr(GPtrArray) parents = g_ptr_array_new();    /* their parent names */
    g_autoptr(GPtrArray) pending = g_ptr_array_new();

    tree->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify)checkpoint_free);
    tree->roots = g_ptr_array_new();

    for (guint i = 0; records && i < records->len; i++) {
        const CpfsCheckpointRecord *rec = g_ptr_array_index(records, i);
        CpfsCheckpoint *cp;

        if (g_hash_table_contains(tree->by_name, rec->name))
            continue;  /* libvirt names are unique: the first record wins */
        cp = g_new0(CpfsCheckpoint, 1);
        cp->name = g_strdup(rec->name);
        cp->creation_time = rec->creation_time;
        cp->children = g_ptr_array_new();
        cp->hidden = strcmp(rec->name, CPFS_XML_NAME) == 0;
        tree->has_hidden |= cp->hidden;
        tree->newest = MAX(tree->newest, rec->creation_time);
        g_hash_table_insert(tree->by_name, cp->name, cp);
        g_ptr_array_add(nodes, cp);
        g_ptr_array_add(parents, rec->parent);
    }

    /* A parent missing from the listing (deleted between calls) makes the
     * node a root. */
    for (guint i = 0; i < nodes->len; i++) {
        CpfsCheckpoint *cp = nodes->pdata[i];
        const char *parent = parents->pdata[i];

        cp->parent = parent ? g_hash_table_lookup(tree->by_name, parent) : NULL;
    }
    break_loops(nodes);
    tree_carry_over(previous, nodes);

    for (guint i = 0; i < nodes->len; i++) {
        CpfsCheckpoint *cp = nodes->pdata[i];

        if (!cp->hidden)
            g_ptr_array_add(cp->parent ? cp->parent->children : tree->roots, cp);
    }

    /* Visible: reachable from the roots through nodes that are not hidden.
     * Computed once, so that a lookup costs the same at any depth. */
    g_ptr_array_extend(pending, tree->roots, NULL, NULL);
    while (pending->len > 0) {
        CpfsCheckpoint *cp = g_ptr_array_steal_index_fast(pending, pending->len - 1);

        cp->visible = TRUE;
        g_ptr_array_sort(cp->children, checkpoint_cmp);
        g_ptr_array_extend(pending, cp->children, NULL, NULL);
    }
    g_ptr_array_sort(tree->roots, checkpoint_cmp);
    return tree;
}

CpfsCheckpointTree *
cpfs_checkpoint_tree_ref(CpfsCheckpointTree *tree)
{
    return g_atomic_rc_box_acquire(tree);
}

static void
tree_clear(CpfsCheckpointTree *tree)
{
    g_ptr_array_unref(tree->roots);
    g_hash_table_unref(tree->by_name);
}

void
cpfs_checkpoint_tree_unref(CpfsCheckpointTree *tree)
{
    if (tree)
        g_atomic_rc_box_release_full(tree, (GDestroyNotify)tree_clear);
}

guint
cpfs_checkpoint_tree_size(CpfsCheckpointTree *tree)
{
    return g_hash_table_size(tree->by_name);
}

CpfsCheckpoint *
cpfs_checkpoint_tree_lookup(CpfsCheckpointTree *tree, const char *name)
{
    return g_hash_table_lookup(tree->by_name, name);
}

GPtrArray *
cpfs_checkpoint_tree_children(CpfsCheckpointTree *tree, CpfsCheckpoint *cp)
{
    return cp ? cp->children : tree->roots;
}

CpfsCheckpoint *
cpfs_checkpoint_tree_child(CpfsCheckpointTree *tree, CpfsCheckpoint *cp, const char *name)
{
    CpfsCheckpoint *child = g_hash_table_lookup(tree->by_name, name);

    if (!child || !child->visible || child->parent != cp)
        return NULL;
    return child;
}

gint64
cpfs_checkpoint_tree_newest(CpfsCheckpointTree *tree)
{
    return tree->newest;
}

gboolean
cpfs_checkpoint_tree_has_hidden(CpfsCheckpointTree *tree)
{
    return tree->has_hidden;
}

static GPtrArray *
tree_records(CpfsCheckpointTree *tree)
{
    GPtrArray *records = cpfs_checkpoint_records_new();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, tree->by_name);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const CpfsCheckpoint *cp = value;

        g_ptr_array_add(records, cpfs_checkpoint_record_new(
                            cp->name, cp->parent ? cp->parent->name : NULL,
                            cp->creation_time));
    }
    return records;
}

CpfsCheckpointTree *
cpfs_checkpoint_tree_with_added(CpfsCheckpointTree *tree, const CpfsCheckpointRecord *rec)
{
    g_autoptr(GPtrArray) records = tree_records(tree);
    CpfsCheckpointTree *result;

    g_ptr_array_add(records, cpfs_checkpoint_record_new(rec->name, rec->parent,
                                                        rec->creation_time));
    result = cpfs_checkpoint_tree_new_after(records, tree);
    return result;
}

CpfsCheckpointTree *
cpfs_checkpoint_tree_with_removed(CpfsCheckpointTree *tree, const char *name)
{
    g_autoptr(GPtrArray) records = cpfs_checkpoint_records_new();
    CpfsCheckpoint *gone = g_hash_table_lookup(tree->by_name, name);
    const char *grandparent = gone && gone->parent ? gone->parent->name : NULL;
    GHashTableIter iter;
    gpointer value;
    CpfsCheckpointTree *result;

    g_hash_table_iter_init(&iter, tree->by_name);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const CpfsCheckpoint *cp = value;
        const char *parent = cp->parent ? cp->parent->name : NULL;

        if (cp == gone)
            continue;
        if (gone && cp->parent == gone)
            parent = grandparent;
        g_ptr_array_add(records, cpfs_checkpoint_record_new(cp->name, parent,
                                                            cp->creation_time));
    }
    result = cpfs_checkpoint_tree_new_after(records, tree);
    return result;
}

int
cpfs_checkpoint_tree_resolve(CpfsCheckpointTree *tree, const char *path,
                             CpfsCheckpoint **cp, gboolean *is_xml)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    CpfsCheckpoint *at = NULL;
    gboolean xml = FALSE;

    for (char **part = parts; *part; part++) {
        if (!**part || strcmp(*part, ".") == 0)
            continue;
        if (xml)
            return -ENOTDIR;
        if (strcmp(*part, "..") == 0) {
            at = at ? at->parent : NULL;
            continue;
        }
        if (strcmp(*part, CPFS_XML_NAME) == 0) {
            xml = TRUE;
            continue;
        }
        at = cpfs_checkpoint_tree_child(tree, at, *part);
        if (!at)
            return -ENOENT;
    }
    *cp = at;
    *is_xml = xml;
    return 0;
}

static gint
name_ptr_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Allocated with g_atomic_rc_box, like trees. */
struct _CpfsDomainList {
    GPtrArray *names;
    GHashTable *set;
};

CpfsDomainList *
cpfs_domain_list_new(GPtrArray *names)
{
    CpfsDomainList *list = g_atomic_rc_box_new0(CpfsDomainList);

    list->names = g_ptr_array_new_with_free_func(g_free);
    list->set = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; names && i < names->len; i++) {
        char *name = g_strdup(g_ptr_array_index(names, i));

        if (g_hash_table_contains(list->set, name)) {
            g_free(name);
            continue;
        }
        g_ptr_array_add(list->names, name);
        g_hash_table_add(list->set, name);
    }
    g_ptr_array_sort(list->names, name_ptr_cmp);
    return list;
}

CpfsDomainList *
cpfs_domain_list_ref(CpfsDomainList *list)
{
    return g_atomic_rc_box_acquire(list);
}

static void
domain_list_clear(CpfsDomainList *list)
{
    g_hash_table_unref(list->set);
    g_ptr_array_unref(list->names);
}

void
cpfs_domain_list_unref(CpfsDomainList *list)
{
    if (list)
        g_atomic_rc_box_release_full(list, (GDestroyNotify)domain_list_clear);
}

gboolean
cpfs_domain_list_contains(CpfsDomainList *list, const char *name)
{
    return g_hash_table_contains(list->set, name);
}

GPtrArray *
cpfs_domain_list_names(CpfsDomainList *list)
{
    return list->names;
}
