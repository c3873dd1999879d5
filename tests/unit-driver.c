/* Unit tests of the driver (driver/) in-process on libvirt's test driver,
 * test:///default, whose one running domain is "test": no FUSE, no daemon. */
#include "unit-common.h"
#include "driver/cpxml.h"
#include "driver/connection.h"
#include "driver/driver.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <string.h>

static CpfsDriver *
open_test(void)
{
    g_autofree char *error = NULL;
    CpfsDriver *drv = cpfs_driver_open("test:///default", FALSE, &error);

    g_assert_null(error);
    g_assert_nonnull(drv);
    return drv;
}

static void
test_open_error(void)
{
    g_autofree char *error = NULL;
    CpfsDriver *drv = cpfs_driver_open("nosuch:///x", FALSE, &error);

    g_assert_null(drv);
    g_assert_nonnull(error);
    g_assert_true(g_str_has_prefix(error, "cannot connect to 'nosuch:///x': "));
    g_assert_null(strchr(error, '\n'));
}

static void
test_errno_table(void)
{
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_OK), ==, 0);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_NO_DOMAIN), ==, ENOENT);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_NO_DOMAIN_CHECKPOINT), ==, ENOENT);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_OPERATION_UNSUPPORTED), ==, ENOTSUP);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_CONFIG_UNSUPPORTED), ==, ENOTSUP);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_OPERATION_DENIED), ==, EACCES);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_XML_INVALID_SCHEMA), ==, EINVAL);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_OPERATION_FAILED), ==, EIO);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_INTERNAL_ERROR), ==, EIO);
    g_assert_cmpint(cpfs_driver_errno(VIR_ERR_NO_DOMAIN_BACKUP), ==, ENOENT);
    /* Starting a backup, as libvirt 9.0 reports its refusals. */
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_OPERATION_UNSUPPORTED),
                    ==, ENOTSUP);
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_OPERATION_INVALID),
                    ==, EBUSY);
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_OPERATION_TIMEOUT),
                    ==, EBUSY);
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_BACKUP_BEGIN,
                                         VIR_ERR_CHECKPOINT_INCONSISTENT), ==, ESTALE);
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_NO_DOMAIN_CHECKPOINT),
                    ==, ESTALE);
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_NO_DOMAIN), ==,
                    ENOENT);
    /* Elsewhere those codes keep their general meaning. */
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_GENERAL, VIR_ERR_OPERATION_INVALID), ==,
                    EIO);
    g_assert_cmpint(cpfs_driver_errno_in(CPFS_ERRCTX_GENERAL, VIR_ERR_NO_DOMAIN_CHECKPOINT), ==,
                    ENOENT);
}

static void
test_domains(void)
{
    g_autoptr(CpfsDriver) drv = open_test();
    g_autoptr(GPtrArray) names = NULL;
    g_autofree char *xml = NULL;

    g_assert_cmpstr(cpfs_driver_uri(drv), ==, "test:///default");
    g_assert_cmpint(cpfs_driver_list_domains(drv, &names), ==, 0);
    g_assert_cmpuint(names->len, ==, 1);
    g_assert_cmpstr(names->pdata[0], ==, "test");
    g_assert_cmpuint(cpfs_driver_handle_domains(drv), ==, 1);
    g_assert_cmpint(cpfs_driver_domain_xml(drv, "test", &xml), ==, 0);
    g_assert_nonnull(strstr(xml, "<name>test</name>"));
    g_clear_pointer(&xml, g_free);
    g_assert_cmpint(cpfs_driver_domain_xml(drv, "nosuch", &xml), ==, -ENOENT);
    g_assert_null(xml);
}

/* Creates NAME and checks the record libvirt gave back. */
static void
create(CpfsDriver *drv, const char *name, const char *parent)
{
    g_autoptr(CpfsCheckpointRecord) rec = NULL;

    g_assert_cmpint(cpfs_driver_checkpoint_create(drv, "test", name, &rec), ==, 0);
    g_assert_cmpstr(rec->name, ==, name);
    g_assert_cmpstr(rec->parent, ==, parent);
    g_assert_cmpint(rec->creation_time, >, 0);
}

static void
test_checkpoints(void)
{
    g_autoptr(CpfsDriver) drv = open_test();
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GPtrArray) docs = NULL;
    g_autoptr(CpfsCheckpointRecord) found = NULL;
    g_autofree char *xml = NULL;

    create(drv, "a", NULL);
    create(drv, "b", "a");
    g_assert_cmpint(cpfs_driver_list_checkpoints(drv, "test", &records, &docs), ==, 0);
    g_assert_cmpuint(records->len, ==, 2);
    g_assert_cmpuint(docs->len, ==, 2);
    for (guint i = 0; i < records->len; i++) {
        CpfsCheckpointRecord *rec = records->pdata[i];
        g_autoptr(CpfsCheckpointRecord) parsed = cpfs_cpxml_parse(docs->pdata[i],
                                                                  strlen(docs->pdata[i]));
        g_autofree char *single = NULL;

        /* Each document is the checkpoint's own, as checkpoint_xml gives it. */
        g_assert_cmpstr(parsed->name, ==, rec->name);
        g_assert_cmpint(cpfs_driver_checkpoint_xml(drv, "test", rec->name, &single), ==, 0);
        g_assert_cmpstr(single, ==, docs->pdata[i]);
    }
    g_assert_cmpint(cpfs_driver_checkpoint_lookup(drv, "test", "b", &found), ==, 1);
    g_assert_cmpstr(found->parent, ==, "a");
    g_assert_cmpint(cpfs_driver_checkpoint_lookup(drv, "test", "zz", NULL), ==, 0);
    g_assert_cmpint(cpfs_driver_checkpoint_xml(drv, "test", "zz", &xml), ==, -ENOENT);

    /* Delete: the child moves up. */
    g_assert_cmpint(cpfs_driver_checkpoint_delete(drv, "test", "a"), ==, 0);
    g_clear_pointer(&found, cpfs_checkpoint_record_free);
    g_assert_cmpint(cpfs_driver_checkpoint_lookup(drv, "test", "b", &found), ==, 1);
    g_assert_null(found->parent);
    g_assert_cmpint(cpfs_driver_checkpoint_delete(drv, "test", "a"), ==, -ENOENT);
    g_assert_cmpint(cpfs_driver_checkpoint_lookup(drv, "nosuch", "b", NULL), ==, -ENOENT);
}

/* A duplicate name fails (libvirt calls it a generic failure), and makes no
 * second checkpoint. */
static void
test_duplicate(void)
{
    g_autoptr(CpfsDriver) drv = open_test();
    g_autoptr(CpfsCheckpointRecord) rec = NULL;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GPtrArray) docs = NULL;

    create(drv, "a", NULL);
    g_assert_cmpint(cpfs_driver_checkpoint_create(drv, "test", "a", &rec), <, 0);
    g_assert_null(rec);
    g_assert_cmpint(cpfs_driver_list_checkpoints(drv, "test", &records, &docs), ==, 0);
    g_assert_cmpuint(records->len, ==, 1);
}

/* Every libvirt call is counted; handles met before save their lookups. */
static void
test_call_count(void)
{
    g_autoptr(CpfsDriver) drv = open_test();
    g_autofree char *x1 = NULL;
    g_autofree char *x2 = NULL;
    guint64 before;

    create(drv, "a", NULL);
    before = cpfs_driver_calls(drv);
    g_assert_cmpint(cpfs_driver_checkpoint_xml(drv, "test", "a", &x1), ==, 0);
    /* The create kept both handles: one call. */
    g_assert_cmpuint(cpfs_driver_calls(drv), ==, before + 1);
    g_assert_cmpint(cpfs_driver_checkpoint_xml(drv, "test", "a", &x2), ==, 0);
    g_assert_cmpuint(cpfs_driver_calls(drv), ==, before + 2);
}

static void
no_event(const char *domain G_GNUC_UNUSED, CpfsDomainEvent event G_GNUC_UNUSED,
         void *opaque G_GNUC_UNUSED)
{
}

static void
never_reconnected(void *opaque G_GNUC_UNUSED)
{
    g_assert_not_reached();
}

/* The event and monitor threads start and stop, and the driver is usable
 * in between. */
static void
test_watch(void)
{
    g_autoptr(CpfsDriver) drv = open_test();
    g_autoptr(GPtrArray) names = NULL;

    g_assert_cmpint(cpfs_driver_watch_domains(drv, no_event, never_reconnected, NULL), ==, 0);
    g_assert_true(cpfs_driver_wait_up(drv, g_get_monotonic_time()));
    g_assert_cmpint(cpfs_driver_list_domains(drv, &names), ==, 0);
    cpfs_driver_unwatch(drv);
}

static const TestCase tests[] = {
    { "/driver/open-error", test_open_error },
    { "/driver/errno-table", test_errno_table },
    { "/driver/domains", test_domains },
    { "/driver/checkpoints", test_checkpoints },
    { "/driver/duplicate", test_duplicate },
    { "/driver/call-count", test_call_count },
    { "/driver/watch", test_watch },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
