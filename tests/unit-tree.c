/* Unit tests of the checkpoint tree and the domain list (model/tree.c). */
#include "unit-common.h"
#include "model/tree.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers */

typedef struct {
    const char *name;
    const char *parent;
    gint64 time;
} Rec;

static void
shuffle(GPtrArray *arr)
{
    for (guint i = arr->len; i > 1; i--) {
        guint j = (guint)g_test_rand_int_range(0, (gint32)i);
        gpointer tmp = arr->pdata[i - 1];

        arr->pdata[i - 1] = arr->pdata[j];
        arr->pdata[j] = tmp;
    }
}

static GPtrArray *
records_from(const Rec *recs, gsize n, gboolean shuffled)
{
    GPtrArray *records = cpfs_checkpoint_records_new();

    for (gsize i = 0; i < n; i++)
        g_ptr_array_add(records, cpfs_checkpoint_record_new(recs[i].name, recs[i].parent,
                                                            recs[i].time));
    if (shuffled)
        shuffle(records);
    return records;
}

static CpfsCheckpointTree *
tree_from(const Rec *recs, gsize n, gboolean shuffled)
{
    g_autoptr(GPtrArray) records = records_from(recs, n, shuffled);

    return cpfs_checkpoint_tree_new(records);
}

/* "a,b,c" from an array of CpfsCheckpoint* */
static char *
names_of(GPtrArray *nodes)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; nodes && i < nodes->len; i++) {
        const CpfsCheckpoint *cp = g_ptr_array_index(nodes, i);

        if (i)
            g_string_append_c(s, ',');
        g_string_append(s, cp->name);
    }
    return g_string_free(s, FALSE);
}

static char *
children_names(CpfsCheckpointTree *tree, const char *name)
{
    CpfsCheckpoint *cp = NULL;

    if (name) {
        cp = cpfs_checkpoint_tree_lookup(tree, name);
        g_assert_nonnull(cp);
    }
    return names_of(cpfs_checkpoint_tree_children(tree, cp));
}

#define assert_children(tree, name, expect) \
    do { \
        g_autofree char *got_ = children_names((tree), (name)); \
        g_assert_cmpstr(got_, ==, (expect)); \
    } while (0)

static const char *
parent_name(CpfsCheckpointTree *tree, const char *name)
{
    CpfsCheckpoint *cp = cpfs_checkpoint_tree_lookup(tree, name);

    g_assert_nonnull(cp);
    return cp->parent ? cp->parent->name : NULL;
}

/* The path of CP below the domain directory, by its parent pointers. */
static char *
path_of(const CpfsCheckpoint *cp)
{
    GPtrArray *parts = g_ptr_array_new();
    GString *s = g_string_new(NULL);

    for (; cp; cp = cp->parent)
        g_ptr_array_add(parts, cp->name);
    for (guint i = parts->len; i > 0; i--) {
        g_string_append(s, g_ptr_array_index(parts, i - 1));
        if (i > 1)
            g_string_append_c(s, '/');
    }
    g_ptr_array_unref(parts);
    return g_string_free(s, FALSE);
}

/* Every visible node is in exactly one children list (or the roots), all
 * lists are sorted, every listed child points back at its parent, and the
 * visible nodes can be resolved by their path. */
static void
check_consistent(CpfsCheckpointTree *tree)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *queue = g_ptr_array_new();
    guint visible = 0;

    g_ptr_array_add(queue, NULL);
    for (guint q = 0; q < queue->len; q++) {
        CpfsCheckpoint *cp = g_ptr_array_index(queue, q);
        GPtrArray *kids = cpfs_checkpoint_tree_children(tree, cp);

        g_assert_nonnull(kids);
        for (guint i = 0; i < kids->len; i++) {
            CpfsCheckpoint *kid = g_ptr_array_index(kids, i);

            g_assert_false(kid->hidden);
            g_assert_true(kid->parent == cp);
            if (i > 0)
                g_assert_cmpint(strcmp(((CpfsCheckpoint *)g_ptr_array_index(kids, i - 1))->name,
                                       kid->name), <, 0);
            g_assert_false(g_hash_table_contains(seen, kid->name));
            g_hash_table_add(seen, kid->name);
            g_assert_true(cpfs_checkpoint_tree_lookup(tree, kid->name) == kid);
            g_assert_true(cpfs_checkpoint_tree_child(tree, cp, kid->name) == kid);
            g_ptr_array_add(queue, kid);
            visible++;
        }
    }
    g_assert_cmpuint(visible, <=, cpfs_checkpoint_tree_size(tree));
    g_ptr_array_unref(queue);
    g_hash_table_unref(seen);
}

/* ------------------------------------------------------------------------ */
/* Building */

static const Rec sample[] = {
    { "r2", NULL, 100 },
    { "r1", NULL, 50 },
    { "r10", NULL, 60 },
    { "c", "r1", 70 },
    { "a", "r1", 80 },
    { "b", "r1", 75 },
    { "B", "r1", 76 },
    { "a2", "a", 300 },
    { "a1", "a", 200 },
    { "x", "r2", 90 },
};

static void
test_build_sorted(void)
{
    for (int round = 0; round < 50; round++) {
        g_autoptr(CpfsCheckpointTree) tree = tree_from(sample, G_N_ELEMENTS(sample), TRUE);
        CpfsCheckpoint *r1, *a;

        g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, G_N_ELEMENTS(sample));
        /* strcmp order: upper case first, "r10" before "r2". */
        assert_children(tree, NULL, "r1,r10,r2");
        assert_children(tree, "r1", "B,a,b,c");
        assert_children(tree, "a", "a1,a2");
        assert_children(tree, "r2", "x");
        assert_children(tree, "r10", "");
        assert_children(tree, "a1", "");

        g_assert_null(parent_name(tree, "r1"));
        g_assert_null(parent_name(tree, "r2"));
        g_assert_null(parent_name(tree, "r10"));
        g_assert_cmpstr(parent_name(tree, "a"), ==, "r1");
        g_assert_cmpstr(parent_name(tree, "B"), ==, "r1");
        g_assert_cmpstr(parent_name(tree, "a1"), ==, "a");
        g_assert_cmpstr(parent_name(tree, "x"), ==, "r2");

        /* Child counts give the directory nlink (2 + subdirectories). */
        r1 = cpfs_checkpoint_tree_lookup(tree, "r1");
        a = cpfs_checkpoint_tree_lookup(tree, "a");
        g_assert_cmpuint(cpfs_checkpoint_tree_children(tree, r1)->len, ==, 4);
        g_assert_cmpuint(r1->children->len, ==, 4);
        g_assert_cmpuint(cpfs_checkpoint_tree_children(tree, a)->len, ==, 2);
        g_assert_cmpuint(cpfs_checkpoint_tree_children(tree, NULL)->len, ==, 3);

        g_assert_cmpint(cpfs_checkpoint_tree_newest(tree), ==, 300);
        g_assert_cmpint(a->creation_time, ==, 80);
        g_assert_cmpint(cpfs_checkpoint_tree_lookup(tree, "a2")->creation_time, ==, 300);
        g_assert_false(cpfs_checkpoint_tree_has_hidden(tree));
        check_consistent(tree);
    }
}

static void
test_build_empty(void)
{
    g_autoptr(GPtrArray) none = cpfs_checkpoint_records_new();
    g_autoptr(CpfsCheckpointTree) empty = cpfs_checkpoint_tree_new(none);
    g_autoptr(CpfsCheckpointTree) null_tree = cpfs_checkpoint_tree_new(NULL);
    CpfsCheckpoint *cp = (gpointer)0x1;
    gboolean is_xml = TRUE;

    for (int i = 0; i < 2; i++) {
        CpfsCheckpointTree *t = i ? null_tree : empty;

        g_assert_cmpuint(cpfs_checkpoint_tree_size(t), ==, 0);
        g_assert_cmpint(cpfs_checkpoint_tree_newest(t), ==, 0);
        g_assert_nonnull(cpfs_checkpoint_tree_children(t, NULL));
        g_assert_cmpuint(cpfs_checkpoint_tree_children(t, NULL)->len, ==, 0);
        g_assert_null(cpfs_checkpoint_tree_lookup(t, "a"));
        g_assert_null(cpfs_checkpoint_tree_child(t, NULL, "a"));
        g_assert_false(cpfs_checkpoint_tree_has_hidden(t));
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(t, "", &cp, &is_xml), ==, 0);
        g_assert_null(cp);
        g_assert_false(is_xml);
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(t, "a", &cp, &is_xml), ==, -ENOENT);
    }
}

static void
test_newest(void)
{
    const Rec recs[] = {
        { "old", NULL, 5 },
        { "mid", "old", 1700000000 },
        { "new", "mid", 1800000000 },
        { "z", NULL, 10 },
    };
    const Rec zero[] = { { "a", NULL, 0 } };
    g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), TRUE);
    g_autoptr(CpfsCheckpointTree) tree0 = tree_from(zero, 1, FALSE);

    g_assert_cmpint(cpfs_checkpoint_tree_newest(tree), ==, 1800000000);
    g_assert_cmpint(cpfs_checkpoint_tree_newest(tree0), ==, 0);
}

static void
test_lookup_child(void)
{
    g_autoptr(CpfsCheckpointTree) tree = tree_from(sample, G_N_ELEMENTS(sample), TRUE);
    CpfsCheckpoint *r1 = cpfs_checkpoint_tree_lookup(tree, "r1");
    CpfsCheckpoint *r2 = cpfs_checkpoint_tree_lookup(tree, "r2");
    CpfsCheckpoint *a = cpfs_checkpoint_tree_lookup(tree, "a");

    g_assert_nonnull(r1);
    g_assert_nonnull(r2);
    g_assert_nonnull(a);
    g_assert_cmpstr(a->name, ==, "a");
    g_assert_null(cpfs_checkpoint_tree_lookup(tree, "nope"));
    g_assert_null(cpfs_checkpoint_tree_lookup(tree, ""));
    g_assert_null(cpfs_checkpoint_tree_lookup(tree, "R1"));

    g_assert_true(cpfs_checkpoint_tree_child(tree, NULL, "r1") == r1);
    g_assert_true(cpfs_checkpoint_tree_child(tree, r1, "a") == a);
    /* Only direct children of the given directory. */
    g_assert_null(cpfs_checkpoint_tree_child(tree, NULL, "a"));
    g_assert_null(cpfs_checkpoint_tree_child(tree, r2, "a"));
    g_assert_null(cpfs_checkpoint_tree_child(tree, r1, "a1"));
    g_assert_null(cpfs_checkpoint_tree_child(tree, r1, "r1"));
    g_assert_null(cpfs_checkpoint_tree_child(tree, a, "r1"));
    g_assert_null(cpfs_checkpoint_tree_child(tree, r1, "nope"));
    g_assert_null(cpfs_checkpoint_tree_child(tree, NULL, "nope"));
}

static void
test_missing_parent(void)
{
    const Rec recs[] = {
        { "a", NULL, 1 },
        { "orphan", "deleted-meanwhile", 2 },
        { "kid", "orphan", 3 },
        { "b", "a", 4 },
    };

    for (int round = 0; round < 20; round++) {
        g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), TRUE);

        g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, 4);
        assert_children(tree, NULL, "a,orphan");
        g_assert_null(parent_name(tree, "orphan"));
        g_assert_cmpstr(parent_name(tree, "kid"), ==, "orphan");
        assert_children(tree, "orphan", "kid");
        g_assert_null(cpfs_checkpoint_tree_lookup(tree, "deleted-meanwhile"));
        check_consistent(tree);
    }
}

/* Every record's node exists, is visible, and resolves by its path. */
static void
check_all_findable(CpfsCheckpointTree *tree, const Rec *recs, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        CpfsCheckpoint *cp = cpfs_checkpoint_tree_lookup(tree, recs[i].name);
        CpfsCheckpoint *got = NULL;
        gboolean is_xml = TRUE;
        g_autofree char *path = NULL;
        g_autofree char *xml_path = NULL;

        g_assert_nonnull(cp);
        path = path_of(cp);
        g_test_message("%s at %s", recs[i].name, path);
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, path, &got, &is_xml), ==, 0);
        g_assert_true(got == cp);
        g_assert_false(is_xml);
        xml_path = g_strconcat(path, "/xml", NULL);
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, xml_path, &got, &is_xml), ==, 0);
        g_assert_true(got == cp);
        g_assert_true(is_xml);
    }
    check_consistent(tree);
}

static void
test_loops(void)
{
    const Rec self[] = {
        { "self", "self", 1 },
        { "kid", "self", 2 },
    };
    const Rec two[] = {
        { "p", "q", 1 },
        { "q", "p", 2 },
        { "under-q", "q", 3 },
        { "under-p", "p", 4 },
    };
    const Rec three[] = {
        { "x", "z", 1 },
        { "y", "x", 2 },
        { "z", "y", 3 },
        { "tail", "z", 4 },
        { "ok", NULL, 5 },
    };

    for (int round = 0; round < 30; round++) {
        g_autoptr(CpfsCheckpointTree) t1 = tree_from(self, G_N_ELEMENTS(self), TRUE);
        g_autoptr(CpfsCheckpointTree) t2 = tree_from(two, G_N_ELEMENTS(two), TRUE);
        g_autoptr(CpfsCheckpointTree) t3 = tree_from(three, G_N_ELEMENTS(three), TRUE);
        GPtrArray *roots;

        g_assert_cmpuint(cpfs_checkpoint_tree_size(t1), ==, 2);
        g_assert_null(parent_name(t1, "self"));
        assert_children(t1, NULL, "self");
        assert_children(t1, "self", "kid");
        check_all_findable(t1, self, G_N_ELEMENTS(self));

        /* Exactly one of p and q is cut loose and becomes the root. */
        g_assert_cmpuint(cpfs_checkpoint_tree_size(t2), ==, 4);
        roots = cpfs_checkpoint_tree_children(t2, NULL);
        g_assert_cmpuint(roots->len, ==, 1);
        g_assert_true(!parent_name(t2, "p") != !parent_name(t2, "q"));
        check_all_findable(t2, two, G_N_ELEMENTS(two));

        g_assert_cmpuint(cpfs_checkpoint_tree_size(t3), ==, 5);
        roots = cpfs_checkpoint_tree_children(t3, NULL);
        g_assert_cmpuint(roots->len, ==, 2);  /* "ok" and one of x, y, z */
        check_all_findable(t3, three, G_N_ELEMENTS(three));

        /* Derived trees of looped trees stay sane. */
        {
            g_autoptr(CpfsCheckpointTree) d = cpfs_checkpoint_tree_with_removed(t2, "p");

            g_assert_cmpuint(cpfs_checkpoint_tree_size(d), ==, 3);
            g_assert_null(cpfs_checkpoint_tree_lookup(d, "p"));
            check_consistent(d);
        }
    }
}

static void
test_duplicates(void)
{
    const Rec recs[] = {
        { "a", NULL, 1 },
        { "b", "a", 2 },
        { "a", NULL, 1 },
        { "b", "a", 2 },
        { "c", "a", 3 },
        { "b", "a", 2 },
    };

    for (int round = 0; round < 20; round++) {
        g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), TRUE);

        g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, 3);
        assert_children(tree, NULL, "a");
        assert_children(tree, "a", "b,c");
        check_consistent(tree);
    }
}

/* A duplicate that disagrees with the first record is ignored: the first
 * record wins, and the node is listed once. */
static void
test_duplicates_conflicting(void)
{
    const Rec recs[] = {
        { "a", NULL, 1 },
        { "b", NULL, 2 },
        { "c", "a", 3 },
        { "c", "b", 99 },    /* ignored */
        { "b", "a", 98 },    /* ignored: b stays a root */
    };
    g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), FALSE);

    g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, 3);
    assert_children(tree, NULL, "a,b");
    assert_children(tree, "a", "c");
    assert_children(tree, "b", "");
    g_assert_cmpint(cpfs_checkpoint_tree_lookup(tree, "c")->creation_time, ==, 3);
    g_assert_cmpint(cpfs_checkpoint_tree_newest(tree), ==, 3);
    check_consistent(tree);
}

/* The same for the hidden "xml" checkpoint. */
static void
test_duplicates_hidden(void)
{
    const Rec recs[] = {
        { "a", NULL, 1 },
        { "xml", NULL, 2 },
        { "xml", "a", 2 },   /* ignored: xml stays a root */
    };
    g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), FALSE);

    g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, 2);
    g_assert_true(cpfs_checkpoint_tree_has_hidden(tree));
    g_assert_null(parent_name(tree, "xml"));
    assert_children(tree, NULL, "a");
    assert_children(tree, "a", "");
}

/* ------------------------------------------------------------------------ */
/* Derived trees */

static void
test_with_added(void)
{
    g_autoptr(CpfsCheckpointTree) tree = tree_from(sample, G_N_ELEMENTS(sample), TRUE);
    g_autoptr(CpfsCheckpointRecord) rec = cpfs_checkpoint_record_new("a15", "a", 400);
    g_autoptr(CpfsCheckpointRecord) root = cpfs_checkpoint_record_new("r0", NULL, 10);
    g_autoptr(CpfsCheckpointRecord) orphan = cpfs_checkpoint_record_new("o", "missing", 20);
    g_autoptr(CpfsCheckpointTree) added = cpfs_checkpoint_tree_with_added(tree, rec);
    g_autoptr(CpfsCheckpointTree) added_root = cpfs_checkpoint_tree_with_added(tree, root);
    g_autoptr(CpfsCheckpointTree) added_orphan = cpfs_checkpoint_tree_with_added(tree, orphan);
    CpfsCheckpoint *cp;

    g_assert_true(added != tree);
    g_assert_cmpuint(cpfs_checkpoint_tree_size(added), ==, G_N_ELEMENTS(sample) + 1);
    assert_children(added, "a", "a1,a15,a2");
    g_assert_cmpstr(parent_name(added, "a15"), ==, "a");
    cp = cpfs_checkpoint_tree_lookup(added, "a15");
    g_assert_cmpint(cp->creation_time, ==, 400);
    g_assert_cmpint(cpfs_checkpoint_tree_newest(added), ==, 400);
    g_assert_true(cpfs_checkpoint_tree_child(added, cpfs_checkpoint_tree_lookup(added, "a"),
                                             "a15") == cp);
    /* The rest of the tree is carried over. */
    assert_children(added, NULL, "r1,r10,r2");
    assert_children(added, "r1", "B,a,b,c");
    assert_children(added, "r2", "x");
    check_consistent(added);

    /* The original is unchanged, and shares no nodes with the new one. */
    g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, G_N_ELEMENTS(sample));
    g_assert_null(cpfs_checkpoint_tree_lookup(tree, "a15"));
    assert_children(tree, "a", "a1,a2");
    g_assert_cmpint(cpfs_checkpoint_tree_newest(tree), ==, 300);
    g_assert_true(cpfs_checkpoint_tree_lookup(tree, "a") !=
                  cpfs_checkpoint_tree_lookup(added, "a"));
    check_consistent(tree);

    assert_children(added_root, NULL, "r0,r1,r10,r2");
    g_assert_null(parent_name(added_root, "r0"));
    g_assert_cmpint(cpfs_checkpoint_tree_newest(added_root), ==, 300);
    assert_children(added_orphan, NULL, "o,r1,r10,r2");
    assert_children(tree, NULL, "r1,r10,r2");

    /* Adding to an empty tree. */
    {
        g_autoptr(CpfsCheckpointTree) empty = cpfs_checkpoint_tree_new(NULL);
        g_autoptr(CpfsCheckpointTree) one = cpfs_checkpoint_tree_with_added(empty, root);

        g_assert_cmpuint(cpfs_checkpoint_tree_size(empty), ==, 0);
        g_assert_cmpuint(cpfs_checkpoint_tree_size(one), ==, 1);
        assert_children(one, NULL, "r0");
        g_assert_cmpint(cpfs_checkpoint_tree_newest(one), ==, 10);
    }
}

static void
test_with_removed(void)
{
    const Rec recs[] = {
        { "root", NULL, 1 },
        { "mid", "root", 2 },
        { "sib", "root", 3 },
        { "k2", "mid", 4 },
        { "k1", "mid", 5 },
        { "zz", "root", 6 },
        { "g", "k1", 7 },
        { "other", NULL, 8 },
    };
    g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), TRUE);
    g_autoptr(CpfsCheckpointTree) no_mid = cpfs_checkpoint_tree_with_removed(tree, "mid");
    g_autoptr(CpfsCheckpointTree) no_root = cpfs_checkpoint_tree_with_removed(tree, "root");
    g_autoptr(CpfsCheckpointTree) no_leaf = cpfs_checkpoint_tree_with_removed(tree, "g");
    g_autoptr(CpfsCheckpointTree) no_nope = cpfs_checkpoint_tree_with_removed(tree, "nope");

    /* Children of a removed checkpoint move to its parent, sorted in. */
    g_assert_cmpuint(cpfs_checkpoint_tree_size(no_mid), ==, 7);
    g_assert_null(cpfs_checkpoint_tree_lookup(no_mid, "mid"));
    assert_children(no_mid, "root", "k1,k2,sib,zz");
    g_assert_cmpstr(parent_name(no_mid, "k1"), ==, "root");
    g_assert_cmpstr(parent_name(no_mid, "k2"), ==, "root");
    g_assert_cmpstr(parent_name(no_mid, "g"), ==, "k1");
    assert_children(no_mid, NULL, "other,root");
    check_consistent(no_mid);

    /* ... or become roots when the removed one was a root. */
    g_assert_cmpuint(cpfs_checkpoint_tree_size(no_root), ==, 7);
    assert_children(no_root, NULL, "mid,other,sib,zz");
    g_assert_null(parent_name(no_root, "mid"));
    g_assert_null(parent_name(no_root, "sib"));
    assert_children(no_root, "mid", "k1,k2");
    check_consistent(no_root);

    g_assert_cmpuint(cpfs_checkpoint_tree_size(no_leaf), ==, 7);
    assert_children(no_leaf, "k1", "");
    check_consistent(no_leaf);

    g_assert_cmpuint(cpfs_checkpoint_tree_size(no_nope), ==, 8);
    assert_children(no_nope, "root", "mid,sib,zz");
    assert_children(no_nope, "mid", "k1,k2");
    check_consistent(no_nope);

    /* The newest time follows the remaining checkpoints. */
    {
        g_autoptr(CpfsCheckpointTree) t = cpfs_checkpoint_tree_with_removed(tree, "other");

        g_assert_cmpint(cpfs_checkpoint_tree_newest(t), ==, 7);
        g_assert_cmpint(cpfs_checkpoint_tree_newest(tree), ==, 8);
    }

    /* The original is unchanged. */
    g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, 8);
    assert_children(tree, NULL, "other,root");
    assert_children(tree, "root", "mid,sib,zz");
    assert_children(tree, "mid", "k1,k2");
    g_assert_cmpstr(parent_name(tree, "k1"), ==, "mid");
    check_consistent(tree);

    /* Removing everything, one by one. */
    {
        g_autoptr(CpfsCheckpointTree) t = cpfs_checkpoint_tree_ref(tree);

        for (gsize i = 0; i < G_N_ELEMENTS(recs); i++) {
            CpfsCheckpointTree *next = cpfs_checkpoint_tree_with_removed(t, recs[i].name);

            cpfs_checkpoint_tree_unref(t);
            t = next;
            g_assert_cmpuint(cpfs_checkpoint_tree_size(t), ==, G_N_ELEMENTS(recs) - i - 1);
            check_consistent(t);
        }
        g_assert_cmpint(cpfs_checkpoint_tree_newest(t), ==, 0);
    }
}

/* A document version names one version of a checkpoint's XML: kept while the
 * object and its parent stay, new when the parent changes, never shared. */
static void
test_doc_versions(void)
{
    const Rec recs[] = {
        { "root", NULL, 1 },
        { "mid", "root", 2 },
        { "k1", "mid", 3 },
        { "g", "k1", 4 },
    };
    g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), TRUE);
    g_autoptr(CpfsCheckpointRecord) rec = cpfs_checkpoint_record_new("new", "g", 5);
    g_autoptr(CpfsCheckpointTree) added = cpfs_checkpoint_tree_with_added(tree, rec);
    g_autoptr(CpfsCheckpointTree) no_mid = cpfs_checkpoint_tree_with_removed(tree, "mid");
    g_autoptr(GPtrArray) again = NULL;
    g_autoptr(CpfsCheckpointTree) remade = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);

#define DOC(t, n) (cpfs_checkpoint_tree_lookup((t), (n))->doc_version)
#define SERIAL(t, n) (cpfs_checkpoint_tree_lookup((t), (n))->serial)
    for (gsize i = 0; i < G_N_ELEMENTS(recs); i++) {
        CpfsCheckpoint *cp = cpfs_checkpoint_tree_lookup(tree, recs[i].name);

        g_assert_cmpuint(cp->doc_version, !=, 0);
        g_assert_false(g_hash_table_contains(seen, &cp->doc_version));
        g_hash_table_add(seen, &cp->doc_version);
        g_assert_false(g_hash_table_contains(seen, &cp->serial));
        g_hash_table_add(seen, &cp->serial);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(recs); i++)
        g_assert_cmpuint(DOC(added, recs[i].name), ==, DOC(tree, recs[i].name));
    g_assert_false(g_hash_table_contains(seen, &DOC(added, "new")));

    /* Removing mid moves k1 to root: only k1's document changes. */
    g_assert_cmpuint(DOC(no_mid, "root"), ==, DOC(tree, "root"));
    g_assert_cmpuint(SERIAL(no_mid, "k1"), ==, SERIAL(tree, "k1"));
    g_assert_cmpuint(DOC(no_mid, "k1"), !=, DOC(tree, "k1"));
    g_assert_false(g_hash_table_contains(seen, &DOC(no_mid, "k1")));
    g_assert_cmpuint(DOC(no_mid, "g"), ==, DOC(tree, "g"));

    /* The same name with another creation time is another object. */
    again = records_from(recs, G_N_ELEMENTS(recs), FALSE);
    ((CpfsCheckpointRecord *)again->pdata[3])->creation_time = 40;
    remade = cpfs_checkpoint_tree_new_after(again, tree);
    g_assert_cmpuint(SERIAL(remade, "g"), !=, SERIAL(tree, "g"));
    g_assert_cmpuint(DOC(remade, "g"), !=, DOC(tree, "g"));
    g_assert_cmpuint(DOC(remade, "k1"), ==, DOC(tree, "k1"));
#undef DOC
#undef SERIAL
}

/* ------------------------------------------------------------------------ */
/* The hidden "xml" checkpoint */

static void
test_hidden(void)
{
    const Rec recs[] = {
        { "a", NULL, 1 },
        { "xml", "a", 2 },
        { "y", "xml", 3 },
        { "z", "y", 4 },
        { "b", "a", 5 },
    };

    for (int round = 0; round < 20; round++) {
        g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), TRUE);
        CpfsCheckpoint *a = cpfs_checkpoint_tree_lookup(tree, "a");
        CpfsCheckpoint *xml = cpfs_checkpoint_tree_lookup(tree, "xml");
        CpfsCheckpoint *y = cpfs_checkpoint_tree_lookup(tree, "y");
        CpfsCheckpoint *cp = NULL;
        gboolean is_xml = FALSE;

        g_assert_true(cpfs_checkpoint_tree_has_hidden(tree));
        g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, 5);
        /* lookup still finds it, marked hidden */
        g_assert_nonnull(xml);
        g_assert_true(xml->hidden);
        g_assert_false(a->hidden);
        g_assert_nonnull(y);
        /* not listed, not reachable */
        assert_children(tree, "a", "b");
        g_assert_cmpuint(a->children->len, ==, 1);
        g_assert_null(cpfs_checkpoint_tree_child(tree, a, "xml"));
        g_assert_null(cpfs_checkpoint_tree_child(tree, xml, "y"));
        g_assert_null(cpfs_checkpoint_tree_child(tree, y, "z"));
        g_assert_null(cpfs_checkpoint_tree_child(tree, NULL, "y"));
        /* a/xml is the file of a, and nothing can be below it */
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, "a/xml", &cp, &is_xml), ==, 0);
        g_assert_true(cp == a);
        g_assert_true(is_xml);
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, "a/xml/y", &cp, &is_xml), ==,
                        -ENOTDIR);
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, "a/y", &cp, &is_xml), ==, -ENOENT);
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, "y", &cp, &is_xml), ==, -ENOENT);
        check_consistent(tree);

        /* Removing "xml" makes its children visible under a. */
        {
            g_autoptr(CpfsCheckpointTree) t = cpfs_checkpoint_tree_with_removed(tree, "xml");

            g_assert_false(cpfs_checkpoint_tree_has_hidden(t));
            assert_children(t, "a", "b,y");
            assert_children(t, "y", "z");
            g_assert_cmpint(cpfs_checkpoint_tree_resolve(t, "a/y/z", &cp, &is_xml), ==, 0);
            g_assert_cmpstr(cp->name, ==, "z");
            check_consistent(t);
        }
    }
}

static void
test_hidden_root(void)
{
    const Rec recs[] = {
        { "xml", NULL, 1 },
        { "under", "xml", 2 },
        { "v", NULL, 3 },
    };
    g_autoptr(CpfsCheckpointTree) tree = tree_from(recs, G_N_ELEMENTS(recs), TRUE);
    g_autoptr(CpfsCheckpointRecord) rec = cpfs_checkpoint_record_new("xml", "v", 4);
    const Rec plain[] = { { "v", NULL, 3 } };
    g_autoptr(CpfsCheckpointTree) plain_tree = tree_from(plain, 1, FALSE);
    g_autoptr(CpfsCheckpointTree) with_xml = cpfs_checkpoint_tree_with_added(plain_tree, rec);
    CpfsCheckpoint *cp = NULL;
    gboolean is_xml = FALSE;

    g_assert_true(cpfs_checkpoint_tree_has_hidden(tree));
    assert_children(tree, NULL, "v");
    g_assert_null(cpfs_checkpoint_tree_child(tree, NULL, "xml"));
    g_assert_null(cpfs_checkpoint_tree_child(tree, cpfs_checkpoint_tree_lookup(tree, "xml"),
                                             "under"));
    /* "xml" at the top is the domain's own XML file */
    g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, "xml", &cp, &is_xml), ==, 0);
    g_assert_null(cp);
    g_assert_true(is_xml);
    g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, "xml/under", &cp, &is_xml), ==, -ENOTDIR);

    g_assert_false(cpfs_checkpoint_tree_has_hidden(plain_tree));
    g_assert_true(cpfs_checkpoint_tree_has_hidden(with_xml));
    assert_children(with_xml, "v", "");
}

/* ------------------------------------------------------------------------ */
/* Path resolution */

static void
test_resolve(void)
{
    g_autoptr(CpfsCheckpointTree) tree = tree_from(sample, G_N_ELEMENTS(sample), TRUE);
    CpfsCheckpoint *r1 = cpfs_checkpoint_tree_lookup(tree, "r1");
    CpfsCheckpoint *a = cpfs_checkpoint_tree_lookup(tree, "a");
    CpfsCheckpoint *a1 = cpfs_checkpoint_tree_lookup(tree, "a1");
    CpfsCheckpoint *cp;
    gboolean is_xml;

#define RESOLVE(path, want_rc, want_cp, want_xml) \
    do { \
        cp = (gpointer)0x1; \
        is_xml = !(want_xml); \
        g_test_message("resolve '%s'", path); \
        g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, path, &cp, &is_xml), ==, want_rc); \
        if ((want_rc) == 0) { \
            g_assert_true(cp == (want_cp)); \
            g_assert_cmpint(is_xml, ==, (want_xml)); \
        } \
    } while (0)

    RESOLVE("", 0, NULL, FALSE);
    RESOLVE(".", 0, NULL, FALSE);
    RESOLVE("xml", 0, NULL, TRUE);
    RESOLVE("r1", 0, r1, FALSE);
    RESOLVE("r1/xml", 0, r1, TRUE);
    RESOLVE("r1/a", 0, a, FALSE);
    RESOLVE("r1/a/xml", 0, a, TRUE);
    RESOLVE("r1/a/a1", 0, a1, FALSE);
    RESOLVE("r1/a/a1/xml", 0, a1, TRUE);
    RESOLVE("r1/../r1", 0, r1, FALSE);
    RESOLVE("r1/a/..", 0, r1, FALSE);
    RESOLVE("r1/a/../a/a1", 0, a1, FALSE);
    RESOLVE("r1/./a", 0, a, FALSE);
    RESOLVE("r1//a/", 0, a, FALSE);
    RESOLVE("r1/a/../../r2/x", 0, cpfs_checkpoint_tree_lookup(tree, "x"), FALSE);

    RESOLVE("xml/x", -ENOTDIR, NULL, FALSE);
    RESOLVE("xml/xml", -ENOTDIR, NULL, FALSE);
    RESOLVE("r1/xml/a", -ENOTDIR, NULL, FALSE);
    RESOLVE("r1/xml/..", -ENOTDIR, NULL, FALSE);
    RESOLVE("nope", -ENOENT, NULL, FALSE);
    RESOLVE("r1/nope", -ENOENT, NULL, FALSE);
    RESOLVE("r1/nope/xml", -ENOENT, NULL, FALSE);
    RESOLVE("a", -ENOENT, NULL, FALSE);          /* exists, but not at the top */
    RESOLVE("r2/a", -ENOENT, NULL, FALSE);       /* exists, but elsewhere */
    RESOLVE("r1/a1", -ENOENT, NULL, FALSE);      /* a grandchild */
#undef RESOLVE
}

/* A chain 5000 deep: built, resolved and freed without deep recursion. */
static void
test_deep_chain(void)
{
    const guint depth = 5000;
    g_autoptr(GPtrArray) records = cpfs_checkpoint_records_new();
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    g_autoptr(CpfsCheckpointTree) removed = NULL;
    g_autoptr(GString) path = g_string_new(NULL);
    g_autofree char *xml_path = NULL;
    g_autofree char *last = g_strdup_printf("n%u", depth - 1);
    CpfsCheckpoint *cp = NULL;
    gboolean is_xml = TRUE;

    for (guint i = 0; i < depth; i++) {
        g_autofree char *name = g_strdup_printf("n%u", i);
        g_autofree char *parent = i ? g_strdup_printf("n%u", i - 1) : NULL;

        g_ptr_array_add(records, cpfs_checkpoint_record_new(name, parent, i));
        if (i)
            g_string_append_c(path, '/');
        g_string_append(path, name);
    }
    shuffle(records);
    tree = cpfs_checkpoint_tree_new(records);
    g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, depth);
    g_assert_cmpint(cpfs_checkpoint_tree_newest(tree), ==, depth - 1);
    assert_children(tree, NULL, "n0");

    g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, path->str, &cp, &is_xml), ==, 0);
    g_assert_nonnull(cp);
    g_assert_cmpstr(cp->name, ==, last);
    g_assert_false(is_xml);
    xml_path = g_strconcat(path->str, "/xml", NULL);
    g_assert_cmpint(cpfs_checkpoint_tree_resolve(tree, xml_path, &cp, &is_xml), ==, 0);
    g_assert_cmpstr(cp->name, ==, last);
    g_assert_true(is_xml);

    removed = cpfs_checkpoint_tree_with_removed(tree, "n2500");
    g_assert_cmpuint(cpfs_checkpoint_tree_size(removed), ==, depth - 1);
    g_assert_cmpstr(parent_name(removed, "n2501"), ==, "n2499");
}

static void
test_refcount(void)
{
    CpfsCheckpointTree *tree = tree_from(sample, G_N_ELEMENTS(sample), FALSE);
    CpfsCheckpointTree *derived;
    g_autoptr(CpfsCheckpointRecord) rec = cpfs_checkpoint_record_new("new", "x", 1);

    g_assert_true(cpfs_checkpoint_tree_ref(tree) == tree);
    cpfs_checkpoint_tree_unref(tree);
    /* still alive: one reference left */
    g_assert_cmpuint(cpfs_checkpoint_tree_size(tree), ==, G_N_ELEMENTS(sample));
    g_assert_cmpstr(cpfs_checkpoint_tree_lookup(tree, "a")->name, ==, "a");
    assert_children(tree, "r1", "B,a,b,c");

    /* A derived tree does not depend on the one it came from. */
    derived = cpfs_checkpoint_tree_with_added(tree, rec);
    cpfs_checkpoint_tree_unref(tree);
    check_consistent(derived);
    assert_children(derived, "x", "new");
    g_assert_cmpstr(parent_name(derived, "new"), ==, "x");
    cpfs_checkpoint_tree_unref(derived);

    cpfs_checkpoint_tree_unref(NULL);  /* harmless */
}

/* Readers on other threads keep their reference while the owner drops it. */
static gpointer
tree_reader(gpointer data)
{
    CpfsCheckpointTree *tree = data;

    for (int i = 0; i < 200; i++) {
        CpfsCheckpointTree *t = cpfs_checkpoint_tree_ref(tree);

        g_assert_nonnull(cpfs_checkpoint_tree_lookup(t, "a1"));
        cpfs_checkpoint_tree_unref(t);
    }
    cpfs_checkpoint_tree_unref(tree);
    return NULL;
}

static void
test_refcount_threads(void)
{
    CpfsCheckpointTree *tree = tree_from(sample, G_N_ELEMENTS(sample), FALSE);
    GThread *threads[8];

    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("reader", tree_reader, cpfs_checkpoint_tree_ref(tree));
    cpfs_checkpoint_tree_unref(tree);
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
        g_thread_join(threads[i]);
}

/* ------------------------------------------------------------------------ */
/* Domain list */

static void
test_domain_list(void)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(CpfsDomainList) list = NULL;
    g_autoptr(CpfsDomainList) empty = cpfs_domain_list_new(NULL);
    GPtrArray *sorted;
    char buf[8] = "web";

    g_ptr_array_add(names, "web");
    g_ptr_array_add(names, "db");
    g_ptr_array_add(names, "Zeta");
    g_ptr_array_add(names, "web");
    g_ptr_array_add(names, "app-10");
    g_ptr_array_add(names, "app-2");
    g_ptr_array_add(names, "db");
    list = cpfs_domain_list_new(names);
    sorted = cpfs_domain_list_names(list);
    {
        g_autofree char *joined = NULL;
        GString *s = g_string_new(NULL);

        for (guint i = 0; i < sorted->len; i++)
            g_string_append_printf(s, "%s%s", i ? "," : "", (char *)g_ptr_array_index(sorted, i));
        joined = g_string_free(s, FALSE);
        g_assert_cmpstr(joined, ==, "Zeta,app-10,app-2,db,web");
    }
    g_assert_cmpuint(sorted->len, ==, 5);

    /* The list owns copies of the names. */
    g_assert_true(g_ptr_array_index(sorted, 4) != (gpointer)names->pdata[0]);
    g_assert_true(cpfs_domain_list_contains(list, buf));
    buf[0] = 'x';
    g_assert_true(cpfs_domain_list_contains(list, "web"));
    g_assert_false(cpfs_domain_list_contains(list, buf));

    g_assert_true(cpfs_domain_list_contains(list, "db"));
    g_assert_true(cpfs_domain_list_contains(list, "Zeta"));
    g_assert_false(cpfs_domain_list_contains(list, "zeta"));
    g_assert_false(cpfs_domain_list_contains(list, "app"));
    g_assert_false(cpfs_domain_list_contains(list, ""));

    g_assert_cmpuint(cpfs_domain_list_names(empty)->len, ==, 0);
    g_assert_false(cpfs_domain_list_contains(empty, "web"));

    /* ref keeps it alive after the owner lets go */
    {
        CpfsDomainList *l = cpfs_domain_list_new(names);
        CpfsDomainList *r = cpfs_domain_list_ref(l);

        g_assert_true(r == l);
        cpfs_domain_list_unref(l);
        g_assert_true(cpfs_domain_list_contains(r, "app-2"));
        g_assert_cmpuint(cpfs_domain_list_names(r)->len, ==, 5);
        cpfs_domain_list_unref(r);
        cpfs_domain_list_unref(NULL);
    }
}

static const TestCase tests[] = {
    { "/tree/build-sorted", test_build_sorted },
    { "/tree/build-empty", test_build_empty },
    { "/tree/newest", test_newest },
    { "/tree/lookup-child", test_lookup_child },
    { "/tree/missing-parent", test_missing_parent },
    { "/tree/loops", test_loops },
    { "/tree/duplicates", test_duplicates },
    { "/tree/duplicates-conflicting", test_duplicates_conflicting },
    { "/tree/duplicates-hidden", test_duplicates_hidden },
    { "/tree/with-added", test_with_added },
    { "/tree/with-removed", test_with_removed },
    { "/tree/doc-versions", test_doc_versions },
    { "/tree/hidden", test_hidden },
    { "/tree/hidden-root", test_hidden_root },
    { "/tree/resolve", test_resolve },
    { "/tree/deep-chain", test_deep_chain },
    { "/tree/refcount", test_refcount },
    { "/tree/refcount-threads", test_refcount_threads },
    { "/domains/list", test_domain_list },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
