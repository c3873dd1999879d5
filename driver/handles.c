#include "driver/handles.h"

struct _CpfsHandles {
    GMutex lock;
    GHashTable *domains;  /* name -> DomainHandles* */
};

typedef struct {
    virDomainPtr dom;         /* NULL until met */
    GHashTable *checkpoints;  /* name -> virDomainCheckpointPtr */
} DomainHandles;

static void
checkpoint_handle_free(gpointer cp)
{
    virDomainCheckpointFree(cp);
}

static void
domain_handles_free(DomainHandles *d)
{
    if (d->dom)
        virDomainFree(d->dom);
    g_hash_table_unref(d->checkpoints);
    g_free(d);
}

CpfsHandles *
cpfs_handles_new(void)
{
    CpfsHandles *h = g_new0(CpfsHandles, 1);

    g_mutex_init(&h->lock);
    h->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)domain_handles_free);
    return h;
}

void
cpfs_handles_free(CpfsHandles *h)
{
    if (!h)
        return;
    g_hash_table_unref(h->domains);
    g_mutex_clear(&h->lock);
    g_free(h);
}

/* DOMAIN's entry, created empty; call with h->lock held. */
static DomainHandles *
entry_of(CpfsHandles *h, const char *domain)
{
    DomainHandles *d = g_hash_table_lookup(h->domains, domain);

    if (!d) {
        d = g_new0(DomainHandles, 1);
        d->checkpoints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               checkpoint_handle_free);
        g_hash_table_insert(h->domains, g_strdup(domain), d);
    }
    return d;
}

virDomainPtr
cpfs_handles_domain(CpfsHandles *h, const char *domain)
{
    DomainHandles *d;
    virDomainPtr dom = NULL;

    g_mutex_lock(&h->lock);
    d = g_hash_table_lookup(h->domains, domain);
    if (d && d->dom) {
        dom = d->dom;
        virDomainRef(dom);
    }
    g_mutex_unlock(&h->lock);
    return dom;
}

void
cpfs_handles_put_domain(CpfsHandles *h, const char *domain, virDomainPtr dom)
{
    DomainHandles *d;

    virDomainRef(dom);
    g_mutex_lock(&h->lock);
    d = entry_of(h, domain);
    if (d->dom)
        virDomainFree(d->dom);
    d->dom = dom;
    g_mutex_unlock(&h->lock);
}

virDomainCheckpointPtr
cpfs_handles_checkpoint(CpfsHandles *h, const char *domain, const char *name)
{
    DomainHandles *d;
    virDomainCheckpointPtr cp = NULL;

    g_mutex_lock(&h->lock);
    d = g_hash_table_lookup(h->domains, domain);
    if (d)
        cp = g_hash_table_lookup(d->checkpoints, name);
    if (cp)
        virDomainCheckpointRef(cp);
    g_mutex_unlock(&h->lock);
    return cp;
}

void
cpfs_handles_put_checkpoint(CpfsHandles *h, const char *domain, virDomainCheckpointPtr cp)
{
    virDomainCheckpointRef(cp);
    g_mutex_lock(&h->lock);
    g_hash_table_insert(entry_of(h, domain)->checkpoints,
                        g_strdup(virDomainCheckpointGetName(cp)), cp);
    g_mutex_unlock(&h->lock);
}

void
cpfs_handles_put_listing(CpfsHandles *h, const char *domain, virDomainCheckpointPtr *cps,
                         int n)
{
    DomainHandles *d;

    g_mutex_lock(&h->lock);
    d = entry_of(h, domain);
    g_hash_table_remove_all(d->checkpoints);
    for (int i = 0; i < n; i++) {
        virDomainCheckpointRef(cps[i]);
        g_hash_table_insert(d->checkpoints, g_strdup(virDomainCheckpointGetName(cps[i])),
                            cps[i]);
    }
    g_mutex_unlock(&h->lock);
}

void
cpfs_handles_drop(CpfsHandles *h, const char *domain, const char *name)
{
    DomainHandles *d;

    g_mutex_lock(&h->lock);
    d = g_hash_table_lookup(h->domains, domain);
    if (d && name)
        g_hash_table_remove(d->checkpoints, name);
    else if (d)
        g_hash_table_remove(h->domains, domain);
    g_mutex_unlock(&h->lock);
}

guint
cpfs_handles_domains(CpfsHandles *h)
{
    guint n;

    g_mutex_lock(&h->lock);
    n = g_hash_table_size(h->domains);
    g_mutex_unlock(&h->lock);
    return n;
}

void
cpfs_handles_put_domains(CpfsHandles *h, virDomainPtr *doms, int n)
{
    g_autoptr(GHashTable) listed = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter iter;
    gpointer name;

    g_mutex_lock(&h->lock);
    for (int i = 0; i < n; i++) {
        const char *domain = virDomainGetName(doms[i]);
        DomainHandles *d = entry_of(h, domain);

        virDomainRef(doms[i]);
        if (d->dom)
            virDomainFree(d->dom);
        d->dom = doms[i];
        g_hash_table_add(listed, (gpointer)domain);
    }
    g_hash_table_iter_init(&iter, h->domains);
    while (g_hash_table_iter_next(&iter, &name, NULL)) {
        if (!g_hash_table_contains(listed, name))
            g_hash_table_iter_remove(&iter);
    }
    g_mutex_unlock(&h->lock);
}
