/* Unit tests of the backup XML builder and readers (driver/backupxml.c).
 * Requests are judged by libvirt's own schema (virt-xml-validate) and by
 * libxml2; the parsers read documents libvirt 9.0 really wrote. */
#include "unit-common.h"
#include "driver/backup.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

/* virsh backup-dumpxml of a running incremental pull job (libvirt 9.0,
 * QEMU 7.2), with a second disk left out. */
static const char job_incremental[] =
    "<domainbackup mode='pull'>\n"
    "  <incremental>c1</incremental>\n"
    "  <server transport='unix' socket='/tmp/cpfs-test.vTEsuM/job/nbd.sock'/>\n"
    "  <disks>\n"
    "    <disk name='vda' backup='yes' type='file' backupmode='incremental' "
    "incremental='c1' exportname='vda' exportbitmap='backup-vda' index='2'>\n"
    "      <driver type='qcow2'/>\n"
    "      <scratch file='/tmp/cpfs-test.vTEsuM/job/vda.scratch'/>\n"
    "    </disk>\n"
    "    <disk name='vdb' backup='no'/>\n"
    "  </disks>\n"
    "</domainbackup>\n";

/* The same for a full backup over TCP (transport='tcp' as libvirt writes it). */
static const char job_full_tcp[] =
    "<domainbackup mode='pull'>\n"
    "  <server transport='tcp' name='127.0.0.1' port='10899'/>\n"
    "  <disks>\n"
    "    <disk name='vda' backup='yes' type='file' backupmode='full' exportname='vda' "
    "index='2'>\n"
    "      <driver type='qcow2'/>\n"
    "      <scratch file='/var/tmp/j/vda.scratch'/>\n"
    "    </disk>\n"
    "  </disks>\n"
    "</domainbackup>\n";

/* virsh checkpoint-dumpxml one c1 --size --no-domain after a 128 KiB write,
 * with a disk that takes no part added. */
static const char checkpoint_sized[] =
    "<domaincheckpoint>\n"
    "  <name>c1</name>\n"
    "  <creationTime>1796213525</creationTime>\n"
    "  <disks>\n"
    "    <disk name='vdb' checkpoint='bitmap' bitmap='c1'/>\n"
    "    <disk name='vda' checkpoint='bitmap' bitmap='c1' size='131072'/>\n"
    "    <disk name='sda' checkpoint='no'/>\n"
    "  </disks>\n"
    "</domaincheckpoint>\n";

/* The value of XPATH (a string expression) in XML. */
static char *
xpath_string(const char *xml, const char *xpath)
{
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, XML_PARSE_NONET);
    xmlXPathContext *ctx;
    xmlXPathObject *obj;
    char *value;

    g_assert_nonnull(doc);
    ctx = xmlXPathNewContext(doc);
    obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
    g_assert_nonnull(obj);
    value = g_strdup((const char *)(obj->stringval ? obj->stringval : BAD_CAST ""));
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return value;
}

/* libvirt's own validator accepts XML as a <domainbackup>. */
static void
assert_valid_backup(const char *xml)
{
    g_autofree char *path = g_build_filename(g_get_tmp_dir(), "unit-backupxml-XXXXXX", NULL);
    int fd = g_mkstemp(path);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) error = NULL;
    int status = -1;
    const char *argv[] = { "virt-xml-validate", path, "domainbackup", NULL };

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(g_file_set_contents(path, xml, -1, NULL));
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error))
        g_error("cannot run virt-xml-validate: %s", error->message);
    g_unlink(path);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("virt-xml-validate rejects:\n%s\n%s%s", xml, out, err);
}

static GPtrArray *
names(const char *first, ...)
{
    GPtrArray *array = g_ptr_array_new_with_free_func(g_free);
    va_list ap;

    va_start(ap, first);
    for (const char *n = first; n; n = va_arg(ap, const char *))
        g_ptr_array_add(array, g_strdup(n));
    va_end(ap);
    return array;
}

static void
test_request_unix(void)
{
    g_autoptr(GPtrArray) disks = names("vda", NULL);
    g_autoptr(GPtrArray) all = names("vda", "vdb", NULL);
    CpfsBackupRequest req = {
        .incremental = "c1", .socket_path = "/run/checkpointfs/ab/job-1-x/nbd.sock",
        .scratch_dir = "/run/checkpointfs/ab/job-1-x", .scratch_prefix = "p-",
        .disks = disks, .all_disks = all,
    };
    g_autofree char *xml = cpfs_backup_request_xml(&req);
    g_autoptr(CpfsBackupJobInfo) info = NULL;
    g_autofree char *v = NULL;

    assert_valid_backup(xml);
    g_assert_cmpstr((v = xpath_string(xml, "string(/domainbackup/@mode)")), ==, "pull");
    g_free(v);
    g_assert_cmpstr((v = xpath_string(xml, "string(//disk[@name='vda']/@backup)")), ==, "yes");
    g_free(v);
    g_assert_cmpstr((v = xpath_string(xml, "string(//disk[@name='vda']/@type)")), ==, "file");
    g_free(v);
    g_assert_cmpstr((v = xpath_string(xml, "string(//disk[@name='vdb']/@backup)")), ==, "no");
    g_free(v);
    g_assert_cmpstr((v = xpath_string(xml, "string(count(//disk))")), ==, "2");
    g_free(v);
    g_assert_cmpstr((v = xpath_string(xml, "string(count(//disk[@name='vdb']/*))")), ==, "0");

    /* What libvirt reports back about such a job parses to the request. */
    info = cpfs_backup_job_info_parse(xml);
    g_assert_nonnull(info);
    g_assert_cmpstr(info->socket_path, ==, req.socket_path);
    g_assert_null(info->tcp_host);
    g_assert_cmpstr(info->incremental, ==, "c1");
    g_assert_cmpuint(info->scratch_files->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(info->scratch_files, 0), ==,
                    "/run/checkpointfs/ab/job-1-x/p-vda.scratch");
}

static void
test_request_tcp_full(void)
{
    g_autoptr(GPtrArray) disks = names("vdb", "vda", NULL);
    CpfsBackupRequest req = {
        .tcp_host = "192.0.2.7", .tcp_port = 10810, .scratch_dir = "/var/tmp",
        .scratch_prefix = "", .disks = disks, .all_disks = disks,
    };
    g_autofree char *xml = cpfs_backup_request_xml(&req);
    g_autoptr(CpfsBackupJobInfo) info = NULL;
    g_autofree char *v = NULL;

    assert_valid_backup(xml);
    g_assert_cmpstr((v = xpath_string(xml, "string(count(/domainbackup/incremental))")), ==,
                    "0");
    g_free(v);
    g_assert_cmpstr((v = xpath_string(xml, "string(//server/@transport)")), ==, "tcp");
    info = cpfs_backup_job_info_parse(xml);
    g_assert_nonnull(info);
    g_assert_null(info->socket_path);
    g_assert_null(info->incremental);
    g_assert_cmpstr(info->tcp_host, ==, "192.0.2.7");
    g_assert_cmpint(info->tcp_port, ==, 10810);
    g_assert_cmpuint(info->scratch_files->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(info->scratch_files, 1), ==, "/var/tmp/vda.scratch");
}

/* Markup in names and paths arrives as text, never as structure. */
static void
test_request_escaping(void)
{
    const char *odd = "a&b<c>'d\"e";
    g_autoptr(GPtrArray) disks = names(odd, NULL);
    g_autoptr(GPtrArray) all = names(odd, "x'/><disk name='y", NULL);
    g_autofree char *dir = g_strdup_printf("/tmp/%s", odd);
    g_autofree char *socket = g_strdup_printf("%s/nbd.sock", dir);
    CpfsBackupRequest req = {
        .incremental = "<c1>&amp;", .socket_path = socket, .scratch_dir = dir,
        .scratch_prefix = "&", .disks = disks, .all_disks = all,
    };
    g_autofree char *xml = cpfs_backup_request_xml(&req);
    g_autoptr(CpfsBackupJobInfo) info = cpfs_backup_job_info_parse(xml);
    g_autofree char *expected_scratch = g_strdup_printf("%s/&%s.scratch", dir, odd);
    g_autofree char *v = NULL;

    g_assert_nonnull(info);
    g_assert_cmpstr(info->incremental, ==, "<c1>&amp;");
    g_assert_cmpstr(info->socket_path, ==, socket);
    g_assert_cmpuint(info->scratch_files->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(info->scratch_files, 0), ==, expected_scratch);
    g_assert_cmpstr((v = xpath_string(xml, "string(count(//disk))")), ==, "2");
    g_free(v);
    g_assert_cmpstr((v = xpath_string(xml, "string(//disk[@backup='no']/@name)")), ==,
                    "x'/><disk name='y");
}

static void
test_job_info(void)
{
    g_autoptr(CpfsBackupJobInfo) inc = cpfs_backup_job_info_parse(job_incremental);
    g_autoptr(CpfsBackupJobInfo) full = cpfs_backup_job_info_parse(job_full_tcp);

    g_assert_nonnull(inc);
    g_assert_cmpstr(inc->socket_path, ==, "/tmp/cpfs-test.vTEsuM/job/nbd.sock");
    g_assert_cmpstr(inc->incremental, ==, "c1");
    g_assert_cmpuint(inc->scratch_files->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(inc->scratch_files, 0), ==,
                    "/tmp/cpfs-test.vTEsuM/job/vda.scratch");
    g_assert_nonnull(full);
    g_assert_null(full->socket_path);
    g_assert_null(full->incremental);
    g_assert_cmpstr(full->tcp_host, ==, "127.0.0.1");
    g_assert_cmpint(full->tcp_port, ==, 10899);
    g_assert_cmpuint(full->scratch_files->len, ==, 1);
}

static void
test_job_info_rejects(void)
{
    static const char *const bad[] = {
        "",
        "not xml",
        "<domaincheckpoint><name>c1</name></domaincheckpoint>",
        /* push mode: libvirt's default when mode is absent */
        "<domainbackup><disks/></domainbackup>",
        "<domainbackup mode='push'><disks/></domainbackup>",
        "<domainbackup mode='pull'><disks/></domainbackup>",
        "<domainbackup mode='pull'><server transport='unix'/></domainbackup>",
        "<domainbackup mode='pull'><server name='h' port='0'/></domainbackup>",
        "<domainbackup mode='pull'><server name='h' port='65536'/></domainbackup>",
        "<domainbackup mode='pull'><server name='h' port='12x'/></domainbackup>",
        "<domainbackup mode='pull'><server transport='rdma' name='h' port='1'/></domainbackup>",
    };

    g_assert_null(cpfs_backup_job_info_parse(NULL));
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        CpfsBackupJobInfo *info = cpfs_backup_job_info_parse(bad[i]);

        if (info)
            g_error("parsed as a pull job: %s", bad[i]);
    }
}

static void
test_domain_disks(void)
{
    static const char domain[] =
        "<domain type='qemu'><name>d</name><devices>\n"
        "  <disk type='file' device='disk'><source file='/i/d-vdb.qcow2'/>"
        "<target dev='vdb' bus='virtio'/></disk>\n"
        "  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='/i/d-vda.qcow2'/><target dev='vda' bus='virtio'/></disk>\n"
        "  <disk type='network' device='disk'><source protocol='nbd' name='e'>"
        "<host name='h'/></source><target dev='sdb' bus='scsi'/></disk>\n"
        "  <disk type='file' device='cdrom'><source file='/i/boot.iso'/>"
        "<target dev='hdc' bus='ide'/><readonly/></disk>\n"
        "  <disk type='file' device='cdrom'><target dev='hdd' bus='ide'/></disk>\n"
        "  <disk type='file' device='disk'><source file='/i/ro.img'/>"
        "<target dev='vdc' bus='virtio'/><readonly/></disk>\n"
        "  <disk type='file' device='disk'><target dev='vdd' bus='virtio'/></disk>\n"
        "  <disk type='file'><source/><target dev='vde' bus='virtio'/></disk>\n"
        "  <disk type='file' device='floppy'><source file='/i/f.img'/>"
        "<target dev='fda'/></disk>\n"
        "  <disk type='file' device='lun'><source file='/dev/sdz'/>"
        "<target dev='sdc'/></disk>\n"
        "  <disk type='file'><source file='/i/vdf.img'/><target dev='vdf'/></disk>\n"
        "  <disk type='file'><source file='/i/dup.img'/><target dev='vda'/></disk>\n"
        "  <interface type='user'><target dev='vdz'/></interface>\n"
        "</devices></domain>";
    g_autoptr(GPtrArray) disks = cpfs_backup_domain_disks(domain);
    g_autoptr(GPtrArray) none = cpfs_backup_domain_disks("<domain/>");
    g_autoptr(GPtrArray) garbage = cpfs_backup_domain_disks("<dom");
    g_autoptr(GPtrArray) null = cpfs_backup_domain_disks(NULL);
    g_autofree char *joined = NULL;

    g_ptr_array_add(disks, NULL);
    joined = g_strjoinv(",", (char **)disks->pdata);
    g_assert_cmpstr(joined, ==, "sdb,vda,vdb,vdf");
    g_assert_cmpuint(none->len, ==, 0);
    g_assert_cmpuint(garbage->len, ==, 0);
    g_assert_cmpuint(null->len, ==, 0);
}

static void
test_checkpoint_disks(void)
{
    g_autoptr(GHashTable) sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GPtrArray) disks = cpfs_backup_checkpoint_disks(checkpoint_sized, sizes);
    g_autoptr(GPtrArray) unsized = cpfs_backup_checkpoint_disks(checkpoint_sized, NULL);
    g_autoptr(GPtrArray) none = cpfs_backup_checkpoint_disks("<domain/>", sizes);
    const guint64 *size;

    g_assert_cmpuint(disks->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(disks, 0), ==, "vda");
    g_assert_cmpstr(g_ptr_array_index(disks, 1), ==, "vdb");
    g_assert_cmpuint(unsized->len, ==, 2);
    g_assert_cmpuint(none->len, ==, 0);
    g_assert_cmpuint(g_hash_table_size(sizes), ==, 1);
    size = g_hash_table_lookup(sizes, "vda");
    g_assert_nonnull(size);
    g_assert_cmpuint(*size, ==, 131072);
}

static const TestCase tests[] = {
    { "/backupxml/request/unix", test_request_unix },
    { "/backupxml/request/tcp-full", test_request_tcp_full },
    { "/backupxml/request/escaping", test_request_escaping },
    { "/backupxml/job-info/libvirt", test_job_info },
    { "/backupxml/job-info/rejects", test_job_info_rejects },
    { "/backupxml/domain-disks", test_domain_disks },
    { "/backupxml/checkpoint-disks", test_checkpoint_disks },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
