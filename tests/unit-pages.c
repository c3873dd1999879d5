/* Unit tests of the page-cache policy (fs/pages.c), which keeps its state in
 * the inode table's entries. */
#include "unit-common.h"
#include "fs/pages.h"

static CpfsNodeId
node_id(CpfsNodeKind kind, const char *domain, const char *checkpoint)
{
    CpfsNodeId id = { .kind = kind, .domain = (char *)domain, .checkpoint = (char *)checkpoint };

    return id;
}

/* The page cache may serve a file only while every document served for it
 * is the same one, of the size the kernel was told. */
static void
test_pages_policy(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    CpfsNodeId v1 = node_id(CPFS_NODE_CHECKPOINT_XML, "dom", "cp");
    CpfsNodeId v2 = v1;
    guint64 a, b;

    v1.serial = v2.serial = 7;
    v1.doc_version = 8;
    v2.doc_version = 9;
    a = cpfs_inode_table_add_lookup(table, &v1);
    b = cpfs_inode_table_add_lookup(table, &v2);
    g_assert_cmpuint(a, !=, b);

    /* No size told yet: the kernel's idea of the size is unknown. */
    g_assert_cmpint(cpfs_pages_told_size(table, a), ==, -1);
    g_assert_cmpint(cpfs_pages_open_document(table, a, 100, 11), ==, CPFS_PAGES_BYPASS);
    cpfs_pages_tell_size(table, a, 100);
    g_assert_cmpint(cpfs_pages_told_size(table, a), ==, 100);
    g_assert_cmpint(cpfs_pages_open_document(table, a, 100, 11), ==, CPFS_PAGES_REFILL);
    g_assert_cmpint(cpfs_pages_open_document(table, a, 100, 11), ==, CPFS_PAGES_KEEP);
    g_assert_cmpint(cpfs_pages_open_document(table, a, 100, 11), ==, CPFS_PAGES_KEEP);

    /* Another document of the same size under the same inode: never cache
     * this inode again, even when the first document comes back. */
    g_assert_cmpint(cpfs_pages_open_document(table, a, 100, 12), ==, CPFS_PAGES_BYPASS);
    g_assert_cmpint(cpfs_pages_open_document(table, a, 100, 11), ==, CPFS_PAGES_BYPASS);

    /* Another size than the kernel was told: the same. */
    cpfs_pages_tell_size(table, b, 50);
    g_assert_cmpint(cpfs_pages_open_document(table, b, 51, 13), ==, CPFS_PAGES_BYPASS);
    g_assert_cmpint(cpfs_pages_open_document(table, b, 50, 13), ==, CPFS_PAGES_BYPASS);

    /* Unknown inodes. */
    g_assert_cmpint(cpfs_pages_open_document(table, 9999, 1, 1), ==, CPFS_PAGES_BYPASS);
    g_assert_cmpint(cpfs_pages_told_size(table, 9999), ==, -1);
    cpfs_pages_tell_size(table, 9999, 5);
    g_assert_cmpint(cpfs_pages_told_size(table, 9999), ==, -1);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 3);

    /* The version is part of the identity, and get copies it. */
    {
        g_auto(CpfsNodeId) out = { 0 };

        g_assert_true(cpfs_inode_table_get(table, b, &out));
        g_assert_cmpuint(out.doc_version, ==, 9);
        g_assert_cmpuint(out.serial, ==, 7);
    }
}


/* The state goes with the inode: a new entry of the same identity starts
 * with nothing told. */
static void
test_pages_forgotten(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    CpfsNodeId id = cpfs_node_id_checkpoint_xml(NULL, "dom", "cp", 1, 2);
    guint64 ino = cpfs_inode_table_add_lookup(table, &id);

    cpfs_pages_tell_size(table, ino, 42);
    g_assert_cmpint(cpfs_pages_told_size(table, ino), ==, 42);
    cpfs_inode_table_forget(table, ino, 1);
    g_assert_cmpint(cpfs_pages_told_size(table, ino), ==, -1);
    ino = cpfs_inode_table_add_lookup(table, &id);
    g_assert_cmpint(cpfs_pages_told_size(table, ino), ==, -1);
    g_assert_cmpint(cpfs_pages_open_document(table, ino, 42, 5), ==, CPFS_PAGES_BYPASS);
}

static void
test_pages_hash(void)
{
    g_assert_cmpuint(cpfs_pages_document_hash(""), !=, 0);
    g_assert_cmpuint(cpfs_pages_document_hash("a"), !=, cpfs_pages_document_hash("b"));
    g_assert_cmpuint(cpfs_pages_document_hash("<x/>"), ==, cpfs_pages_document_hash("<x/>"));
}

static const TestCase tests[] = {
    { "/pages/policy", test_pages_policy },
    { "/pages/forgotten", test_pages_forgotten },
    { "/pages/hash", test_pages_hash },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
