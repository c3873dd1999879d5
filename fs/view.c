#include "fs/view.h"
#include "model/log.h"
#include "model/names.h"

#include <errno.h>
#include <string.h>

typedef struct {
    char *name;
    GMutex lock;            /* guards the fields below; held briefly */
    CpfsCheckpointTree *tree;
    gint64 tree_built;      /* monotonic µs */
    gint64 xml_size;        /* domain XML size, -1 unknown */
    gint64 xml_measured;
    gboolean warned_hidden;
    /* Held for a refresh and across mkdir/rmdir, so that a refresh that
     * started before a change cannot overwrite it with older news. */
    GMutex update;
} DomainState;

struct _CpfsView {
    CpfsDriver *drv;
    gint64 ttl;             /* µs a listing is trusted */
    GMutex lock;            /* guards domains, list, list_built, states */
    GMutex list_update;
    CpfsDomainList *list;
    gint64 list_built;
    GHashTable *states;     /* name -> DomainState* */

    /* Recently rendered checkpoint documents, so that the stat that measures
     * an xml file and the open that follows cost one render, and so does a
     * second read of the tree.  A checkpoint's XML changes only with its
     * parent, which is part of the key; entries expire like listings do.
     * At most XML_CACHE_BYTES are kept: when full, expired entries go and
     * new ones are not added, so that a walk larger than the cache still
     * finds its first part there next time (an LRU would find nothing). */
    GMutex xml_lock;
    GHashTable *xml_cache;  /* key -> XmlEntry*, owns them */
    GQueue xml_order;       /* keys, oldest first */
    gsize xml_bytes;        /* documents held */
};

#define XML_CACHE_BYTES (8u << 20)

typedef struct {
    char *xml;
    gint64 rendered;
} XmlEntry;

static void
xml_entry_free(XmlEntry *e)
{
    g_free(e->xml);
    g_free(e);
}

/* Name and creation time are one object (as for serials); the document
 * names the parent, so the parent is part of the key too. */
static char *
xml_key(const char *domain, const char *name, gint64 creation_time, const char *parent)
{
    return g_strdup_printf("%s/%s/%" G_GINT64_FORMAT "/%s", domain, name, creation_time,
                           parent ? parent : "");
}

static char *
xml_key_of(const char *domain, const CpfsCheckpoint *cp)
{
    return xml_key(domain, cp->name, cp->creation_time, cp->parent ? cp->parent->name : NULL);
}

static gboolean fresh(CpfsView *view, gint64 built);

/* Keeps XML under KEY, if there is room. */
static void
xml_cache_put(CpfsView *view, const char *key, const char *xml)
{
    gsize len = strlen(xml);
    XmlEntry *e;

    g_mutex_lock(&view->xml_lock);
    e = g_hash_table_lookup(view->xml_cache, key);
    if (e) {
        view->xml_bytes -= strlen(e->xml);
        g_free(e->xml);
    } else {
        /* Expired entries go first; room is made from them only. */
        while (!g_queue_is_empty(&view->xml_order)) {
            XmlEntry *old = g_hash_table_lookup(view->xml_cache,
                                                g_queue_peek_head(&view->xml_order));

            if (fresh(view, old->rendered))
                break;
            view->xml_bytes -= strlen(old->xml);
            g_hash_table_remove(view->xml_cache, g_queue_pop_head(&view->xml_order));
        }
        if (view->xml_bytes + len > XML_CACHE_BYTES) {
            g_mutex_unlock(&view->xml_lock);
            return;
        }
        e = g_new0(XmlEntry, 1);
        g_queue_push_tail(&view->xml_order, g_strdup(key));
        g_hash_table_insert(view->xml_cache, g_queue_peek_tail(&view->xml_order), e);
    }
    e->xml = g_strdup(xml);
    e->rendered = g_get_monotonic_time();
    view->xml_bytes += len;
    g_mutex_unlock(&view->xml_lock);
}

/* The listing reads every document: keep them for the stat and the open. */
static void
listed_document(const char *domain, const CpfsCheckpointRecord *rec, const char *xml,
                void *opaque)
{
    g_autofree char *key = xml_key(domain, rec->name, rec->creation_time, rec->parent);

    xml_cache_put(opaque, key, xml);
}

static void
domain_state_free(DomainState *st)
{
    cpfs_checkpoint_tree_unref(st->tree);
    g_mutex_clear(&st->lock);
    g_mutex_clear(&st->update);
    g_free(st->name);
    g_free(st);
}

CpfsView *
cpfs_view_new(CpfsDriver *drv, double cache_timeout)
{
    CpfsView *view = g_new0(CpfsView, 1);

    view->drv = drv;
    /* The kernel may cache an answer for half the timeout after we gave it
     * from a listing up to half the timeout old: together, at most the whole. */
    view->ttl = (gint64)(cache_timeout * G_USEC_PER_SEC / 2);
    g_mutex_init(&view->lock);
    g_mutex_init(&view->list_update);
    view->states = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)domain_state_free);
    g_mutex_init(&view->xml_lock);
    view->xml_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify)xml_entry_free);
    g_queue_init(&view->xml_order);
    return view;
}

void
cpfs_view_free(CpfsView *view)
{
    if (!view)
        return;
    g_hash_table_unref(view->states);
    g_queue_clear(&view->xml_order);  /* the keys belong to the table */
    g_hash_table_unref(view->xml_cache);
    g_mutex_clear(&view->xml_lock);
    cpfs_domain_list_unref(view->list);
    g_mutex_clear(&view->lock);
    g_mutex_clear(&view->list_update);
    g_free(view);
}

static gboolean
fresh(CpfsView *view, gint64 built)
{
    return built && g_get_monotonic_time() - built < view->ttl;
}

int
cpfs_view_domains(CpfsView *view, CpfsDomainList **list)
{
    g_autoptr(CpfsDomainList) stale = NULL;
    g_autoptr(GPtrArray) names = NULL;
    int rc;

    g_mutex_lock(&view->lock);
    if (view->list && fresh(view, view->list_built)) {
        *list = cpfs_domain_list_ref(view->list);
        g_mutex_unlock(&view->lock);
        return 0;
    }
    if (view->list)
        stale = cpfs_domain_list_ref(view->list);
    g_mutex_unlock(&view->lock);

    /* While one thread refreshes, the others keep using the older list. */
    if (stale && !g_mutex_trylock(&view->list_update)) {
        *list = g_steal_pointer(&stale);
        return 0;
    }
    if (!stale)
        g_mutex_lock(&view->list_update);

    g_mutex_lock(&view->lock);
    if (view->list && fresh(view, view->list_built)) {
        *list = cpfs_domain_list_ref(view->list);
        g_mutex_unlock(&view->lock);
        g_mutex_unlock(&view->list_update);
        return 0;
    }
    g_mutex_unlock(&view->lock);

    rc = cpfs_driver_list_domains(view->drv, &names);
    if (rc == 0) {
        CpfsDomainList *fresh_list = cpfs_domain_list_new(names);

        g_mutex_lock(&view->lock);
        cpfs_domain_list_unref(view->list);
        view->list = fresh_list;
        view->list_built = g_get_monotonic_time();
        *list = cpfs_domain_list_ref(fresh_list);
        g_mutex_unlock(&view->lock);
    }
    g_mutex_unlock(&view->list_update);
    return rc;
}

static DomainState *
domain_state(CpfsView *view, const char *domain)
{
    DomainState *st;

    g_mutex_lock(&view->lock);
    st = g_hash_table_lookup(view->states, domain);
    if (!st) {
        st = g_new0(DomainState, 1);
        st->name = g_strdup(domain);
        st->xml_size = -1;
        g_mutex_init(&st->lock);
        g_mutex_init(&st->update);
        g_hash_table_insert(view->states, st->name, st);
    }
    g_mutex_unlock(&view->lock);
    /* States live as long as the view, so the pointer stays valid. */
    return st;
}

/* Installs TREE as the domain's current one.  BUILT is when its contents
 * were read from libvirt (a tree derived from an older one keeps its age). */
static void
install_tree(DomainState *st, CpfsCheckpointTree *tree, gint64 built)
{
    gboolean warn = FALSE;

    g_mutex_lock(&st->lock);
    cpfs_checkpoint_tree_unref(st->tree);
    st->tree = tree;
    st->tree_built = built;
    if (cpfs_checkpoint_tree_has_hidden(tree) && !st->warned_hidden)
        warn = st->warned_hidden = TRUE;
    g_mutex_unlock(&st->lock);
    if (warn)
        cpfs_warn("domain '%s': a checkpoint is named '%s', which is the name of the "
                  "file in every directory; it and its children are not shown",
                  st->name, CPFS_XML_NAME);
}

/* Reads the domain's checkpoints from libvirt; call with st->update held. */
static int
refresh_tree(CpfsView *view, DomainState *st)
{
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(CpfsCheckpointTree) previous = NULL;
    gint64 started = g_get_monotonic_time();
    int rc = cpfs_driver_list_checkpoints(view->drv, st->name, &records, listed_document, view);

    if (rc < 0)
        return rc;
    g_mutex_lock(&st->lock);
    if (st->tree)
        previous = cpfs_checkpoint_tree_ref(st->tree);
    g_mutex_unlock(&st->lock);
    /* Checkpoints seen before keep their serials, hence their inodes. */
    install_tree(st, cpfs_checkpoint_tree_new_after(records, previous), started);
    return 0;
}

static CpfsCheckpointTree *
current_tree(DomainState *st, gboolean *is_fresh, CpfsView *view)
{
    CpfsCheckpointTree *tree = NULL;

    g_mutex_lock(&st->lock);
    if (st->tree)
        tree = cpfs_checkpoint_tree_ref(st->tree);
    *is_fresh = tree && fresh(view, st->tree_built);
    g_mutex_unlock(&st->lock);
    return tree;
}

int
cpfs_view_checkpoints(CpfsView *view, const char *domain, CpfsCheckpointTree **tree)
{
    DomainState *st = domain_state(view, domain);
    g_autoptr(CpfsCheckpointTree) have = NULL;
    gboolean is_fresh;
    int rc;

    have = current_tree(st, &is_fresh, view);
    if (is_fresh) {
        *tree = g_steal_pointer(&have);
        return 0;
    }
    if (have && !g_mutex_trylock(&st->update)) {
        *tree = g_steal_pointer(&have);
        return 0;
    }
    if (!have)
        g_mutex_lock(&st->update);

    g_clear_pointer(&have, cpfs_checkpoint_tree_unref);
    have = current_tree(st, &is_fresh, view);
    rc = is_fresh ? 0 : refresh_tree(view, st);
    if (rc == 0) {
        g_clear_pointer(&have, cpfs_checkpoint_tree_unref);
        have = current_tree(st, &is_fresh, view);
        *tree = g_steal_pointer(&have);
    }
    g_mutex_unlock(&st->update);
    return rc;
}

int
cpfs_view_domain_xml(CpfsView *view, const char *domain, char **xml)
{
    return cpfs_driver_domain_xml(view->drv, domain, xml);
}

guint64
cpfs_view_calls(CpfsView *view)
{
    return cpfs_driver_calls(view->drv);
}

int
cpfs_view_domain_xml_size(CpfsView *view, const char *domain, gint64 *size)
{
    DomainState *st = domain_state(view, domain);
    g_autofree char *xml = NULL;
    int rc;

    g_mutex_lock(&st->lock);
    if (st->xml_size >= 0 && fresh(view, st->xml_measured)) {
        *size = st->xml_size;
        g_mutex_unlock(&st->lock);
        return 0;
    }
    g_mutex_unlock(&st->lock);

    if ((rc = cpfs_driver_domain_xml(view->drv, domain, &xml)) < 0)
        return rc;
    *size = (gint64)strlen(xml);
    g_mutex_lock(&st->lock);
    st->xml_size = *size;
    st->xml_measured = g_get_monotonic_time();
    g_mutex_unlock(&st->lock);
    return 0;
}

int
cpfs_view_checkpoint_xml(CpfsView *view, const char *domain, CpfsCheckpoint *cp, char **xml)
{
    g_autofree char *key = xml_key_of(domain, cp);
    XmlEntry *e;
    int rc;

    g_mutex_lock(&view->xml_lock);
    e = g_hash_table_lookup(view->xml_cache, key);
    if (e && fresh(view, e->rendered)) {
        *xml = g_strdup(e->xml);
        g_mutex_unlock(&view->xml_lock);
        return 0;
    }
    g_mutex_unlock(&view->xml_lock);

    if ((rc = cpfs_driver_checkpoint_xml(view->drv, domain, cp->name, xml)) < 0)
        return rc;
    cpfs_checkpoint_set_xml_size(cp, (gint64)strlen(*xml));

    xml_cache_put(view, key, *xml);
    return 0;
}

int
cpfs_view_checkpoint_xml_size(CpfsView *view, const char *domain, CpfsCheckpoint *cp,
                              gint64 *size)
{
    g_autofree char *xml = NULL;
    gint64 known = cpfs_checkpoint_xml_size(cp);
    int rc;

    if (known >= 0) {
        *size = known;
        return 0;
    }
    if ((rc = cpfs_view_checkpoint_xml(view, domain, cp, &xml)) < 0)
        return rc;
    *size = (gint64)strlen(xml);
    return 0;
}

void
cpfs_view_domain_event(CpfsView *view, const char *domain, CpfsDomainEvent event)
{
    DomainState *st = domain_state(view, domain);

    if (event != CPFS_DOMAIN_CHANGED) {
        g_mutex_lock(&view->lock);
        /* Dropped, not just aged: no reader may go on with the old list. */
        g_clear_pointer(&view->list, cpfs_domain_list_unref);
        view->list_built = 0;
        g_mutex_unlock(&view->lock);
    }
    g_mutex_lock(&st->lock);
    st->xml_size = -1;
    /* A domain defined again under an old name may have other checkpoints.
     * The old tree stays only to carry serials over (same name and creation
     * time: same checkpoint). */
    if (event != CPFS_DOMAIN_CHANGED)
        st->tree_built = 0;
    g_mutex_unlock(&st->lock);
}

void
cpfs_view_forget_all(CpfsView *view)
{
    GHashTableIter iter;
    gpointer value;

    g_mutex_lock(&view->lock);
    g_clear_pointer(&view->list, cpfs_domain_list_unref);
    view->list_built = 0;
    g_hash_table_iter_init(&iter, view->states);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        DomainState *st = value;

        /* Aged, not dropped: the next listing carries serials over. */
        g_mutex_lock(&st->lock);
        st->tree_built = 0;
        st->xml_size = -1;
        g_mutex_unlock(&st->lock);
    }
    g_mutex_unlock(&view->lock);
}

int
cpfs_view_mkdir(CpfsView *view, const char *domain, const char *parent,
                guint64 parent_serial, const char *name, gint64 *creation_time,
                guint64 *serial)
{
    DomainState *st = domain_state(view, domain);
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    g_autoptr(CpfsCheckpointRecord) created = NULL;
    gboolean is_fresh;
    CpfsCheckpoint *at = NULL;
    gint64 built;
    int rc;

    g_mutex_lock(&st->update);
    tree = current_tree(st, &is_fresh, view);
    if (!tree) {
        if ((rc = refresh_tree(view, st)) < 0)
            goto out;
        tree = current_tree(st, &is_fresh, view);
    }

    if (cpfs_checkpoint_tree_lookup(tree, name)) {
        cpfs_info("domain '%s': mkdir '%s' refused: the domain has a checkpoint of that "
                  "name (names are unique per domain)", domain, name);
        rc = -EEXIST;
        goto out;
    }
    if (parent) {
        at = cpfs_checkpoint_tree_lookup(tree, parent);
        if (at && parent_serial && at->serial != parent_serial)
            at = NULL;  /* deleted, and another made under its name since */
        if (!at) {
            cpfs_info("domain '%s': mkdir '%s' failed: its directory '%s' is gone",
                      domain, name, parent);
            rc = -ENOENT;
            goto out;
        }
    }
    /* libvirt puts a new checkpoint below its hidden "current" one, which
     * is always a leaf here: a directory with child checkpoints never is. */
    if (cpfs_checkpoint_tree_children(tree, at)->len > 0 ||
        (!at && cpfs_checkpoint_tree_size(tree) > 0)) {
        cpfs_info("domain '%s': mkdir '%s' in '%s' refused: it has child checkpoints, "
                  "so libvirt would not make it the parent", domain, name,
                  parent ? parent : "(domain)");
        rc = -EPERM;
        goto out;
    }
    /* Our listing may lag behind changes made outside: ask libvirt.  libvirt
     * would refuse a duplicate by itself, but a harmless lookup first means
     * that a libvirtd which hangs is met before a create is sent to it, to
     * be carried out later while mkdir has reported EIO. */
    rc = cpfs_driver_checkpoint_exists(view->drv, domain, name);
    if (rc > 0)
        cpfs_info("domain '%s': mkdir '%s' refused: libvirt has a checkpoint of that "
                  "name (made outside the mount)", domain, name);
    if (rc != 0) {
        rc = rc > 0 ? -EEXIST : rc;
        goto out;
    }

    rc = cpfs_driver_checkpoint_create(view->drv, domain, name, parent, &created);
    if (rc < 0)
        goto out;
    if (!created) {
        /* Created, but its description could not be read back: find it in
         * a new listing and check its parent there. */
        CpfsCheckpoint *cp;

        g_clear_pointer(&tree, cpfs_checkpoint_tree_unref);
        if ((rc = refresh_tree(view, st)) < 0)
            goto out;
        tree = current_tree(st, &is_fresh, view);
        cp = cpfs_checkpoint_tree_lookup(tree, name);
        if (!cp) {
            cpfs_error("domain '%s': checkpoint '%s' vanished right after its creation",
                       domain, name);
            rc = -EIO;
        } else if (g_strcmp0(cp->parent ? cp->parent->name : NULL, parent) != 0) {
            cpfs_error("domain '%s': checkpoint '%s' got another parent than its "
                       "directory; deleting it again", domain, name);
            rc = cpfs_driver_checkpoint_delete(view->drv, domain, name);
            (void)refresh_tree(view, st);
            rc = rc < 0 ? rc : -EPERM;
        } else {
            *creation_time = cp->creation_time;
            *serial = cp->serial;
        }
        goto out;
    }
    *creation_time = created->creation_time;
    g_mutex_lock(&st->lock);
    built = st->tree_built;
    g_mutex_unlock(&st->lock);
    {
        CpfsCheckpointTree *grown = cpfs_checkpoint_tree_with_added(tree, created);

        *serial = cpfs_checkpoint_tree_lookup(grown, name)->serial;
        install_tree(st, grown, built);
    }
    cpfs_debug("domain '%s': created checkpoint '%s' (parent '%s')", domain, name,
               parent ? parent : "(none)");
 out:
    g_mutex_unlock(&st->update);
    return rc;
}

int
cpfs_view_rmdir(CpfsView *view, const char *domain, const char *name)
{
    DomainState *st = domain_state(view, domain);
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    gboolean is_fresh;
    gint64 built;
    int rc;

    g_mutex_lock(&st->update);
    rc = cpfs_driver_checkpoint_delete(view->drv, domain, name);
    if (rc == 0) {
        tree = current_tree(st, &is_fresh, view);
        g_mutex_lock(&st->lock);
        built = st->tree_built;
        g_mutex_unlock(&st->lock);
        if (tree)
            install_tree(st, cpfs_checkpoint_tree_with_removed(tree, name), built);
        cpfs_debug("domain '%s': deleted checkpoint '%s'", domain, name);
    } else if (rc == -ENOENT) {
        /* Gone already: drop it from our listing too. */
        (void)refresh_tree(view, st);
    }
    g_mutex_unlock(&st->update);
    return rc;
}
