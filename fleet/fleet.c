/* The hosts of a mount, and reloading them from the hosts file.
 *
 * Thread model: FUSE workers look hosts up (fleet->lock, a leaf held for a
 * table lookup only) and hold references while they use them.  The thread
 * that reloads (main.c's SIGHUP thread) builds new hosts outside the lock and
 * swaps the table under it.  A host's last reference may drop anywhere (a
 * FUSE worker releasing a file): its end, which waits for libvirt within the
 * call budget, runs on the closer thread, never on the thread that dropped it. */
#include "fleet/fleet.h"
#include "util/log.h"

#include <string.h>
#include <unistd.h>

struct _CpfsFleet {
    CpfsFleetConfig config;
    CpfsFleetEvents events;
    char *path;                 /* the hosts file, or NULL */
    char *source;               /* the path, or a single URI as libvirt reached it */
    CpfsHostsFile *file;        /* until started */
    CpfsDriver *single;         /* a single URI's driver, until started */
    GMutex lock;                /* guards hosts */
    GHashTable *hosts;          /* name ("" for a single URI) -> CpfsHost* (a reference) */
    GMutex reload_lock;         /* one reload at a time */
    GThreadPool *closer;        /* ends hosts nobody uses any more */
    guint64 gone_calls;         /* libvirt calls of hosts already freed (atomic) */
    char *backup_scratch;
};

/* Where local backup jobs keep their NBD sockets: a folder per URI, so that
 * a daemon finds what a killed one of its URI left. */
static char *
runtime_dir(const char *uri)
{
    g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, uri, -1);
    g_autofree char *base = getuid() == 0
        ? g_strdup("/run/checkpointfs")
        : g_build_filename(g_get_user_runtime_dir(), "checkpointfs", NULL);

    hash[16] = '\0';
    return g_build_filename(base, hash, NULL);
}

/* A lifecycle event of HOST's libvirt (on libvirt's event thread). */
static void
host_domain_event(const char *domain, CpfsDomainEvent event, void *opaque)
{
    CpfsHost *host = opaque;

    if (host->fleet->events.domain_event)
        host->fleet->events.domain_event(host, domain, event, host->fleet->events.opaque);
}

/* HOST's libvirt answers again (on its monitor thread). */
static void
host_reconnected(void *opaque)
{
    CpfsHost *host = opaque;

    if (host->fleet->events.reconnected)
        host->fleet->events.reconnected(host, host->fleet->events.opaque);
}

/* The backup jobs of HOST, or NULL when it has no image files. */
static CpfsJobs *
host_jobs(CpfsFleet *fleet, CpfsHost *host)
{
    const CpfsFleetConfig *config = &fleet->config;
    g_autofree char *dir = runtime_dir(host->uri);
    CpfsJobsConfig jobs_config = {
        .linger = config->backup_linger,
        .estimate_ttl = config->cache_timeout / 2,
        .runtime_dir = dir,
        .port_low = config->port_low,
        .port_high = config->port_high,
        .scratch_dir = host->backup_scratch ? host->backup_scratch : fleet->backup_scratch,
    };

    /* A read-only connection cannot begin a backup job. */
    if (host->readonly || !config->image_files)
        return NULL;
    return cpfs_jobs_new(host->drv, host->view, &jobs_config);
}

/* Makes host NAME on DRV (owned) and starts its threads. */
static CpfsHost *
host_new(CpfsFleet *fleet, const char *name, CpfsDriver *drv, gboolean readonly_key,
         const char *backup_scratch)
{
    CpfsHost *host = g_new0(CpfsHost, 1);

    host->refs = 1;
    host->fleet = fleet;
    host->name = g_strdup(name);
    host->drv = drv;
    host->uri = g_strdup(cpfs_driver_uri(drv));
    host->readonly_key = readonly_key;
    host->readonly = fleet->config.readonly || readonly_key;
    host->backup_scratch = g_strdup(backup_scratch);
    host->view = cpfs_view_new(drv, fleet->config.cache_timeout);
    host->jobs = host_jobs(fleet, host);
    if (cpfs_driver_watch_domains(drv, host_domain_event, host_reconnected, host) < 0)
        cpfs_warn("%s: no domain events: domains defined or undefined outside show within "
                  "cache_timeout only", host->uri);
    return host;
}

/* The host a hosts file's SPEC describes; it connects on its own thread. */
static CpfsHost *
host_from_spec(CpfsFleet *fleet, const CpfsHostSpec *spec)
{
    gboolean readonly = fleet->config.readonly || spec->readonly;

    return host_new(fleet, spec->name, cpfs_driver_new(spec->uri, readonly), spec->readonly,
                    spec->backup_scratch);
}

/* Ends HOST: its threads, its jobs, its connection (on the closer thread). */
static void
host_free(gpointer data, gpointer user_data G_GNUC_UNUSED)
{
    CpfsHost *host = data;

    cpfs_driver_unwatch(host->drv);
    g_clear_pointer(&host->jobs, cpfs_jobs_free);
    cpfs_view_free(host->view);
    __atomic_add_fetch(&host->fleet->gone_calls, cpfs_driver_calls(host->drv), __ATOMIC_RELAXED);
    cpfs_driver_free(host->drv);
    g_free(host->name);
    g_free(host->uri);
    g_free(host->backup_scratch);
    g_free(host);
}

CpfsHost *
cpfs_host_ref(CpfsHost *host)
{
    g_atomic_int_inc(&host->refs);
    return host;
}

void
cpfs_host_unref(CpfsHost *host)
{
    if (host && g_atomic_int_dec_and_test(&host->refs))
        g_thread_pool_push(host->fleet->closer, host, NULL);
}

gboolean
cpfs_host_removed(CpfsHost *host)
{
    return g_atomic_int_get(&host->removed);
}

/* A fleet without hosts yet, sharing CONFIG. */
static CpfsFleet *
fleet_new(const CpfsFleetConfig *config)
{
    CpfsFleet *fleet = g_new0(CpfsFleet, 1);

    fleet->config = *config;
    fleet->backup_scratch = g_strdup(config->backup_scratch);
    fleet->config.backup_scratch = fleet->backup_scratch;
    g_mutex_init(&fleet->lock);
    g_mutex_init(&fleet->reload_lock);
    fleet->hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)cpfs_host_unref);
    /* Not exclusive: its thread starts at the first push, after daemonizing. */
    fleet->closer = g_thread_pool_new(host_free, NULL, 1, FALSE, NULL);
    return fleet;
}

CpfsFleet *
cpfs_fleet_new_single(CpfsDriver *drv, const CpfsFleetConfig *config)
{
    CpfsFleet *fleet = fleet_new(config);

    fleet->single = drv;
    fleet->source = g_strdup(cpfs_driver_uri(drv));
    return fleet;
}

CpfsFleet *
cpfs_fleet_new_file(const char *path, CpfsHostsFile *file, const CpfsFleetConfig *config)
{
    CpfsFleet *fleet = fleet_new(config);

    fleet->path = g_strdup(path);
    fleet->source = g_strdup(path);
    fleet->file = file;
    return fleet;
}

void
cpfs_fleet_start(CpfsFleet *fleet, const CpfsFleetEvents *events)
{
    g_autoptr(CpfsHostsFile) file = g_steal_pointer(&fleet->file);
    GHashTable *hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify)cpfs_host_unref);

    fleet->events = *events;
    if (fleet->single) {
        g_hash_table_insert(hosts, g_strdup(""),
                            host_new(fleet, NULL, g_steal_pointer(&fleet->single), FALSE, NULL));
    }
    for (guint i = 0; file && i < cpfs_hosts_file_count(file); i++) {
        const CpfsHostSpec *spec = cpfs_hosts_file_get(file, i);

        g_hash_table_insert(hosts, g_strdup(spec->name), host_from_spec(fleet, spec));
    }
    if (fleet->path)
        cpfs_info("%s: %u hosts", fleet->path, g_hash_table_size(hosts));
    g_mutex_lock(&fleet->lock);
    g_hash_table_unref(fleet->hosts);
    fleet->hosts = hosts;
    g_mutex_unlock(&fleet->lock);
}

void
cpfs_fleet_stop(CpfsFleet *fleet)
{
    g_autoptr(GPtrArray) hosts = cpfs_fleet_hosts(fleet);

    for (guint i = 0; i < hosts->len; i++)
        cpfs_driver_unwatch(((CpfsHost *)hosts->pdata[i])->drv);
}

void
cpfs_fleet_free(CpfsFleet *fleet)
{
    if (!fleet)
        return;
    g_mutex_lock(&fleet->lock);
    g_hash_table_remove_all(fleet->hosts);
    g_mutex_unlock(&fleet->lock);
    /* Waits for every host queued to end: all are, as handles went first. */
    g_thread_pool_free(fleet->closer, FALSE, TRUE);
    g_hash_table_unref(fleet->hosts);
    cpfs_driver_free(fleet->single);
    cpfs_hosts_file_free(fleet->file);
    g_mutex_clear(&fleet->lock);
    g_mutex_clear(&fleet->reload_lock);
    g_free(fleet->path);
    g_free(fleet->source);
    g_free(fleet->backup_scratch);
    g_free(fleet);
}

gboolean
cpfs_fleet_has_hosts(CpfsFleet *fleet)
{
    return fleet->path != NULL;
}

const char *
cpfs_fleet_path(CpfsFleet *fleet)
{
    return fleet->path;
}

const char *
cpfs_fleet_source(CpfsFleet *fleet)
{
    return fleet->source;
}

CpfsHost *
cpfs_fleet_host(CpfsFleet *fleet, const char *name)
{
    CpfsHost *host;

    g_mutex_lock(&fleet->lock);
    host = g_hash_table_lookup(fleet->hosts, name ? name : "");
    if (host)
        cpfs_host_ref(host);
    g_mutex_unlock(&fleet->lock);
    return host;
}

/* Sorts hosts by name (a single URI's, nameless, first). */
static gint
host_order(gconstpointer a, gconstpointer b)
{
    const CpfsHost *ha = *(CpfsHost *const *)a;
    const CpfsHost *hb = *(CpfsHost *const *)b;

    return g_strcmp0(ha->name, hb->name);
}

GPtrArray *
cpfs_fleet_hosts(CpfsFleet *fleet)
{
    GPtrArray *hosts = g_ptr_array_new_with_free_func((GDestroyNotify)cpfs_host_unref);
    GHashTableIter it;
    gpointer host;

    g_mutex_lock(&fleet->lock);
    g_hash_table_iter_init(&it, fleet->hosts);
    while (g_hash_table_iter_next(&it, NULL, &host))
        g_ptr_array_add(hosts, cpfs_host_ref(host));
    g_mutex_unlock(&fleet->lock);
    g_ptr_array_sort(hosts, host_order);
    return hosts;
}

GPtrArray *
cpfs_fleet_host_names(CpfsFleet *fleet)
{
    g_autoptr(GPtrArray) hosts = cpfs_fleet_hosts(fleet);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < hosts->len; i++) {
        CpfsHost *host = hosts->pdata[i];

        if (host->name)
            g_ptr_array_add(names, g_strdup(host->name));
    }
    return names;
}

guint64
cpfs_fleet_calls(CpfsFleet *fleet)
{
    g_autoptr(GPtrArray) hosts = cpfs_fleet_hosts(fleet);
    guint64 calls = __atomic_load_n(&fleet->gone_calls, __ATOMIC_RELAXED);

    for (guint i = 0; i < hosts->len; i++)
        calls += cpfs_driver_calls(((CpfsHost *)hosts->pdata[i])->drv);
    return calls;
}

/* TRUE when HOST was made from what SPEC says (a host keeps no spec: the
 * file it came from is gone by the next reload). */
static gboolean
host_matches(const CpfsHost *host, const CpfsHostSpec *spec)
{
    return g_strcmp0(host->uri, spec->uri) == 0 && host->readonly_key == spec->readonly
           && g_strcmp0(host->backup_scratch, spec->backup_scratch) == 0;
}

/* Tells the filesystem about every name of NAMES. */
static void
announce(CpfsFleet *fleet, GPtrArray *names)
{
    for (guint i = 0; i < names->len && fleet->events.host_changed; i++)
        fleet->events.host_changed(names->pdata[i], fleet->events.opaque);
}

/* The table FILE describes, reusing OLD's unchanged hosts; the names that
 * came, went or changed are added to CHANGED. */
static GHashTable *
hosts_after(CpfsFleet *fleet, CpfsHostsFile *file, GHashTable *old, GPtrArray *changed)
{
    GHashTable *hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify)cpfs_host_unref);
    GHashTableIter it;
    gpointer name, host;

    for (guint i = 0; i < cpfs_hosts_file_count(file); i++) {
        const CpfsHostSpec *spec = cpfs_hosts_file_get(file, i);
        CpfsHost *was = g_hash_table_lookup(old, spec->name);

        if (was && host_matches(was, spec)) {
            g_hash_table_insert(hosts, g_strdup(spec->name), cpfs_host_ref(was));
            continue;
        }
        cpfs_info("%s: host '%s' %s (%s)", fleet->path, spec->name,
                  was ? "changed" : "added", spec->uri);
        g_hash_table_insert(hosts, g_strdup(spec->name), host_from_spec(fleet, spec));
        g_ptr_array_add(changed, g_strdup(spec->name));
    }
    g_hash_table_iter_init(&it, old);
    while (g_hash_table_iter_next(&it, &name, &host)) {
        if (!g_hash_table_contains(hosts, name)) {
            cpfs_info("%s: host '%s' removed", fleet->path, (char *)name);
            g_ptr_array_add(changed, g_strdup(name));
        }
    }
    return hosts;
}

gboolean
cpfs_fleet_reload(CpfsFleet *fleet, char **error)
{
    g_autoptr(CpfsHostsFile) file = NULL;
    g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) old = NULL;
    GHashTable *hosts;
    GHashTableIter it;
    gpointer name, host;

    if (!fleet->path)
        return TRUE;
    if (!(file = cpfs_hosts_file_load(fleet->path, error)))
        return FALSE;
    g_mutex_lock(&fleet->reload_lock);
    g_mutex_lock(&fleet->lock);
    old = g_hash_table_ref(fleet->hosts);
    g_mutex_unlock(&fleet->lock);
    /* New hosts connect on their own threads: nothing here waits for libvirt. */
    hosts = hosts_after(fleet, file, old, changed);
    g_mutex_lock(&fleet->lock);
    fleet->hosts = hosts;
    g_mutex_unlock(&fleet->lock);
    /* The table's own reference; OLD stays ours until we return. */
    g_hash_table_unref(old);
    /* Hosts replaced or gone fail their open files from now on, and stop
     * reconnecting; their connection closes once those files are closed. */
    g_hash_table_iter_init(&it, old);
    while (g_hash_table_iter_next(&it, &name, &host)) {
        if (g_hash_table_lookup(hosts, name) != host) {
            g_atomic_int_set(&((CpfsHost *)host)->removed, TRUE);
            cpfs_driver_unwatch(((CpfsHost *)host)->drv);
        }
    }
    g_mutex_unlock(&fleet->reload_lock);
    cpfs_info("%s: reloaded: %u hosts, %u changed", fleet->path, g_hash_table_size(hosts),
              changed->len);
    announce(fleet, changed);
    return TRUE;
}
