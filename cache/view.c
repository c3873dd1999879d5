/* The view's reads: the domain list, checkpoint trees and documents, and
 * what events make stale.  Locks: see view-internal.h. */
#include "cache/view-internal.h"
#include "model/names.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>

/* Rendered documents kept at most (their sizes are kept beyond it). */
#define DOCUMENT_CACHE_BYTES (8u << 20)

CpfsView *
cpfs_view_new(CpfsDriver *drv, double cache_timeout)
{
    CpfsView *view = g_new0(CpfsView, 1);

    view->drv = drv;
    /* The kernel may cache an answer for half the timeout after we gave it
     * from a listing up to half the timeout old: together, at most the whole. */
    view->ttl = (gint64)(cache_timeout * G_USEC_PER_SEC / 2);
    view->docs = cpfs_documents_new(view->ttl, DOCUMENT_CACHE_BYTES);
    g_mutex_init(&view->lock);
    g_cond_init(&view->changed);
    view->states = g_hash_table_new(g_str_hash, g_str_equal);
    view->warned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return view;
}

static void
state_free(DomainState *st)
{
    cpfs_checkpoint_tree_unref(st->tree);
    g_free(st->name);
    g_free(st);
}

void
cpfs_view_free(CpfsView *view)
{
    GHashTableIter iter;
    gpointer st;

    if (!view)
        return;
    g_hash_table_iter_init(&iter, view->states);
    while (g_hash_table_iter_next(&iter, NULL, &st))
        state_free(st);
    g_hash_table_unref(view->states);
    g_hash_table_unref(view->warned);
    cpfs_documents_free(view->docs);
    cpfs_domain_list_unref(view->list);
    g_mutex_clear(&view->lock);
    g_cond_clear(&view->changed);
    g_free(view);
}

gboolean
cpfs_view_fresh(CpfsView *view, gint64 built)
{
    return built && g_get_monotonic_time() - built < view->ttl;
}

guint64
cpfs_view_calls(CpfsView *view)
{
    return cpfs_driver_calls(view->drv);
}

/* Joins LISTING: TRUE when the caller is to list now (it is marked under
 * way); FALSE when one under way finished meanwhile, with its result in *RC
 * (-EIO when it did not finish in time).  With view->lock held. */
static gboolean
listing_begin(CpfsView *view, Listing *listing, int *rc)
{
    guint64 seen = listing->finished;
    gint64 deadline = g_get_monotonic_time() + CPFS_VIEW_WAIT_US;

    while (listing->running) {
        if (!g_cond_wait_until(&view->changed, &view->lock, deadline)) {
            *rc = -EIO;
            return FALSE;
        }
    }
    if (listing->finished != seen) {
        *rc = listing->last_rc;
        return FALSE;
    }
    listing->running = TRUE;
    return TRUE;
}

static void
listing_end(CpfsView *view, Listing *listing, int rc)
{
    listing->running = FALSE;
    listing->finished++;
    listing->last_rc = rc;
    g_cond_broadcast(&view->changed);
}

DomainState *
cpfs_view_use_state(CpfsView *view, const char *domain)
{
    DomainState *st = g_hash_table_lookup(view->states, domain);

    if (!st) {
        st = g_new0(DomainState, 1);
        st->name = g_strdup(domain);
        g_hash_table_insert(view->states, st->name, st);
    }
    st->users++;
    return st;
}

/* Frees ST when nobody uses it and libvirt says it is gone.  With the lock. */
static void
state_collect(CpfsView *view, DomainState *st)
{
    if (st->users > 0 || !st->gone)
        return;
    g_hash_table_remove(view->states, st->name);
    state_free(st);
}

void
cpfs_view_release_state(CpfsView *view, DomainState *st)
{
    st->users--;
    state_collect(view, st);
}

/* Forgets the states of domains absent from LIST.  With the lock. */
static void
prune_states(CpfsView *view, CpfsDomainList *list)
{
    g_autoptr(GPtrArray) gone = g_ptr_array_new();
    GHashTableIter iter;
    gpointer name, st;

    g_hash_table_iter_init(&iter, view->states);
    while (g_hash_table_iter_next(&iter, &name, &st)) {
        if (!cpfs_domain_list_contains(list, name))
            g_ptr_array_add(gone, st);
    }
    for (guint i = 0; i < gone->len; i++) {
        ((DomainState *)gone->pdata[i])->gone = TRUE;
        state_collect(view, gone->pdata[i]);
    }
}

/* Logs, once per name, the domains the list leaves out.  With the lock. */
static void
warn_unlisted(CpfsView *view, GPtrArray *names)
{
    for (guint i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];

        if (cpfs_domain_name_is_listable(name) || g_hash_table_contains(view->warned, name))
            continue;
        /* Bounded: past it, a name is logged again at each listing. */
        if (g_hash_table_size(view->warned) < 1024)
            g_hash_table_add(view->warned, g_strdup(name));
        cpfs_warn("domain '%.64s%s' is not listed: '.', '..' and names over %d bytes "
                  "cannot be directories", name, strlen(name) > 64 ? "..." : "",
                  CPFS_NAME_MAX);
    }
}

CpfsDomainList *
cpfs_view_last_domains(CpfsView *view)
{
    CpfsDomainList *list;

    g_mutex_lock(&view->lock);
    list = view->list ? cpfs_domain_list_ref(view->list) : NULL;
    g_mutex_unlock(&view->lock);
    return list;
}

int
cpfs_view_domains(CpfsView *view, CpfsDomainList **list)
{
    g_autoptr(GPtrArray) names = NULL;
    gint64 started;
    int rc = 0;

    g_mutex_lock(&view->lock);
    for (;;) {
        /* Fresh, or stale while a listing is under way: good enough. */
        if (view->list && (cpfs_view_fresh(view, view->list_built) ||
                           view->list_listing.running))
            goto take;
        if (listing_begin(view, &view->list_listing, &rc))
            break;
        if (rc < 0) {
            g_mutex_unlock(&view->lock);
            return rc;
        }
        if (view->list)
            goto take;  /* just listed by another thread */
    }
    g_mutex_unlock(&view->lock);

    started = g_get_monotonic_time();
    rc = cpfs_driver_list_domains(view->drv, &names);
    g_mutex_lock(&view->lock);
    if (rc == 0) {
        cpfs_domain_list_unref(view->list);
        view->list = cpfs_domain_list_new(names);
        view->list_built = started;
        warn_unlisted(view, names);
        prune_states(view, view->list);
    }
    listing_end(view, &view->list_listing, rc);
    if (rc < 0) {
        g_mutex_unlock(&view->lock);
        return rc;
    }
 take:
    *list = cpfs_domain_list_ref(view->list);
    g_mutex_unlock(&view->lock);
    return 0;
}

void
cpfs_view_install_tree(CpfsView *view G_GNUC_UNUSED, DomainState *st,
                       CpfsCheckpointTree *tree, gint64 built)
{
    cpfs_checkpoint_tree_unref(st->tree);
    st->tree = tree;
    st->tree_built = built;
    st->generation++;
    if (cpfs_checkpoint_tree_has_hidden(tree) && !st->warned_hidden) {
        st->warned_hidden = TRUE;
        cpfs_warn("domain '%s': a checkpoint is named '%s', which is the name of the "
                  "file in every directory; it and its children are not shown",
                  st->name, CPFS_XML_NAME);
    }
}

char *
cpfs_view_document_key(const char *domain, const char *name, guint64 version)
{
    /* \x1f cannot occur in a name; the domain's own document has no name. */
    return g_strdup_printf("%s\x1f%s\x1f%" G_GUINT64_FORMAT, domain, name ? name : "",
                           version);
}

char *
cpfs_view_document_prefix(const char *domain, const char *name)
{
    return name ? g_strdup_printf("%s\x1f%s\x1f", domain, name)
                : g_strdup_printf("%s\x1f", domain);
}

/* Keeps the documents a listing read, under the versions TREE gave them. */
static void
keep_listed(CpfsView *view, const char *domain, CpfsCheckpointTree *tree, GPtrArray *records,
            GPtrArray *documents)
{
    for (guint i = 0; i < records->len; i++) {
        const CpfsCheckpointRecord *rec = records->pdata[i];
        CpfsCheckpoint *cp = cpfs_checkpoint_tree_lookup(tree, rec->name);
        g_autofree char *key = NULL;

        if (!cp)
            continue;
        key = cpfs_view_document_key(domain, cp->name, cp->doc_version);
        cpfs_documents_put(view->docs, key, documents->pdata[i]);
    }
}

/* Lists ST's checkpoints and installs the tree, unless a change came in the
 * meantime (its tree is newer news).  Called and returns with the lock. */
static int
list_domain(CpfsView *view, DomainState *st)
{
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GPtrArray) documents = NULL;
    g_autoptr(CpfsCheckpointTree) previous = st->tree ? cpfs_checkpoint_tree_ref(st->tree)
                                                      : NULL;
    guint64 generation = st->generation;
    gint64 started = g_get_monotonic_time();
    CpfsCheckpointTree *tree;
    int rc;

    g_mutex_unlock(&view->lock);
    rc = cpfs_driver_list_checkpoints(view->drv, st->name, &records, &documents);
    /* Checkpoints seen before keep their serials, hence their inodes. */
    tree = rc == 0 ? cpfs_checkpoint_tree_new_after(records, previous) : NULL;
    if (tree)
        keep_listed(view, st->name, tree, records, documents);
    g_mutex_lock(&view->lock);
    if (tree && st->generation == generation)
        cpfs_view_install_tree(view, st, tree, started);
    else
        cpfs_checkpoint_tree_unref(tree);
    if (rc == -ENOENT) {
        /* The domain is gone: so is the list that had it. */
        st->gone = TRUE;
        view->list_built = 0;
    }
    return rc;
}

int
cpfs_view_state_tree(CpfsView *view, DomainState *st, gboolean stale_ok,
                     CpfsCheckpointTree **tree)
{
    int rc = 0;

    for (;;) {
        if (st->tree && (cpfs_view_fresh(view, st->tree_built) ||
                         (stale_ok && st->listing.running)))
            break;
        if (listing_begin(view, &st->listing, &rc)) {
            rc = list_domain(view, st);
            listing_end(view, &st->listing, rc);
            if (rc < 0)
                return rc;
            break;
        }
        if (rc < 0)
            return rc;
        if (st->tree)
            break;  /* just listed by another thread */
    }
    *tree = cpfs_checkpoint_tree_ref(st->tree);
    return 0;
}

int
cpfs_view_checkpoints(CpfsView *view, const char *domain, CpfsCheckpointTree **tree)
{
    DomainState *st;
    int rc;

    g_mutex_lock(&view->lock);
    st = cpfs_view_use_state(view, domain);
    rc = cpfs_view_state_tree(view, st, TRUE, tree);
    cpfs_view_release_state(view, st);
    g_mutex_unlock(&view->lock);
    return rc;
}

int
cpfs_view_domain_xml(CpfsView *view, const char *domain, char **xml)
{
    g_autofree char *key = cpfs_view_document_key(domain, NULL, 0);
    int rc;

    *xml = cpfs_documents_get(view->docs, key);
    if (*xml)
        return 0;
    if ((rc = cpfs_driver_domain_xml(view->drv, domain, xml)) < 0)
        return rc;
    cpfs_documents_put(view->docs, key, *xml);
    return 0;
}

int
cpfs_view_domain_xml_size(CpfsView *view, const char *domain, gint64 *size)
{
    g_autofree char *key = cpfs_view_document_key(domain, NULL, 0);
    g_autofree char *xml = NULL;
    int rc;

    if (cpfs_documents_size(view->docs, key, size))
        return 0;
    if ((rc = cpfs_view_domain_xml(view, domain, &xml)) < 0)
        return rc;
    *size = (gint64)strlen(xml);
    return 0;
}

int
cpfs_view_checkpoint_xml(CpfsView *view, const char *domain, CpfsCheckpoint *cp, char **xml)
{
    g_autofree char *key = cpfs_view_document_key(domain, cp->name, cp->doc_version);
    int rc;

    *xml = cpfs_documents_get(view->docs, key);
    if (*xml)
        return 0;
    if ((rc = cpfs_driver_checkpoint_xml(view->drv, domain, cp->name, xml)) < 0)
        return rc;
    cpfs_documents_put(view->docs, key, *xml);
    return 0;
}

int
cpfs_view_checkpoint_xml_size(CpfsView *view, const char *domain, CpfsCheckpoint *cp,
                              gint64 *size)
{
    g_autofree char *key = cpfs_view_document_key(domain, cp->name, cp->doc_version);
    g_autofree char *xml = NULL;
    int rc;

    if (cpfs_documents_size(view->docs, key, size))
        return 0;
    if ((rc = cpfs_view_checkpoint_xml(view, domain, cp, &xml)) < 0)
        return rc;
    *size = (gint64)strlen(xml);
    return 0;
}

void
cpfs_view_domain_event(CpfsView *view, const char *domain, CpfsDomainEvent event)
{
    g_autofree char *doc = cpfs_view_document_key(domain, NULL, 0);
    g_autofree char *all = cpfs_view_document_prefix(domain, NULL);
    DomainState *st;

    g_mutex_lock(&view->lock);
    if (event != CPFS_DOMAIN_CHANGED) {
        /* Dropped, not just aged: no reader may go on with the old list. */
        g_clear_pointer(&view->list, cpfs_domain_list_unref);
        view->list_built = 0;
    }
    st = g_hash_table_lookup(view->states, domain);
    if (st && event != CPFS_DOMAIN_CHANGED) {
        /* Defined again under an old name, it may have other checkpoints;
         * undefined, it is forgotten. */
        st->tree_built = 0;
        st->gone = event == CPFS_DOMAIN_UNDEFINED;
        state_collect(view, st);
    }
    g_mutex_unlock(&view->lock);
    cpfs_documents_forget_prefix(view->docs, event == CPFS_DOMAIN_UNDEFINED ? all : doc);
}

void
cpfs_view_forget_all(CpfsView *view)
{
    GHashTableIter iter;
    gpointer st;

    g_mutex_lock(&view->lock);
    g_clear_pointer(&view->list, cpfs_domain_list_unref);
    view->list_built = 0;
    g_hash_table_iter_init(&iter, view->states);
    /* Aged, not dropped: the next listing carries serials over. */
    while (g_hash_table_iter_next(&iter, NULL, &st))
        ((DomainState *)st)->tree_built = 0;
    g_mutex_unlock(&view->lock);
    cpfs_documents_clear(view->docs);
}

void
cpfs_view_stats(CpfsView *view, CpfsViewStats *stats)
{
    g_mutex_lock(&view->lock);
    stats->domains = g_hash_table_size(view->states);
    g_mutex_unlock(&view->lock);
    stats->documents = cpfs_documents_count(view->docs);
    stats->document_bytes = cpfs_documents_bytes(view->docs);
    stats->driver_handles = cpfs_driver_handle_domains(view->drv);
}
