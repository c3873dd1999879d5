/* Unit tests of the view (cache/) in-process on libvirt's test driver,
 * test:///default with its running domain "test": no FUSE. */
#include "unit-common.h"
#include "cache/view.h"

#include <errno.h>
#include <string.h>

typedef struct {
    CpfsDriver *drv;
    CpfsView *view;
} Fixture;

static void
fixture_open(Fixture *f, double cache_timeout)
{
    g_autofree char *error = NULL;

    f->drv = cpfs_driver_open("test:///default", FALSE, &error);
    g_assert_nonnull(f->drv);
    f->view = cpfs_view_new(f->drv, cache_timeout);
}

static void
fixture_close(Fixture *f)
{
    cpfs_view_free(f->view);
    cpfs_driver_free(f->drv);
}

static CpfsCheckpoint *
lookup(Fixture *f, const char *name, CpfsCheckpointTree **tree)
{
    g_assert_cmpint(cpfs_view_checkpoints(f->view, "test", tree), ==, 0);
    return cpfs_checkpoint_tree_lookup(*tree, name);
}

static int
mkdir_in(Fixture *f, const char *parent, guint64 parent_serial, const char *name)
{
    gint64 created = 0;
    guint64 serial = 0;
    int rc = cpfs_view_mkdir(f->view, "test", parent, parent_serial, name, &created, &serial);

    if (rc == 0) {
        g_assert_cmpint(created, >, 0);
        g_assert_cmpuint(serial, >, 0);
    }
    return rc;
}

static void
test_domains(void)
{
    Fixture f;
    g_autoptr(CpfsDomainList) list = NULL;
    g_autoptr(CpfsDomainList) again = NULL;
    guint64 calls;

    fixture_open(&f, 100);
    g_assert_cmpint(cpfs_view_domains(f.view, &list), ==, 0);
    g_assert_true(cpfs_domain_list_contains(list, "test"));
    calls = cpfs_view_calls(f.view);
    g_assert_cmpint(cpfs_view_domains(f.view, &again), ==, 0);
    g_assert_true(again == list);  /* cached: the same list, no call */
    g_assert_cmpuint(cpfs_view_calls(f.view), ==, calls);
    fixture_close(&f);
}

/* mkdir follows model/rules.c and libvirt agrees: a chain grows at its leaf. */
static void
test_mkdir_rules(void)
{
    Fixture f;
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    guint64 calls;

    fixture_open(&f, 100);
    g_assert_cmpint(mkdir_in(&f, NULL, 0, "a"), ==, 0);
    g_assert_cmpint(mkdir_in(&f, NULL, 0, "b"), ==, -EPERM);
    g_assert_cmpint(mkdir_in(&f, "a", 0, "b"), ==, 0);
    g_assert_cmpint(mkdir_in(&f, "a", 0, "c"), ==, -EPERM);
    g_assert_cmpint(mkdir_in(&f, "b", 0, "a"), ==, -EEXIST);
    g_assert_cmpint(mkdir_in(&f, "gone", 0, "c"), ==, -ENOENT);
    /* A bad name costs libvirt nothing. */
    calls = cpfs_view_calls(f.view);
    g_assert_cmpint(mkdir_in(&f, "b", 0, ".c"), ==, -EINVAL);
    g_assert_cmpint(mkdir_in(&f, "b", 0, "xml"), ==, -EEXIST);
    g_assert_cmpuint(cpfs_view_calls(f.view), ==, calls);
    g_assert_cmpstr(lookup(&f, "b", &tree)->parent->name, ==, "a");
    fixture_close(&f);
}

/* mkdir below a directory deleted and made again under the same name is
 * refused: the directory names one incarnation (issue 8, fault 7). */
static void
test_mkdir_incarnation(void)
{
    Fixture f;
    g_autoptr(CpfsCheckpointTree) t1 = NULL;
    g_autoptr(CpfsCheckpointTree) t2 = NULL;
    g_autoptr(CpfsCheckpointTree) t3 = NULL;
    guint64 old_serial;

    fixture_open(&f, 100);
    g_assert_cmpint(mkdir_in(&f, NULL, 0, "a"), ==, 0);
    old_serial = lookup(&f, "a", &t1)->serial;
    g_assert_cmpint(cpfs_view_rmdir(f.view, "test", "a"), ==, 0);
    g_assert_cmpint(mkdir_in(&f, NULL, 0, "a"), ==, 0);
    g_assert_cmpuint(lookup(&f, "a", &t2)->serial, !=, old_serial);
    g_assert_cmpint(mkdir_in(&f, "a", old_serial, "b"), ==, -ENOENT);
    g_assert_cmpint(mkdir_in(&f, "a", lookup(&f, "a", &t3)->serial, "b"), ==, 0);
    fixture_close(&f);
}

/* A listing reads every document: stat and open that follow cost nothing;
 * sizes are those of the documents served. */
static void
test_documents(void)
{
    Fixture f;
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *dom = NULL;
    CpfsCheckpoint *cp;
    gint64 size = -1, dom_size = -1;
    guint64 calls;

    fixture_open(&f, 100);
    g_assert_cmpint(mkdir_in(&f, NULL, 0, "a"), ==, 0);
    g_assert_cmpint(mkdir_in(&f, "a", 0, "b"), ==, 0);
    /* Age the tree: the next reader lists. */
    cpfs_view_forget_all(f.view);
    cp = lookup(&f, "b", &tree);
    calls = cpfs_view_calls(f.view);
    g_assert_cmpint(cpfs_view_checkpoint_xml_size(f.view, "test", cp, &size), ==, 0);
    g_assert_cmpint(cpfs_view_checkpoint_xml(f.view, "test", cp, &xml), ==, 0);
    g_assert_cmpuint(cpfs_view_calls(f.view), ==, calls);
    g_assert_cmpint(size, ==, (gint64)strlen(xml));
    g_assert_nonnull(strstr(xml, "<name>b</name>"));
    /* The domain's XML: measured once, served by the open that follows. */
    g_assert_cmpint(cpfs_view_domain_xml_size(f.view, "test", &dom_size), ==, 0);
    calls = cpfs_view_calls(f.view);
    g_assert_cmpint(cpfs_view_domain_xml(f.view, "test", &dom), ==, 0);
    g_assert_cmpuint(cpfs_view_calls(f.view), ==, calls);
    g_assert_cmpint(dom_size, ==, (gint64)strlen(dom));
    fixture_close(&f);
}

/* rmdir moves the children up and forgets the deleted one's documents, so
 * many cycles leave the cache as small as the tree (issue 8, fault 5). */
static void
test_rmdir_cycles(void)
{
    Fixture f;
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    CpfsViewStats stats;

    fixture_open(&f, 100);
    g_assert_cmpint(mkdir_in(&f, NULL, 0, "base"), ==, 0);
    /* The test driver spends ~25 ms of libxml2 on each cycle (more under
     * the sanitizers). */
    for (int i = 0; i < 60; i++) {
        g_autoptr(CpfsCheckpointTree) t = NULL;
        g_autofree char *xml = NULL;
        CpfsCheckpoint *cp;

        g_assert_cmpint(mkdir_in(&f, "base", 0, "cycle"), ==, 0);
        cp = lookup(&f, "cycle", &t);
        g_assert_cmpint(cpfs_view_checkpoint_xml(f.view, "test", cp, &xml), ==, 0);
        g_assert_cmpint(cpfs_view_rmdir(f.view, "test", "cycle"), ==, 0);
    }
    cpfs_view_stats(f.view, &stats);
    g_assert_cmpuint(stats.documents, <=, 2);
    g_assert_cmpuint(stats.domains, ==, 1);
    g_assert_cmpint(mkdir_in(&f, "base", 0, "child"), ==, 0);
    g_assert_cmpint(cpfs_view_rmdir(f.view, "test", "base"), ==, 0);
    g_assert_null(lookup(&f, "child", &tree)->parent);
    fixture_close(&f);
}

/* A domain libvirt says is gone leaves no state behind. */
static void
test_gone_domains(void)
{
    Fixture f;
    CpfsViewStats stats;

    fixture_open(&f, 100);
    for (int i = 0; i < 300; i++) {
        g_autofree char *name = g_strdup_printf("ghost-%d", i);
        g_autoptr(CpfsCheckpointTree) tree = NULL;

        g_assert_cmpint(cpfs_view_checkpoints(f.view, name, &tree), ==, -ENOENT);
        cpfs_view_domain_event(f.view, name, CPFS_DOMAIN_DEFINED);
        cpfs_view_domain_event(f.view, name, CPFS_DOMAIN_UNDEFINED);
    }
    cpfs_view_stats(f.view, &stats);
    g_assert_cmpuint(stats.domains, ==, 0);
    g_assert_cmpuint(stats.driver_handles, <=, 1);
    fixture_close(&f);
}

static const TestCase tests[] = {
    { "/view/domains", test_domains },
    { "/view/mkdir-rules", test_mkdir_rules },
    { "/view/mkdir-incarnation", test_mkdir_incarnation },
    { "/view/documents", test_documents },
    { "/view/rmdir-cycles", test_rmdir_cycles },
    { "/view/gone-domains", test_gone_domains },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
