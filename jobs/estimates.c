/* What stat says of an image no job serves: libvirt's capacity, allocation
 * and count of changed bytes, remembered for a while (the view's
 * cache_timeout/2) so that repeated stats, and walks of listed files, cost
 * no libvirt call. */
#include "jobs/job.h"

#include <string.h>

/* Past this many entries, expired ones are dropped at the next insert. */
#define ESTIMATES_PURGE_AT 1024

typedef struct {
    guint64 capacity;
    guint64 used;           /* allocation, or changed bytes of a checkpoint */
    gint64 expires;
} Estimate;

struct _CpfsEstimates {
    JobContext *ctx;
    gint64 ttl_us;
    GMutex lock;            /* a leaf; never held across a libvirt call */
    GHashTable *entries;    /* "domain\ncheckpoint\nserial\ndisk" -> Estimate* */
};

CpfsEstimates *
cpfs_estimates_new(JobContext *ctx, gint64 ttl_us)
{
    CpfsEstimates *est = g_new0(CpfsEstimates, 1);

    est->ctx = ctx;
    est->ttl_us = ttl_us;
    g_mutex_init(&est->lock);
    est->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return est;
}

/* Frees EST and what it remembers. */
void
cpfs_estimates_free(CpfsEstimates *est)
{
    g_hash_table_unref(est->entries);
    g_mutex_clear(&est->lock);
    g_free(est);
}

/* Whether DOMAIN runs, from its XML: libvirt gives a running domain an id
 * in its opening tag (the view forgets the XML when the domain starts or
 * stops, from libvirt's events). */
static gboolean
domain_runs(JobContext *ctx, const char *domain)
{
    g_autofree char *xml = NULL;
    const char *tag, *end;

    if (cpfs_view_domain_xml(ctx->view, domain, &xml) < 0 || !(tag = strstr(xml, "<domain"))
        || !(end = strchr(tag, '>')))
        return FALSE;
    return g_strstr_len(tag, end - tag, " id=") != NULL;
}

/* Asks libvirt what ESTIMATE holds. */
static int
ask_libvirt(JobContext *ctx, const char *domain, const char *checkpoint, const char *disk,
            Estimate *estimate)
{
    g_autofree char *xml = NULL;
    int rc = cpfs_driver_block_info(ctx->drv, domain, disk, &estimate->capacity,
                                    &estimate->used);

    if (rc < 0)
        return rc;
    estimate->used = MIN(estimate->used, estimate->capacity);
    if (!checkpoint)
        return 0;
    /* Only a running domain counts changed bytes: else metadata only. */
    estimate->used = 0;
    if (domain_runs(ctx, domain)
        && cpfs_driver_checkpoint_xml_sized(ctx->drv, domain, checkpoint, &xml) == 0) {
        g_autoptr(GHashTable) sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                            g_free);
        guint64 *changed;

        g_ptr_array_unref(cpfs_backup_checkpoint_disks(xml, sizes));
        changed = g_hash_table_lookup(sizes, disk);

        if (changed)
            estimate->used = MIN(*changed, estimate->capacity);
    }
    return 0;
}

/* Drops expired entries; the lock is held. */
static void
purge(CpfsEstimates *est, gint64 now)
{
    GHashTableIter it;
    Estimate *e;

    g_hash_table_iter_init(&it, est->entries);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&e)) {
        if (e->expires <= now)
            g_hash_table_iter_remove(&it);
    }
}

int
cpfs_estimates_get(CpfsEstimates *est, const char *domain, const char *checkpoint,
                   guint64 serial, const char *disk, guint64 *capacity, guint64 *used)
{
    g_autofree char *key = g_strdup_printf("%s\n%s\n%" G_GUINT64_FORMAT "\n%s", domain,
                                           checkpoint ? checkpoint : "", serial, disk);
    Estimate fresh = { 0 }, *e;
    gint64 now = g_get_monotonic_time();
    int rc;

    g_mutex_lock(&est->lock);
    e = g_hash_table_lookup(est->entries, key);
    if (e && e->expires > now)
        fresh = *e;
    g_mutex_unlock(&est->lock);
    if (!fresh.expires) {
        if ((rc = ask_libvirt(est->ctx, domain, checkpoint, disk, &fresh)) < 0)
            return rc;
        fresh.expires = g_get_monotonic_time() + est->ttl_us;
        g_mutex_lock(&est->lock);
        if (g_hash_table_size(est->entries) >= ESTIMATES_PURGE_AT)
            purge(est, now);
        g_hash_table_insert(est->entries, g_steal_pointer(&key), g_memdup2(&fresh, sizeof(fresh)));
        g_mutex_unlock(&est->lock);
    }
    *capacity = fresh.capacity;
    *used = fresh.used;
    return 0;
}
