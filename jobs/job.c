/* One backup job: its disks, its runtime folder, its begin in libvirt, its
 * exports and layouts, and its end. */
#include "jobs/job.h"
#include "util/log.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Connections per export: enough requests in flight to keep QEMU busy. */
#define EXPORT_CONNECTIONS 4
#define SOCKET_NAME "nbd.sock"
/* How long an end waits for libvirt to let go of the job, and how often
 * it looks (measured: about 40 ms). */
#define END_WAIT_US (2 * G_USEC_PER_SEC)
#define END_POLL_US (G_USEC_PER_SEC / 50)

/* Frees D: its export's connections, its maps and layout. */
static void
job_disk_free(JobDisk *d)
{
    g_free(d->name);
    g_clear_pointer(&d->export, cpfs_nbd_close);
    g_clear_pointer(&d->allocated, cpfs_extent_map_free);
    g_clear_pointer(&d->changed, cpfs_extent_map_free);
    g_clear_pointer(&d->qcow2, cpfs_qcow2_layout_free);
    g_free(d);
}

/* Removes what QEMU left in FOLDER (its socket). */
static void
remove_folder(const char *folder)
{
    g_autoptr(GDir) dir = g_dir_open(folder, 0, NULL);
    const char *entry;

    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(folder, entry, NULL);

        g_unlink(path);
    }
    if (g_rmdir(folder) < 0 && errno != ENOENT)
        cpfs_warn("backup folder %s: cannot remove: %s", folder, g_strerror(errno));
}

Job *
cpfs_job_ref(Job *job)
{
    g_atomic_int_inc(&job->refs);
    return job;
}

void
cpfs_job_unref(Job *job)
{
    if (!job || !g_atomic_int_dec_and_test(&job->refs))
        return;
    g_clear_pointer(&job->disks, g_hash_table_unref);
    if (job->folder)
        remove_folder(job->folder);
    g_free(job->folder);
    g_free(job->socket_path);
    g_free(job->scratch_prefix);
    g_free(job->domain);
    g_free(job->checkpoint);
    g_free(job);
}

gboolean
cpfs_job_broken(const Job *job)
{
    GHashTableIter it;
    JobDisk *d;

    g_hash_table_iter_init(&it, job->disks);
    while (g_hash_table_iter_next(&it, NULL, (gpointer *)&d)) {
        if (!d->export || cpfs_nbd_broken(d->export))
            return TRUE;
    }
    return FALSE;
}

gboolean
cpfs_job_serves(const Job *job, const char *checkpoint, guint64 serial)
{
    if (!job->checkpoint || !checkpoint)
        return !job->checkpoint && !checkpoint;
    return strcmp(job->checkpoint, checkpoint) == 0 && job->serial == serial;
}

/* Checkpoint NAME (incarnation SERIAL, 0: any) of DOMAIN's XML into *XML. */
static int
checkpoint_document(CpfsView *view, const char *domain, const char *name, guint64 serial,
                    char **xml)
{
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    CpfsCheckpoint *cp;
    int rc;

    if ((rc = cpfs_view_checkpoints(view, domain, &tree)) < 0)
        return rc;
    cp = cpfs_checkpoint_tree_lookup(tree, name);
    if (!cp || (serial && cp->serial != serial))
        return -ENOENT;
    return cpfs_view_checkpoint_xml(view, domain, cp, xml);
}

int
cpfs_job_disks(JobContext *ctx, const char *domain, const char *checkpoint, guint64 serial,
               GPtrArray **disks)
{
    g_autofree char *domain_xml = NULL;
    g_autofree char *checkpoint_xml = NULL;
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GPtrArray) covered = NULL;
    int rc;

    if ((rc = cpfs_view_domain_xml(ctx->view, domain, &domain_xml)) < 0)
        return rc;
    all = cpfs_backup_domain_disks(domain_xml);
    if (!checkpoint) {
        *disks = g_steal_pointer(&all);
        return 0;
    }
    if ((rc = checkpoint_document(ctx->view, domain, checkpoint, serial, &checkpoint_xml)) < 0)
        return rc;
    covered = cpfs_backup_checkpoint_disks(checkpoint_xml, NULL);
    *disks = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < covered->len; i++) {
        if (g_ptr_array_find_with_equal_func(all, covered->pdata[i], g_str_equal, NULL))
            g_ptr_array_add(*disks, g_strdup(covered->pdata[i]));
    }
    return 0;
}

/* The pid in a folder name "job-PID-XXXXXX" under RUNTIME_DIR that PATH
 * lies in, or 0 when PATH is not in such a folder. */
static pid_t
folder_pid(const char *runtime_dir, const char *path)
{
    gsize len = strlen(runtime_dir);
    const char *p;
    char *end;
    long pid;

    if (!path || strncmp(path, runtime_dir, len) != 0 || path[len] != '/')
        return 0;
    p = path + len + 1;
    if (!g_str_has_prefix(p, "job-"))
        return 0;
    pid = strtol(p + 4, &end, 10);
    return *end == '-' && pid > 0 ? (pid_t)pid : 0;
}

/* The pid in the scratch file names of a job made by a daemon of this
 * machine ("checkpointfs-MACHINEID-PID-..."), or 0. */
static pid_t
scratch_pid(JobContext *ctx, const CpfsBackupJobInfo *info)
{
    g_autofree char *prefix = g_strdup_printf("checkpointfs-%s-", ctx->machine_id);

    for (guint i = 0; info->scratch_files && i < info->scratch_files->len; i++) {
        g_autofree char *base = g_path_get_basename(info->scratch_files->pdata[i]);
        char *end;
        long pid;

        if (!g_str_has_prefix(base, prefix))
            continue;
        pid = strtol(base + strlen(prefix), &end, 10);
        if (*end == '-' && pid > 0)
            return (pid_t)pid;
    }
    return 0;
}

/* Waits a while for DOMAIN's backup job to be gone: libvirt answers the
 * abort before the job has ended, and a begin meanwhile would be refused
 * as busy. */
static void
wait_gone(JobContext *ctx, const char *domain)
{
    gint64 deadline = g_get_monotonic_time() + END_WAIT_US;

    while (g_get_monotonic_time() < deadline) {
        g_autofree char *xml = NULL;

        if (cpfs_driver_backup_xml(ctx->drv, domain, &xml) < 0)
            return;  /* gone (-ENOENT), or libvirt cannot say */
        g_usleep(END_POLL_US);
    }
    cpfs_warn("domain '%s': its backup job was ended but has not gone yet", domain);
}

/* Ends DOMAIN's running job when a daemon of ours that is dead left it
 * behind: TRUE when it did (a begin may then be tried again). */
static gboolean
end_left_behind(JobContext *ctx, const char *domain)
{
    g_autofree char *xml = NULL;
    g_autoptr(CpfsBackupJobInfo) info = NULL;
    pid_t pid;

    if (cpfs_driver_backup_xml(ctx->drv, domain, &xml) < 0)
        return FALSE;
    if (!(info = cpfs_backup_job_info_parse(xml)))
        return FALSE;
    pid = ctx->tcp_host ? scratch_pid(ctx, info)
                        : folder_pid(ctx->config->runtime_dir, info->socket_path);
    if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
        return FALSE;
    cpfs_info("domain '%s': ending the backup job left by checkpointfs process %d",
              domain, (int)pid);
    if (cpfs_driver_backup_abort(ctx->drv, domain) < 0)
        return FALSE;
    wait_gone(ctx, domain);
    if (info->socket_path) {
        g_autofree char *folder = g_path_get_dirname(info->socket_path);

        remove_folder(folder);
    }
    return TRUE;
}

/* Makes JOB's runtime folder, where QEMU (maybe another user) creates the
 * socket: sticky and writable by all, inside a folder only its owner can
 * list. */
static int
make_folder(JobContext *ctx, Job *job)
{
    g_autofree char *tmpl = g_strdup_printf("%s/job-%d-XXXXXX", ctx->config->runtime_dir,
                                            (int)getpid());

    if (g_mkdir_with_parents(ctx->config->runtime_dir, 0711) < 0 || !g_mkdtemp_full(tmpl, 0700)
        || chmod(tmpl, 01733) < 0) {
        int err = errno;

        cpfs_error("backup folder %s: %s", tmpl, g_strerror(err));
        return -EIO;
    }
    job->folder = g_steal_pointer(&tmpl);
    job->socket_path = g_build_filename(job->folder, SOCKET_NAME, NULL);
    if (strlen(job->socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        cpfs_error("backup socket %s: the path is too long for a unix socket", job->socket_path);
        return -EIO;
    }
    return 0;
}

/* The <domainbackup> request of JOB for DISKS out of ALL.  Scratch files
 * grow with the guest's writes while the job lives: they go to the
 * scratch folder (a disk, not the runtime folder's tmpfs), named after this
 * machine and process so that nobody else's are taken for ours. */
static char *
request_xml(JobContext *ctx, Job *job, GPtrArray *disks, GPtrArray *all)
{
    CpfsBackupRequest req = {
        .incremental = job->checkpoint,
        .disks = disks,
        .all_disks = all,
        .scratch_dir = ctx->config->scratch_dir,
        .scratch_prefix = job->scratch_prefix,
    };

    if (ctx->tcp_host) {
        req.tcp_host = ctx->tcp_host;
        req.tcp_port = job->tcp_port;
    } else {
        req.socket_path = job->socket_path;
    }
    return cpfs_backup_request_xml(&req);
}

/* Connects to DISK's export of JOB and learns its extents and layout. */
static int
open_disk(JobContext *ctx, Job *job, const char *disk, gint64 deadline)
{
    g_autofree char *bitmap = job->checkpoint ? g_strdup_printf("backup-%s", disk) : NULL;
    g_autofree char *error = NULL;
    CpfsNbdTarget target = {
        .socket_path = job->socket_path,
        .tcp_host = ctx->tcp_host,
        .tcp_port = job->tcp_port,
        .export_name = disk,
        .bitmap = bitmap,
    };
    JobDisk *d = g_new0(JobDisk, 1);
    int rc;

    d->name = g_strdup(disk);
    g_hash_table_insert(job->disks, d->name, d);
    d->export = cpfs_nbd_open(&target, EXPORT_CONNECTIONS, deadline, &error);
    if (!d->export) {
        cpfs_error("domain '%s': backup export of %s: %s", job->domain, disk, error);
        return -EIO;
    }
    rc = cpfs_nbd_extents(d->export, deadline, &d->allocated,
                          job->checkpoint ? &d->changed : NULL);
    if (rc < 0) {
        if (rc == -ESTALE)
            cpfs_error("domain '%s': checkpoint '%s': the backup export of %s has no bitmap "
                       "%s: take a full backup", job->domain, job->checkpoint, disk, bitmap);
        return rc;
    }
    d->qcow2 = job->checkpoint ? cpfs_qcow2_overlay(d->allocated, d->changed)
                               : cpfs_qcow2_full(d->allocated);
    return 0;
}

/* Asks libvirt to begin JOB, ending a job a dead daemon of ours left. */
static int
begin_in_libvirt(JobContext *ctx, Job *job, const char *xml)
{
    int rc = cpfs_driver_backup_begin(ctx->drv, job->domain, xml);

    if (rc == -EBUSY && end_left_behind(ctx, job->domain))
        rc = cpfs_driver_backup_begin(ctx->drv, job->domain, xml);
    return rc;
}

int
cpfs_job_begin(JobContext *ctx, const char *domain, const char *checkpoint, guint64 serial,
               int port, Job **out)
{
    gint64 deadline = g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US;
    g_autoptr(Job) job = g_new0(Job, 1);
    g_autoptr(GPtrArray) disks = NULL;
    g_autofree char *domain_xml = NULL;
    g_autoptr(GPtrArray) all = NULL;
    g_autofree char *xml = NULL;
    int rc;

    job->refs = 1;
    job->domain = g_strdup(domain);
    job->checkpoint = g_strdup(checkpoint);
    job->serial = serial;
    job->tcp_port = ctx->tcp_host ? port : 0;
    job->disks = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify)job_disk_free);
    job->epoch = cpfs_driver_epoch(ctx->drv);
    job->scratch_prefix = g_strdup_printf("checkpointfs-%s-%d-%s-", ctx->machine_id,
                                          (int)getpid(), domain);
    if ((rc = cpfs_view_domain_xml(ctx->view, domain, &domain_xml)) < 0)
        return rc;
    all = cpfs_backup_domain_disks(domain_xml);
    if ((rc = cpfs_job_disks(ctx, domain, checkpoint, serial, &disks)) < 0)
        return rc;
    if (!ctx->tcp_host && (rc = make_folder(ctx, job)) < 0)
        return rc;
    xml = request_xml(ctx, job, disks, all);
    rc = begin_in_libvirt(ctx, job, xml);
    if (rc == CPFS_DRIVER_CUT_OFF) {
        /* libvirt may run it: the caller hands it to the reaper. */
        *out = g_steal_pointer(&job);
        return rc;
    }
    if (rc < 0)
        return rc;
    for (guint i = 0; i < disks->len && rc == 0; i++)
        rc = open_disk(ctx, job, disks->pdata[i], deadline);
    if (rc < 0) {
        if (cpfs_job_end(ctx, job) < 0)
            *out = g_steal_pointer(&job);  /* libvirt still runs it */
        return rc;
    }
    cpfs_info("domain '%s': backup job begun for %s%s (%u disks)", domain,
              checkpoint ? "checkpoint " : "the whole disks", checkpoint ? checkpoint : "",
              disks->len);
    *out = g_steal_pointer(&job);
    return 0;
}

/* TRUE when the job libvirt runs on JOB's domain is JOB itself: its
 * socket, or (TCP) its port and scratch files named by this process. */
static gboolean
runs_in_libvirt(const CpfsBackupJobInfo *info, const Job *job)
{
    if (job->socket_path)
        return g_strcmp0(info->socket_path, job->socket_path) == 0;
    if (info->socket_path || info->tcp_port != job->tcp_port)
        return FALSE;
    for (guint i = 0; info->scratch_files && i < info->scratch_files->len; i++) {
        g_autofree char *base = g_path_get_basename(info->scratch_files->pdata[i]);

        if (g_str_has_prefix(base, job->scratch_prefix))
            return TRUE;
    }
    return FALSE;
}

int
cpfs_job_end(JobContext *ctx, Job *job)
{
    g_autofree char *xml = NULL;
    g_autoptr(CpfsBackupJobInfo) info = NULL;
    int rc = cpfs_driver_backup_xml(ctx->drv, job->domain, &xml);

    if (rc == -ENOENT)
        return 1;  /* libvirt ended it (or has not begun it yet) */
    if (rc < 0)
        return -EIO;
    info = cpfs_backup_job_info_parse(xml);
    /* Another job now (a daemon restart, another tool): not ours to end. */
    if (!info || !runs_in_libvirt(info, job))
        return 0;
    rc = cpfs_driver_backup_abort(ctx->drv, job->domain);
    if (rc < 0)
        return -EIO;
    wait_gone(ctx, job->domain);
    cpfs_info("domain '%s': backup job ended", job->domain);
    return 0;
}
