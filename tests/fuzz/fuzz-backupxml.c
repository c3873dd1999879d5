/* libFuzzer target: the readers of libvirt's backup job, domain and
 * checkpoint XML, and the request builder, which must carry what a job
 * names (socket or host, incremental checkpoint) through unchanged. */
#include <stdint.h>
#include <string.h>

#include "driver/backup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* NAMES are non-empty, strictly increasing (sorted and unique). */
static void
check_names(const GPtrArray *names)
{
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);

        if (!name || !*name || (i > 0 && strcmp(g_ptr_array_index(names, i - 1), name) >= 0))
            __builtin_trap();
    }
}

/* A request built from INFO parses back to the same endpoint. */
static void
check_round_trip(const CpfsBackupJobInfo *info, GPtrArray *disks)
{
    CpfsBackupRequest req = {
        .incremental = info->incremental, .socket_path = info->socket_path,
        .tcp_host = info->tcp_host, .tcp_port = info->tcp_port, .scratch_dir = "/s",
        .scratch_prefix = "p", .disks = disks, .all_disks = disks,
    };
    g_autofree char *xml = cpfs_backup_request_xml(&req);
    g_autoptr(CpfsBackupJobInfo) back = cpfs_backup_job_info_parse(xml);

    if (!back || g_strcmp0(back->socket_path, info->socket_path) != 0 ||
        g_strcmp0(back->tcp_host, info->tcp_host) != 0 ||
        (!info->socket_path && back->tcp_port != info->tcp_port) ||
        g_strcmp0(back->incremental, info->incremental) != 0 ||
        back->scratch_files->len != disks->len)
        __builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = g_strndup((const char *)data, size);
    g_autoptr(CpfsBackupJobInfo) info = cpfs_backup_job_info_parse(xml);
    g_autoptr(GPtrArray) domain_disks = cpfs_backup_domain_disks(xml);
    g_autoptr(GHashTable) sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GPtrArray) checkpoint_disks = cpfs_backup_checkpoint_disks(xml, sizes);

    check_names(domain_disks);
    check_names(checkpoint_disks);
    /* Sizes belong to disks the checkpoint covers. */
    if (g_hash_table_size(sizes) > checkpoint_disks->len)
        __builtin_trap();
    if (info) {
        /* A pull job always names where its server listens. */
        if (!(info->socket_path && *info->socket_path) &&
            !(info->tcp_host && *info->tcp_host && info->tcp_port > 0 &&
              info->tcp_port <= 65535))
            __builtin_trap();
        if (info->incremental && !*info->incremental)
            __builtin_trap();
        check_round_trip(info, checkpoint_disks);
    }
    return 0;
}
