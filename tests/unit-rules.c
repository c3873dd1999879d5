/* Unit tests of the checkpoint-tree rules (model/rules.c). */
#include "unit-common.h"
#include "model/rules.h"

#include <errno.h>
#include <string.h>

/* root -> mid -> leaf, root -> side (a branch, as REDEFINE makes). */
static CpfsCheckpointTree *
sample_tree(void)
{
    g_autoptr(GPtrArray) records = cpfs_checkpoint_records_new();

    g_ptr_array_add(records, cpfs_checkpoint_record_new("root", NULL, 1));
    g_ptr_array_add(records, cpfs_checkpoint_record_new("mid", "root", 2));
    g_ptr_array_add(records, cpfs_checkpoint_record_new("leaf", "mid", 3));
    g_ptr_array_add(records, cpfs_checkpoint_record_new("side", "root", 4));
    return cpfs_checkpoint_tree_new(records);
}

static int
check(CpfsCheckpointTree *tree, const char *parent, guint64 serial, const char *name)
{
    const char *why = NULL;
    int rc = cpfs_rules_mkdir(tree, parent, serial, name, &why);

    /* Every refusal says why; a success says nothing. */
    if (rc < 0)
        g_assert_nonnull(why);
    else
        g_assert_null(why);
    return rc;
}

static void
test_names(void)
{
    g_autofree char *long_name = g_strnfill(248, 'a');
    g_autofree char *max_name = g_strnfill(247, 'a');

    g_assert_cmpint(check(NULL, NULL, 0, "monday"), ==, 0);
    g_assert_cmpint(check(NULL, NULL, 0, max_name), ==, 0);
    g_assert_cmpint(check(NULL, NULL, 0, long_name), ==, -ENAMETOOLONG);
    g_assert_cmpint(check(NULL, NULL, 0, "xml"), ==, -EEXIST);
    g_assert_cmpint(check(NULL, NULL, 0, ".hidden"), ==, -EINVAL);
    g_assert_cmpint(check(NULL, NULL, 0, "a b"), ==, -EINVAL);
    g_assert_cmpint(check(NULL, NULL, 0, ""), ==, -EINVAL);
}

static void
test_place(void)
{
    g_autoptr(CpfsCheckpointTree) tree = sample_tree();
    g_autoptr(CpfsCheckpointTree) empty = cpfs_checkpoint_tree_new(NULL);
    CpfsCheckpoint *leaf = cpfs_checkpoint_tree_lookup(tree, "leaf");

    /* The leaves are where libvirt's current checkpoint can be. */
    g_assert_cmpint(check(tree, "leaf", 0, "new"), ==, 0);
    g_assert_cmpint(check(tree, "side", 0, "new"), ==, 0);
    g_assert_cmpint(check(tree, "leaf", leaf->serial, "new"), ==, 0);
    /* Not a leaf, or the domain directory of a domain with checkpoints. */
    g_assert_cmpint(check(tree, "mid", 0, "new"), ==, -EPERM);
    g_assert_cmpint(check(tree, "root", 0, "new"), ==, -EPERM);
    g_assert_cmpint(check(tree, NULL, 0, "new"), ==, -EPERM);
    g_assert_cmpint(check(empty, NULL, 0, "first"), ==, 0);
    /* Names are unique in the whole domain, not per directory. */
    g_assert_cmpint(check(tree, "leaf", 0, "side"), ==, -EEXIST);
    g_assert_cmpint(check(tree, "leaf", 0, "root"), ==, -EEXIST);
    /* A directory that is gone, or another incarnation of its name. */
    g_assert_cmpint(check(tree, "gone", 0, "new"), ==, -ENOENT);
    g_assert_cmpint(check(tree, "leaf", leaf->serial + 1000, "new"), ==, -ENOENT);
    /* The name rules come first. */
    g_assert_cmpint(check(tree, "mid", 0, "xml"), ==, -EEXIST);
    g_assert_cmpint(check(tree, "leaf", 0, "-ok"), ==, 0);
    g_assert_cmpint(check(tree, "leaf", 0, "bad/name"), ==, -EINVAL);
}

static void
test_placed(void)
{
    g_assert_true(cpfs_rules_placed_as_asked(NULL, NULL));
    g_assert_true(cpfs_rules_placed_as_asked("a", "a"));
    g_assert_false(cpfs_rules_placed_as_asked("a", "b"));
    g_assert_false(cpfs_rules_placed_as_asked(NULL, "a"));
    g_assert_false(cpfs_rules_placed_as_asked("a", NULL));
}

static const TestCase tests[] = {
    { "/rules/names", test_names },
    { "/rules/place", test_place },
    { "/rules/placed", test_placed },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
