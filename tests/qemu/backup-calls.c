/* The driver's backup calls and NBD reader against a real libvirtd and
 * QEMU, driven by q-backup-calls.sh.  Usage:
 *   backup-calls URI PHASE DOMAIN JOBDIR [CHECKPOINT]
 * PHASE "job": DOMAIN runs, has CHECKPOINT with 128 KiB of 0x22 written at
 *   8 MiB since; no job runs.  Starts an incremental job, checks what
 *   libvirt and the export say, ends it.
 * PHASE "inactive": DOMAIN is shut off: begin is ENOTSUP.
 * PHASE "stale": CHECKPOINT's bitmap is gone: begin is ESTALE.
 * PHASE "epoch": prints "epoch 1", reads a line from stdin (meanwhile
 *   libvirtd restarts), and waits until the driver reconnected: epoch 2.
 * Prints "ok - ..." lines; exits 1 on the first mismatch. */
#include "driver/backup.h"
#include "driver/nbd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                          \
            fprintf(stderr, "\n");                                          \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

static gint64
ms_since(gint64 start)
{
    return (g_get_monotonic_time() - start) / 1000;
}

/* The request for an incremental (or full, CHECKPOINT NULL) job on DISKS. */
static char *
request(const char *jobdir, const char *checkpoint, GPtrArray *disks)
{
    g_autofree char *socket = g_build_filename(jobdir, "nbd.sock", NULL);
    CpfsBackupRequest req = {
        .incremental = checkpoint, .socket_path = socket, .scratch_dir = jobdir,
        .scratch_prefix = "t-", .disks = disks, .all_disks = disks,
    };

    return cpfs_backup_request_xml(&req);
}

/* The export's changed runs hold 0x22, as written. */
static void
check_export(const CpfsBackupJobInfo *info, guint64 changed_bytes)
{
    CpfsNbdTarget target = { .socket_path = info->socket_path, .export_name = "vda",
                             .bitmap = "backup-vda" };
    g_autofree char *error = NULL;
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    g_autoptr(CpfsNbdExport) exp = cpfs_nbd_open(&target, 2, deadline, &error);
    g_autoptr(CpfsExtentMap) allocated = NULL;
    g_autoptr(CpfsExtentMap) changed = NULL;
    g_autofree guint8 *buf = NULL;
    const CpfsExtent *run;

    CHECK(exp, "open the export: %s", error);
    CHECK(cpfs_nbd_extents(exp, deadline, &allocated, &changed) == 0, "extents");
    CHECK(cpfs_extent_map_marked_bytes(changed) == changed_bytes,
          "the export's bitmap marks %" G_GUINT64_FORMAT " bytes, libvirt's size says %"
          G_GUINT64_FORMAT, cpfs_extent_map_marked_bytes(changed), changed_bytes);
    CHECK(cpfs_extent_map_n_runs(changed) == 1, "one changed run");
    run = cpfs_extent_map_run(changed, 0);
    CHECK(run->offset == 8 << 20, "changed at %" G_GUINT64_FORMAT, run->offset);
    buf = g_malloc(run->length);
    {
        CpfsDiskRead r = { 0, run->offset, run->length };

        CHECK(cpfs_nbd_read(exp, buf, &r, 1, deadline) == 0, "read the changed run");
    }
    for (gsize i = 0; i < run->length; i++)
        CHECK(buf[i] == 0x22, "byte %zu of the changed run is 0x%02x", i, buf[i]);
    printf("ok - the export (%s) shows the %" G_GUINT64_FORMAT " changed bytes, read back\n",
           cpfs_nbd_uri(exp), changed_bytes);
}

/* Starts the job, checks it, ends it. */
static void
phase_job(CpfsDriver *drv, const char *domain, const char *jobdir, const char *checkpoint)
{
    g_autofree char *domain_xml = NULL;
    g_autofree char *sized = NULL;
    g_autofree char *job_xml = NULL;
    g_autofree char *req = NULL;
    g_autoptr(GPtrArray) disks = NULL;
    g_autoptr(GPtrArray) cp_disks = NULL;
    g_autoptr(GHashTable) sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(CpfsBackupJobInfo) info = NULL;
    guint64 capacity = 0, allocation = 0;
    const guint64 *size;
    gint64 start;
    int rc;

    CHECK(cpfs_driver_backup_xml(drv, domain, &job_xml) == -ENOENT, "no job: ENOENT");
    CHECK(cpfs_driver_backup_abort(drv, domain) == 0, "abort with no job: 0");
    CHECK(cpfs_driver_domain_xml(drv, domain, &domain_xml) == 0, "domain XML");
    disks = cpfs_backup_domain_disks(domain_xml);
    CHECK(disks->len == 1 && strcmp(g_ptr_array_index(disks, 0), "vda") == 0, "disks: vda");
    CHECK(cpfs_driver_block_info(drv, domain, "vda", &capacity, &allocation) == 0,
          "block info");
    printf("block-info %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n", capacity, allocation);
    CHECK(cpfs_driver_checkpoint_xml_sized(drv, domain, checkpoint, &sized) == 0, "sized XML");
    cp_disks = cpfs_backup_checkpoint_disks(sized, sizes);
    size = g_hash_table_lookup(sizes, "vda");
    CHECK(cp_disks->len == 1 && size, "checkpoint covers vda with a size");
    printf("checkpoint-size %" G_GUINT64_FORMAT "\n", *size);

    req = request(jobdir, checkpoint, disks);
    start = g_get_monotonic_time();
    rc = cpfs_driver_backup_begin(drv, domain, req);
    CHECK(rc == 0, "begin: %s", g_strerror(-rc));
    printf("ok - begin took %" G_GINT64_FORMAT " ms\n", ms_since(start));
    start = g_get_monotonic_time();
    rc = cpfs_driver_backup_begin(drv, domain, req);
    CHECK(rc == -EBUSY, "second begin: %s", g_strerror(-rc));
    CHECK(ms_since(start) < 1000, "second begin took %" G_GINT64_FORMAT " ms", ms_since(start));
    printf("ok - a second begin is EBUSY after %" G_GINT64_FORMAT " ms\n", ms_since(start));

    CHECK(cpfs_driver_backup_xml(drv, domain, &job_xml) == 0, "job XML");
    info = cpfs_backup_job_info_parse(job_xml);
    CHECK(info && info->socket_path && g_str_has_prefix(info->socket_path, jobdir),
          "job info: %s", job_xml);
    CHECK(g_strcmp0(info->incremental, checkpoint) == 0, "job's incremental");
    CHECK(info->scratch_files->len == 1 &&
              g_str_has_suffix(g_ptr_array_index(info->scratch_files, 0), "/t-vda.scratch"),
          "scratch file");
    printf("ok - the job's XML names our socket, checkpoint and scratch file\n");
    check_export(info, *size);

    g_clear_pointer(&job_xml, g_free);
    start = g_get_monotonic_time();
    CHECK(cpfs_driver_backup_abort(drv, domain) == 0, "abort");
    while ((rc = cpfs_driver_backup_xml(drv, domain, &job_xml)) == 0 && ms_since(start) < 5000)
        g_clear_pointer(&job_xml, g_free);
    CHECK(rc == -ENOENT, "job still there after abort");
    printf("ok - abort ended the job in %" G_GINT64_FORMAT " ms\n", ms_since(start));
    CHECK(cpfs_driver_epoch(drv) == 1, "one connection made");
}

static void
ignore_event(const char *domain G_GNUC_UNUSED, CpfsDomainEvent event G_GNUC_UNUSED,
             void *opaque G_GNUC_UNUSED)
{
}

static void
ignore_reconnect(void *opaque G_GNUC_UNUSED)
{
}

/* The epoch counts the connections made: one more after libvirtd's
 * restart, once the monitor thread reconnected. */
static void
phase_epoch(CpfsDriver *drv, const char *domain)
{
    char line[16];
    g_autofree char *xml = NULL;
    gint64 deadline;

    CHECK(cpfs_driver_watch_domains(drv, ignore_event, ignore_reconnect, NULL) == 0, "watch");
    printf("epoch %" G_GUINT64_FORMAT "\n", cpfs_driver_epoch(drv));
    fflush(stdout);
    CHECK(fgets(line, sizeof(line), stdin), "no go-ahead on stdin");
    deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (cpfs_driver_epoch(drv) < 2 && g_get_monotonic_time() < deadline)
        cpfs_driver_wait_up(drv, MIN(deadline, g_get_monotonic_time() + G_USEC_PER_SEC / 10));
    CHECK(cpfs_driver_epoch(drv) == 2, "epoch %" G_GUINT64_FORMAT " after a restart",
          cpfs_driver_epoch(drv));
    CHECK(cpfs_driver_backup_xml(drv, domain, &xml) == -ENOENT, "a call after reconnecting");
    printf("ok - the epoch went from 1 to 2 when the driver reconnected\n");
    cpfs_driver_unwatch(drv);
}

int
main(int argc, char **argv)
{
    g_autofree char *error = NULL;
    g_autoptr(CpfsDriver) drv = NULL;
    g_autoptr(GPtrArray) disks = g_ptr_array_new();
    g_autofree char *req = NULL;
    int rc;

    CHECK(argc >= 5, "usage: backup-calls URI PHASE DOMAIN JOBDIR [CHECKPOINT]");
    drv = cpfs_driver_open(argv[1], FALSE, &error);
    CHECK(drv, "%s", error);
    g_ptr_array_add(disks, (char *)"vda");
    if (strcmp(argv[2], "job") == 0) {
        CHECK(argc == 6, "job needs a checkpoint");
        phase_job(drv, argv[3], argv[4], argv[5]);
        return 0;
    }
    if (strcmp(argv[2], "epoch") == 0) {
        phase_epoch(drv, argv[3]);
        return 0;
    }
    req = request(argv[4], argc > 5 ? argv[5] : NULL, disks);
    rc = cpfs_driver_backup_begin(drv, argv[3], req);
    if (strcmp(argv[2], "inactive") == 0) {
        CHECK(rc == -ENOTSUP, "begin on a shut off domain: %s", g_strerror(-rc));
        printf("ok - begin on a shut off domain is ENOTSUP\n");
    } else {
        CHECK(rc == -ESTALE, "begin from a broken checkpoint: %s", g_strerror(-rc));
        printf("ok - begin from checkpoint %s is ESTALE\n", argc > 5 ? argv[5] : "-");
    }
    return 0;
}
