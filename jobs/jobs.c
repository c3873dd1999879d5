/* Who shares a backup job, and when it ends.
 *
 * Thread model: FUSE workers open and close images; a begin or an end is
 * made by the worker that needs it, outside the lock, while the domain's
 * slot is marked busy so that nobody else begins one meanwhile.  One reaper
 * thread ends jobs whose linger ran out, and retries ends that libvirt
 * could not be asked about; while it ends a job, the domain's slot is
 * marked busy too.  No libvirt or NBD call is made, and no job freed, while
 * the lock is held; the only lock taken under it is the driver's (to read
 * the epoch), which is a leaf. */
#include "jobs/job.h"
#include "util/log.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* How often the reaper tries again to end a job libvirt did not answer on. */
#define RETRY_US G_USEC_PER_SEC
/* Workers filling the read-ahead of every open image. */
#define FILL_WORKERS 4
/* How often it looks whether a job's libvirt connection was lost. */
#define EPOCH_CHECK_US (G_USEC_PER_SEC / 2)

/* A domain's place in the table: its job, and whether one is changing. */
typedef struct {
    Job *job;                   /* the running or lingering job, or NULL */
    guint opens;                /* images open on it */
    gint64 linger_until;        /* when it ends if OPENS stays 0 */
    gboolean changing;          /* a begin or end is under way */
    int port;                   /* the TCP port that begin or end holds meanwhile */
} Slot;

/* A job that must still be ended in libvirt. */
typedef struct {
    Job *job;
    gint64 next_try;
    gint64 grace_until;         /* a cut-off begin may show in libvirt until then */
} Ending;

struct _CpfsJobs {
    JobContext ctx;
    CpfsJobsConfig config;
    GMutex lock;
    GCond changed;              /* a slot changed, or stopping */
    GHashTable *slots;          /* domain -> Slot* */
    GPtrArray *endings;         /* Ending* */
    gboolean stopping;
    GThread *reaper;
    CpfsEstimates *estimates;
    GThreadPool *fills;         /* the workers of the images' read-ahead */
    char *runtime_dir;          /* the strings CONFIG points to */
    char *scratch_dir;
};

/* Frees SLOT with its reference to its job. */
static void
slot_free(Slot *slot)
{
    g_clear_pointer(&slot->job, cpfs_job_unref);
    g_free(slot);
}

/* Frees E with its reference to its job. */
static void
ending_free(Ending *e)
{
    cpfs_job_unref(e->job);
    g_free(e);
}

/* DOMAIN's slot, made if needed; the lock is held. */
static Slot *
slot_of(CpfsJobs *jobs, const char *domain)
{
    Slot *slot = g_hash_table_lookup(jobs->slots, domain);

    if (!slot) {
        slot = g_new0(Slot, 1);
        g_hash_table_insert(jobs->slots, g_strdup(domain), slot);
    }
    return slot;
}

/* Queues JOB (owned) to be ended by the reaper, looking for it in libvirt
 * for GRACE_US even if it does not show at first; the lock is held. */
static void
queue_end(CpfsJobs *jobs, Job *job, gint64 grace_us)
{
    Ending *e = g_new0(Ending, 1);

    e->job = job;
    e->grace_until = grace_us ? g_get_monotonic_time() + grace_us : 0;
    g_ptr_array_add(jobs->endings, e);
    g_cond_broadcast(&jobs->changed);
}

/* Moves to the endings the jobs whose linger ran out, and those begun on a
 * libvirt connection since lost, whose files fail from then on whether
 * open or not; the lock is held.  Returns when to look again (G_MAXINT64:
 * when something changes). */
static gint64
expire_jobs(CpfsJobs *jobs, gint64 now)
{
    guint64 epoch = cpfs_driver_epoch(jobs->ctx.drv);
    GHashTableIter it;
    Slot *slot;
    gint64 next = G_MAXINT64;

    g_hash_table_iter_init(&it, jobs->slots);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&slot)) {
        if (!slot->job || slot->changing)
            continue;
        if (slot->job->epoch != epoch) {
            slot->opens = 0;  /* its images no longer count: they only fail */
            queue_end(jobs, g_steal_pointer(&slot->job), 0);
            continue;
        }
        /* No event tells of a lost connection: look again in a while. */
        next = MIN(next, now + EPOCH_CHECK_US);
        if (slot->opens)
            continue;
        if (slot->linger_until <= now)
            queue_end(jobs, g_steal_pointer(&slot->job), 0);
        else
            next = MIN(next, slot->linger_until);
    }
    return next;
}

/* Ends what is due among the endings, the lock released meanwhile and the
 * domain's slot marked changing, so that no open begins a job libvirt would
 * refuse as busy; the lock is held on entry and return.  Returns when to
 * try again. */
static gint64
run_endings(CpfsJobs *jobs, gint64 now)
{
    gint64 next = G_MAXINT64;

    for (guint i = 0; i < jobs->endings->len;) {
        Ending *e = jobs->endings->pdata[i];
        Slot *slot = slot_of(jobs, e->job->domain);
        int rc;

        if (e->next_try > now || slot->changing) {
            next = MIN(next, MAX(e->next_try, now + RETRY_US / 10));
            i++;
            continue;
        }
        g_ptr_array_remove_index_fast(jobs->endings, i);
        slot->changing = TRUE;
        slot->port = e->job->tcp_port;
        g_mutex_unlock(&jobs->lock);
        rc = cpfs_job_end(&jobs->ctx, e->job);
        now = g_get_monotonic_time();
        if (jobs->stopping || rc == 0 || (rc == 1 && now >= e->grace_until))
            g_clear_pointer(&e, ending_free);
        g_mutex_lock(&jobs->lock);
        slot->changing = FALSE;
        slot->port = 0;
        g_cond_broadcast(&jobs->changed);
        if (e) {
            e->next_try = now + RETRY_US;
            g_ptr_array_add(jobs->endings, e);
        }
        i = 0;  /* the array changed under the released lock */
    }
    return next;
}

/* The reaper thread: ends lingering and lost jobs until the jobs stop. */
static gpointer
reaper_main(gpointer data)
{
    CpfsJobs *jobs = data;

    g_mutex_lock(&jobs->lock);
    while (!jobs->stopping) {
        gint64 now = g_get_monotonic_time();
        gint64 next = expire_jobs(jobs, now);

        next = MIN(next, run_endings(jobs, now));
        if (jobs->stopping)
            break;
        if (next == G_MAXINT64)
            g_cond_wait(&jobs->changed, &jobs->lock);
        else
            g_cond_wait_until(&jobs->changed, &jobs->lock, next);
    }
    g_mutex_unlock(&jobs->lock);
    return NULL;
}

/* The host of a remote URI (one that crosses the network), else NULL. */
static char *
remote_host(const char *uri)
{
    g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
    const char *scheme = parsed ? g_uri_get_scheme(parsed) : NULL;
    const char *host = parsed ? g_uri_get_host(parsed) : NULL;

    if (!host || !*host || (scheme && strstr(scheme, "+unix")))
        return NULL;
    return g_strdup(host);
}

/* This machine's id, which names our scratch files on libvirt's host. */
static char *
read_machine_id(void)
{
    g_autofree char *id = NULL;

    if (!g_file_get_contents("/etc/machine-id", &id, NULL, NULL))
        return g_strdup("unknown");
    return g_strdup(g_strstrip(id));
}

CpfsJobs *
cpfs_jobs_new(CpfsDriver *drv, CpfsView *view, const CpfsJobsConfig *config)
{
    CpfsJobs *jobs = g_new0(CpfsJobs, 1);

    jobs->config = *config;
    jobs->config.runtime_dir = jobs->runtime_dir = g_strdup(config->runtime_dir);
    jobs->config.scratch_dir = jobs->scratch_dir = g_strdup(config->scratch_dir);
    jobs->ctx.drv = drv;
    jobs->ctx.view = view;
    jobs->ctx.config = &jobs->config;
    jobs->ctx.tcp_host = remote_host(cpfs_driver_uri(drv));
    jobs->ctx.machine_id = read_machine_id();
    g_mutex_init(&jobs->lock);
    g_cond_init(&jobs->changed);
    jobs->slots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)slot_free);
    /* Threads start at the first read: after daemonizing. */
    jobs->fills = g_thread_pool_new(cpfs_stream_fill, NULL, FILL_WORKERS, FALSE, NULL);
    jobs->estimates = cpfs_estimates_new(&jobs->ctx,
                                         (gint64)(config->estimate_ttl * G_USEC_PER_SEC));
    jobs->endings = g_ptr_array_new();
    return jobs;
}

/* Starts the reaper: after daemonizing, as threads do not survive fork. */
static void
ensure_reaper(CpfsJobs *jobs)
{
    if (!jobs->reaper && !jobs->stopping)
        jobs->reaper = g_thread_new("cpfs-reaper", reaper_main, jobs);
}

void
cpfs_jobs_free(CpfsJobs *jobs)
{
    GHashTableIter it;
    Slot *slot;

    if (!jobs)
        return;
    g_mutex_lock(&jobs->lock);
    jobs->stopping = TRUE;
    g_cond_broadcast(&jobs->changed);
    g_mutex_unlock(&jobs->lock);
    if (jobs->reaper)
        g_thread_join(jobs->reaper);
    /* Unmounted: end every job once, without waiting for a libvirt that
     * does not answer beyond each call's budget. */
    g_hash_table_iter_init(&it, jobs->slots);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&slot)) {
        if (slot->job)
            queue_end(jobs, g_steal_pointer(&slot->job), 0);
    }
    for (guint i = 0; i < jobs->endings->len; i++) {
        Ending *e = jobs->endings->pdata[i];

        cpfs_job_end(&jobs->ctx, e->job);
        ending_free(e);
    }
    g_ptr_array_unref(jobs->endings);
    g_hash_table_unref(jobs->slots);
    g_rmdir(jobs->runtime_dir);  /* the URI's folder, once no job folder is left */
    g_mutex_clear(&jobs->lock);
    g_cond_clear(&jobs->changed);
    g_free(jobs->ctx.tcp_host);
    g_free(jobs->ctx.machine_id);
    /* The images' streams are gone (the handles went first): nothing is queued. */
    g_thread_pool_free(jobs->fills, FALSE, TRUE);
    cpfs_estimates_free(jobs->estimates);
    g_free(jobs->runtime_dir);
    g_free(jobs->scratch_dir);
    g_free(jobs);
}

gboolean
cpfs_image_name_parse(const char *name, char **disk, CpfsImageFormat *format)
{
    static const struct {
        const char *suffix;
        CpfsImageFormat format;
    } kinds[] = { { ".raw", CPFS_IMAGE_RAW }, { ".qcow2", CPFS_IMAGE_QCOW2 } };

    for (gsize i = 0; i < G_N_ELEMENTS(kinds); i++) {
        gsize len = strlen(name), slen = strlen(kinds[i].suffix);

        if (len > slen && g_str_has_suffix(name, kinds[i].suffix)) {
            *disk = g_strndup(name, len - slen);
            *format = kinds[i].format;
            return TRUE;
        }
    }
    return FALSE;
}

int
cpfs_jobs_disks(CpfsJobs *jobs, const char *domain, const char *checkpoint, GPtrArray **disks)
{
    return cpfs_job_disks(&jobs->ctx, domain, checkpoint, 0, disks);
}

/* A port of the range no job of ours uses; the lock is held. */
static int
free_port(CpfsJobs *jobs)
{
    for (int port = jobs->config.port_low; port <= jobs->config.port_high; port++) {
        GHashTableIter it;
        Slot *slot;
        gboolean used = FALSE;

        g_hash_table_iter_init(&it, jobs->slots);
        while (!used && g_hash_table_iter_next(&it, NULL, (gpointer *)&slot))
            used = (slot->job && slot->job->tcp_port == port) || slot->port == port;
        for (guint i = 0; !used && i < jobs->endings->len; i++)
            used = ((Ending *)jobs->endings->pdata[i])->job->tcp_port == port;
        if (!used)
            return port;
    }
    return 0;
}

/* Waits while SLOT changes, up to DEADLINE; FALSE when it still does. */
static gboolean
wait_slot(CpfsJobs *jobs, Slot *slot, gint64 deadline)
{
    while (slot->changing) {
        if (!g_cond_wait_until(&jobs->changed, &jobs->lock, deadline))
            return !slot->changing;
    }
    return TRUE;
}

/* Moves the endings of DOMAIN into STALE: a begin ends them first; the
 * lock is held. */
static void
take_endings(CpfsJobs *jobs, const char *domain, GPtrArray *stale)
{
    for (guint i = 0; i < jobs->endings->len;) {
        Ending *e = jobs->endings->pdata[i];

        if (strcmp(e->job->domain, domain) != 0) {
            i++;
            continue;
        }
        g_ptr_array_add(stale, g_steal_pointer(&e->job));
        g_ptr_array_remove_index_fast(jobs->endings, i);
        g_free(e);
    }
}

/* With the lock held: shares SLOT's job when it serves the directory, or
 * makes room for a new one.  1: shared (*JOB referenced); 0: SLOT is marked
 * changing and STALE holds the jobs to end first; negative errno. */
static int
share_or_claim(CpfsJobs *jobs, Slot *slot, const char *domain, const char *checkpoint,
               guint64 serial, guint64 epoch, Job **job, GPtrArray *stale)
{
    /* A job of a lost connection, or whose export broke: its files only
     * fail now, and do not hold the domain. */
    if (slot->job && (slot->job->epoch != epoch || cpfs_job_broken(slot->job))) {
        slot->opens = 0;
        g_ptr_array_add(stale, g_steal_pointer(&slot->job));
    }
    if (slot->job && cpfs_job_serves(slot->job, checkpoint, serial)) {
        slot->opens++;
        *job = cpfs_job_ref(slot->job);
        return 1;
    }
    if (slot->job && slot->opens) {
        cpfs_info("domain '%s': files of another directory are open (backup job of %s)",
                  domain, slot->job->checkpoint ? slot->job->checkpoint : "the whole disks");
        return -EBUSY;
    }
    if (slot->job)
        g_ptr_array_add(stale, g_steal_pointer(&slot->job));
    take_endings(jobs, domain, stale);
    slot->changing = TRUE;
    return 0;
}

/* Ends the jobs of STALE (the lock released); those libvirt could not be
 * asked about stay in it.  0, or -EIO when any stayed. */
static int
end_stale(CpfsJobs *jobs, GPtrArray *stale)
{
    for (guint i = 0; i < stale->len;) {
        if (cpfs_job_end(&jobs->ctx, stale->pdata[i]) < 0) {
            i++;
            continue;
        }
        cpfs_job_unref(stale->pdata[i]);
        g_ptr_array_remove_index(stale, i);
    }
    return stale->len ? -EIO : 0;
}

/* Begins a job for the directory into SLOT (marked changing), after ending
 * STALE's jobs; the lock is held on entry and return. */
static int
begin_into_slot(CpfsJobs *jobs, Slot *slot, const char *domain, const char *checkpoint,
                guint64 serial, GPtrArray *stale, Job **job)
{
    int port = jobs->ctx.tcp_host ? free_port(jobs) : 0;
    Job *begun = NULL;
    int rc;

    slot->port = port;  /* no other begin takes it meanwhile */
    g_mutex_unlock(&jobs->lock);
    rc = end_stale(jobs, stale);
    if (rc == 0 && jobs->ctx.tcp_host && !port) {
        cpfs_error("domain '%s': every port of backup_ports is in use", domain);
        rc = -EBUSY;
    }
    if (rc == 0)
        rc = cpfs_job_begin(&jobs->ctx, domain, checkpoint, serial, port, &begun);
    g_mutex_lock(&jobs->lock);
    slot->changing = FALSE;
    slot->port = 0;
    g_cond_broadcast(&jobs->changed);
    for (guint i = 0; i < stale->len; i++)
        queue_end(jobs, stale->pdata[i], 0);
    g_ptr_array_set_size(stale, 0);
    if (rc < 0 && begun)  /* libvirt may run it (a cut-off begin may start later) */
        queue_end(jobs, begun, rc == CPFS_DRIVER_CUT_OFF ? 2 * CPFS_DRIVER_BUDGET_US : 0);
    if (rc < 0)
        return rc == CPFS_DRIVER_CUT_OFF ? -EIO : rc;
    slot->job = begun;
    slot->opens = 1;
    *job = cpfs_job_ref(begun);
    return 0;
}

int
cpfs_jobs_open(CpfsJobs *jobs, const char *domain, const char *checkpoint, guint64 serial,
               const char *disk, CpfsImageFormat format, CpfsImage **image)
{
    gint64 deadline = g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US;
    guint64 epoch = cpfs_driver_epoch(jobs->ctx.drv);
    g_autoptr(GPtrArray) stale = g_ptr_array_new();
    Job *job = NULL;
    JobDisk *d = NULL;
    Slot *slot;
    int rc;

    g_mutex_lock(&jobs->lock);
    ensure_reaper(jobs);
    slot = slot_of(jobs, domain);
    if (!wait_slot(jobs, slot, deadline)) {
        g_mutex_unlock(&jobs->lock);
        cpfs_error("domain '%s': a backup job of it is still beginning or ending", domain);
        return -EIO;
    }
    rc = share_or_claim(jobs, slot, domain, checkpoint, serial, epoch, &job, stale);
    if (rc == 0)
        rc = begin_into_slot(jobs, slot, domain, checkpoint, serial, stale, &job);
    if (rc >= 0 && !(d = g_hash_table_lookup(job->disks, disk))) {
        rc = -ENOENT;
    } else if (rc >= 0 && format == CPFS_IMAGE_QCOW2 && !d->qcow2) {
        cpfs_error("domain '%s': disk %s is too large for a qcow2 image", domain, disk);
        rc = -EFBIG;
    }
    if (rc < 0 && job && slot->job == job && --slot->opens == 0) {
        slot->linger_until = g_get_monotonic_time()
                             + (gint64)(jobs->config.linger * G_USEC_PER_SEC);
        g_cond_broadcast(&jobs->changed);
    }
    g_mutex_unlock(&jobs->lock);
    if (rc < 0) {
        g_clear_pointer(&job, cpfs_job_unref);  /* not under the lock: may free it */
        return rc;
    }
    *image = g_new0(CpfsImage, 1);
    (*image)->job = job;
    (*image)->disk = d;
    (*image)->format = format;
    (*image)->drv = jobs->ctx.drv;
    (*image)->stream = cpfs_stream_new(*image, jobs->fills);
    return 0;
}

void
cpfs_image_close(CpfsJobs *jobs, CpfsImage *image)
{
    Slot *slot;

    g_mutex_lock(&jobs->lock);
    slot = g_hash_table_lookup(jobs->slots, image->job->domain);
    if (slot && slot->job == image->job && --slot->opens == 0) {
        slot->linger_until = g_get_monotonic_time()
                             + (gint64)(jobs->config.linger * G_USEC_PER_SEC);
        g_cond_broadcast(&jobs->changed);
    }
    g_mutex_unlock(&jobs->lock);
    cpfs_stream_free(image->stream);
    cpfs_job_unref(image->job);
    g_free(image);
}

/* DOMAIN's job if it serves the directory, referenced, else NULL. */
static Job *
job_serving(CpfsJobs *jobs, const char *domain, const char *checkpoint, guint64 serial)
{
    Job *job = NULL;
    Slot *slot;

    g_mutex_lock(&jobs->lock);
    slot = g_hash_table_lookup(jobs->slots, domain);
    if (slot && slot->job && cpfs_job_serves(slot->job, checkpoint, serial))
        job = cpfs_job_ref(slot->job);
    g_mutex_unlock(&jobs->lock);
    return job;
}

char *
cpfs_jobs_nbd_uri(CpfsJobs *jobs, const char *domain, const char *checkpoint, guint64 serial,
                  const char *disk)
{
    g_autoptr(Job) job = job_serving(jobs, domain, checkpoint, serial);
    JobDisk *d = job ? g_hash_table_lookup(job->disks, disk) : NULL;

    return d ? g_strdup(cpfs_nbd_uri(d->export)) : NULL;
}

guint
cpfs_jobs_count(CpfsJobs *jobs)
{
    GHashTableIter it;
    Slot *slot;
    guint n;

    g_mutex_lock(&jobs->lock);
    n = jobs->endings->len;
    g_hash_table_iter_init(&it, jobs->slots);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&slot))
        n += slot->job != NULL;
    g_mutex_unlock(&jobs->lock);
    return n;
}

gboolean
cpfs_jobs_served_size(CpfsJobs *jobs, const char *domain, const char *checkpoint, guint64 serial,
            const char *disk, CpfsImageFormat format, guint64 *size, guint64 *allocated)
{
    g_autoptr(Job) job = job_serving(jobs, domain, checkpoint, serial);
    JobDisk *d = job ? g_hash_table_lookup(job->disks, disk) : NULL;
    CpfsImage image = { .job = job, .disk = d, .format = format };

    if (!d)
        return FALSE;
    *size = cpfs_image_size(&image);
    *allocated = format == CPFS_IMAGE_RAW ? cpfs_extent_map_marked_bytes(d->allocated) : *size;
    return TRUE;
}

int
cpfs_jobs_image_size(CpfsJobs *jobs, const char *domain, const char *checkpoint,
                     guint64 serial, const char *disk, CpfsImageFormat format,
                     guint64 *size, guint64 *allocated)
{
    guint64 capacity = 0, used = 0;
    int rc;

    if (cpfs_jobs_served_size(jobs, domain, checkpoint, serial, disk, format, size, allocated))
        return 0;
    rc = cpfs_estimates_get(jobs->estimates, domain, checkpoint, serial, disk, &capacity,
                            &used);
    if (rc < 0)
        return rc;
    if (format == CPFS_IMAGE_RAW) {
        *size = capacity;
        *allocated = used;
    } else {
        *size = cpfs_qcow2_estimate(capacity, used);
        *allocated = *size;
    }
    return 0;
}
