/* Unit tests of the inode table (model/inodes.c). */
#include "unit-common.h"
#include "model/inodes.h"

#include <errno.h>
#include <string.h>

static CpfsNodeId
node_id(CpfsNodeKind kind, const char *domain, const char *checkpoint)
{
    CpfsNodeId id = { .kind = kind, .domain = (char *)domain, .checkpoint = (char *)checkpoint };

    return id;
}

static void
test_inode_root(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    CpfsNodeId root = node_id(CPFS_NODE_ROOT, NULL, NULL);
    g_auto(CpfsNodeId) out = { 0 };

    g_assert_cmpint(CPFS_ROOT_INO, ==, 1);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &root), ==, CPFS_ROOT_INO);
    g_assert_true(cpfs_inode_table_get(table, CPFS_ROOT_INO, &out));
    g_assert_cmpint(out.kind, ==, CPFS_NODE_ROOT);
    g_assert_null(out.domain);
    g_assert_null(out.checkpoint);

    g_assert_cmpuint(cpfs_inode_table_add_lookup(table, &root), ==, CPFS_ROOT_INO);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);

    /* Forgetting the root does nothing, however often. */
    cpfs_inode_table_forget(table, CPFS_ROOT_INO, 1);
    cpfs_inode_table_forget(table, CPFS_ROOT_INO, 1000);
    cpfs_inode_table_forget(table, CPFS_ROOT_INO, G_MAXUINT64);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &root), ==, CPFS_ROOT_INO);
    g_assert_true(cpfs_inode_table_get(table, CPFS_ROOT_INO, &out));
    g_assert_cmpint(out.kind, ==, CPFS_NODE_ROOT);

    /* Other identities never get 1. */
    {
        CpfsNodeId dom = node_id(CPFS_NODE_DOMAIN, "test", NULL);
        guint64 ino = cpfs_inode_table_add_lookup(table, &dom);

        g_assert_cmpuint(ino, >, CPFS_ROOT_INO);
    }
}

static void
test_inode_same(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    CpfsNodeId id = node_id(CPFS_NODE_CHECKPOINT, "dom", "cp");
    g_autofree char *dom_copy = g_strdup("dom");
    g_autofree char *cp_copy = g_strdup("cp");
    CpfsNodeId same = node_id(CPFS_NODE_CHECKPOINT, dom_copy, cp_copy);
    guint64 first = cpfs_inode_table_add_lookup(table, &id);
    guint64 second = cpfs_inode_table_add_lookup(table, &same);

    g_assert_cmpuint(first, !=, 0);
    g_assert_cmpuint(first, !=, CPFS_ROOT_INO);
    g_assert_cmpuint(first, ==, second);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 2);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &id), ==, first);
}

static void
test_inode_distinct(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    const CpfsNodeId ids[] = {
        node_id(CPFS_NODE_DOMAIN, "a", NULL),
        node_id(CPFS_NODE_DOMAIN_XML, "a", NULL),
        node_id(CPFS_NODE_CHECKPOINT, "a", "b"),
        node_id(CPFS_NODE_CHECKPOINT_XML, "a", "b"),
        node_id(CPFS_NODE_DOMAIN, "b", NULL),
        node_id(CPFS_NODE_CHECKPOINT, "b", "a"),
        node_id(CPFS_NODE_CHECKPOINT, "a", "a"),
        node_id(CPFS_NODE_CHECKPOINT, "b", "b"),
        /* names that a naive separator would run together */
        node_id(CPFS_NODE_DOMAIN, "a\x01" "b", NULL),
        node_id(CPFS_NODE_DOMAIN, "a/b", NULL),
        node_id(CPFS_NODE_DOMAIN, "a:b", NULL),
        node_id(CPFS_NODE_DOMAIN, "ab", NULL),
        node_id(CPFS_NODE_CHECKPOINT, "ab", "c"),
        node_id(CPFS_NODE_CHECKPOINT, "a", "bc"),
        node_id(CPFS_NODE_CHECKPOINT, "a\x01" "b", "c"),
        node_id(CPFS_NODE_CHECKPOINT, "a", "b\x01" "c"),
        node_id(CPFS_NODE_CHECKPOINT, "a/b", "c"),
        node_id(CPFS_NODE_CHECKPOINT, "a", "b/c"),
        node_id(CPFS_NODE_CHECKPOINT, "a:b", "c"),
        node_id(CPFS_NODE_CHECKPOINT, "a", "b:c"),
        node_id(CPFS_NODE_CHECKPOINT_XML, "a\x01" "b", "c"),
        node_id(CPFS_NODE_CHECKPOINT_XML, "a", "b\x01" "c"),
        node_id(CPFS_NODE_DOMAIN, "\x7f", NULL),
        node_id(CPFS_NODE_DOMAIN, "\xff", NULL),
        node_id(CPFS_NODE_DOMAIN, "caf\xc3\xa9", NULL),
        node_id(CPFS_NODE_DOMAIN, "cafe", NULL),
    };
    guint64 inos[G_N_ELEMENTS(ids)];

    for (gsize i = 0; i < G_N_ELEMENTS(ids); i++) {
        inos[i] = cpfs_inode_table_add_lookup(table, &ids[i]);
        g_assert_cmpuint(inos[i], >, CPFS_ROOT_INO);
        for (gsize j = 0; j < i; j++) {
            if (inos[i] == inos[j]) {
                g_autofree char *d1 = g_strescape(ids[i].domain, NULL);
                g_autofree char *d2 = g_strescape(ids[j].domain, NULL);

                g_test_message("collision: %d/%s/%s and %d/%s/%s", ids[i].kind, d1,
                               ids[i].checkpoint, ids[j].kind, d2, ids[j].checkpoint);
            }
            g_assert_cmpuint(inos[i], !=, inos[j]);
        }
    }
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, G_N_ELEMENTS(ids) + 1);

    /* Each maps back to its own identity, and again to its own number. */
    for (gsize i = 0; i < G_N_ELEMENTS(ids); i++) {
        g_auto(CpfsNodeId) out = { 0 };

        g_assert_cmpuint(cpfs_inode_table_peek(table, &ids[i]), ==, inos[i]);
        g_assert_cmpuint(cpfs_inode_table_add_lookup(table, &ids[i]), ==, inos[i]);
        g_assert_true(cpfs_inode_table_get(table, inos[i], &out));
        g_assert_cmpint(out.kind, ==, ids[i].kind);
        g_assert_cmpstr(out.domain, ==, ids[i].domain);
        g_assert_cmpstr(out.checkpoint, ==, ids[i].checkpoint);
    }
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, G_N_ELEMENTS(ids) + 1);
}

static void
test_inode_get_copies(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    char dom[] = "dom";
    char cp[] = "cp";
    CpfsNodeId id = node_id(CPFS_NODE_CHECKPOINT_XML, dom, cp);
    guint64 ino = cpfs_inode_table_add_lookup(table, &id);
    g_auto(CpfsNodeId) out = { 0 };
    g_auto(CpfsNodeId) out2 = { 0 };

    /* The table copied the identity on ref. */
    dom[0] = 'X';
    cp[0] = 'Y';
    g_assert_true(cpfs_inode_table_get(table, ino, &out));
    g_assert_cmpint(out.kind, ==, CPFS_NODE_CHECKPOINT_XML);
    g_assert_cmpstr(out.domain, ==, "dom");
    g_assert_cmpstr(out.checkpoint, ==, "cp");

    /* get hands out copies: they outlive the entry, and are distinct. */
    g_assert_true(cpfs_inode_table_get(table, ino, &out2));
    g_assert_true(out.domain != out2.domain);
    g_assert_true(out.checkpoint != out2.checkpoint);
    cpfs_inode_table_forget(table, ino, 1);
    g_assert_cmpstr(out.domain, ==, "dom");
    g_assert_cmpstr(out.checkpoint, ==, "cp");
    g_assert_cmpstr(out2.domain, ==, "dom");

    /* unknown numbers */
    {
        g_auto(CpfsNodeId) none = { 0 };

        g_assert_false(cpfs_inode_table_get(table, ino, &none));
        g_assert_false(cpfs_inode_table_get(table, 0, &none));
        g_assert_false(cpfs_inode_table_get(table, 12345, &none));
        g_assert_null(none.domain);
        g_assert_null(none.checkpoint);
    }

    /* clearing twice is safe */
    cpfs_node_id_clear(&out2);
    g_assert_null(out2.domain);
    g_assert_null(out2.checkpoint);
    cpfs_node_id_clear(&out2);
}

static void
test_inode_forget(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    CpfsNodeId a = node_id(CPFS_NODE_DOMAIN, "a", NULL);
    CpfsNodeId b = node_id(CPFS_NODE_DOMAIN, "b", NULL);
    g_auto(CpfsNodeId) out = { 0 };
    guint64 ino_a, ino_a2, ino_b, ino_a3;

    ino_a = cpfs_inode_table_add_lookup(table, &a);
    g_assert_cmpuint(cpfs_inode_table_add_lookup(table, &a), ==, ino_a);
    g_assert_cmpuint(cpfs_inode_table_add_lookup(table, &a), ==, ino_a);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 2);

    /* three lookups: two forgotten, one left */
    cpfs_inode_table_forget(table, ino_a, 2);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 2);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &a), ==, ino_a);
    g_assert_true(cpfs_inode_table_get(table, ino_a, &out));
    cpfs_node_id_clear(&out);

    cpfs_inode_table_forget(table, ino_a, 1);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &a), ==, 0);
    g_assert_false(cpfs_inode_table_get(table, ino_a, &out));

    /* forgetting something gone, or unknown, is harmless */
    cpfs_inode_table_forget(table, ino_a, 1);
    cpfs_inode_table_forget(table, 999999, 1);
    cpfs_inode_table_forget(table, 0, 1);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);

    /* numbers are never reused */
    ino_a2 = cpfs_inode_table_add_lookup(table, &a);
    g_assert_cmpuint(ino_a2, !=, ino_a);
    g_assert_cmpuint(ino_a2, >, ino_a);
    ino_b = cpfs_inode_table_add_lookup(table, &b);
    g_assert_cmpuint(ino_b, !=, ino_a);
    g_assert_cmpuint(ino_b, !=, ino_a2);
    cpfs_inode_table_forget(table, ino_a2, 1);
    cpfs_inode_table_forget(table, ino_b, 1);
    ino_a3 = cpfs_inode_table_add_lookup(table, &a);
    g_assert_cmpuint(ino_a3, >, ino_b);
    g_assert_cmpuint(ino_a3, !=, ino_a);
    g_assert_cmpuint(ino_a3, !=, ino_a2);

    /* forgetting more than counted removes the entry */
    g_assert_cmpuint(cpfs_inode_table_add_lookup(table, &a), ==, ino_a3);
    cpfs_inode_table_forget(table, ino_a3, 100);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &a), ==, 0);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);

    /* forgetting one entry leaves others alone */
    {
        guint64 x = cpfs_inode_table_add_lookup(table, &a);
        guint64 y = cpfs_inode_table_add_lookup(table, &b);

        cpfs_inode_table_forget(table, x, 1);
        g_assert_cmpuint(cpfs_inode_table_peek(table, &b), ==, y);
        g_assert_true(cpfs_inode_table_get(table, y, &out));
        g_assert_cmpstr(out.domain, ==, "b");
    }
}

static void
test_inode_peek(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    CpfsNodeId id = node_id(CPFS_NODE_CHECKPOINT, "d", "c");

    /* peek does not create */
    g_assert_cmpuint(cpfs_inode_table_peek(table, &id), ==, 0);
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &id), ==, 0);

    /* peek does not count a lookup: one ref, many peeks, one forget */
    {
        guint64 ino = cpfs_inode_table_add_lookup(table, &id);

        for (int i = 0; i < 5; i++)
            g_assert_cmpuint(cpfs_inode_table_peek(table, &id), ==, ino);
        cpfs_inode_table_forget(table, ino, 1);
        g_assert_cmpuint(cpfs_inode_table_peek(table, &id), ==, 0);
        g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);
    }
}

static void
test_node_is_dir(void)
{
    g_assert_true(cpfs_node_is_dir(CPFS_NODE_ROOT));
    g_assert_true(cpfs_node_is_dir(CPFS_NODE_DOMAIN));
    g_assert_true(cpfs_node_is_dir(CPFS_NODE_CHECKPOINT));
    g_assert_false(cpfs_node_is_dir(CPFS_NODE_DOMAIN_XML));
    g_assert_false(cpfs_node_is_dir(CPFS_NODE_CHECKPOINT_XML));
}

#define N_THREADS 8
#define N_IDS 16
#define N_ITER 20000

typedef struct {
    CpfsInodeTable *table;
    CpfsNodeId ids[N_IDS];
    guint seed;
} ThreadShared;

typedef struct {
    ThreadShared *shared;
    guint index;
} ThreadArg;

static gpointer
inode_worker(gpointer data)
{
    ThreadArg *arg = data;
    ThreadShared *sh = arg->shared;
    g_autoptr(GRand) rand = g_rand_new_with_seed(sh->seed + arg->index);
    guint64 held[N_IDS] = { 0 };
    guint64 inos[N_IDS] = { 0 };

    for (int i = 0; i < N_ITER; i++) {
        guint k = (guint)g_rand_int_range(rand, 0, N_IDS);

        if (held[k] && g_rand_boolean(rand)) {
            guint64 n = (guint64)g_rand_int_range(rand, 1, (gint32)held[k] + 1);

            cpfs_inode_table_forget(sh->table, inos[k], n);
            held[k] -= n;
        } else {
            guint64 ino = cpfs_inode_table_add_lookup(sh->table, &sh->ids[k]);

            /* While this thread holds a lookup the number cannot change. */
            if (held[k])
                g_assert_cmpuint(ino, ==, inos[k]);
            g_assert_cmpuint(ino, >, CPFS_ROOT_INO);
            inos[k] = ino;
            held[k]++;
            if (i % 64 == 0) {
                g_auto(CpfsNodeId) out = { 0 };

                g_assert_true(cpfs_inode_table_get(sh->table, ino, &out));
                g_assert_cmpint(out.kind, ==, sh->ids[k].kind);
                g_assert_cmpstr(out.domain, ==, sh->ids[k].domain);
                g_assert_cmpstr(out.checkpoint, ==, sh->ids[k].checkpoint);
                g_assert_cmpuint(cpfs_inode_table_peek(sh->table, &sh->ids[k]), ==, ino);
            }
        }
    }
    /* Drop what is left, then take a fixed number of lookups per identity. */
    for (guint k = 0; k < N_IDS; k++) {
        if (held[k])
            cpfs_inode_table_forget(sh->table, inos[k], held[k]);
    }
    for (guint k = 0; k < N_IDS; k++) {
        for (guint n = 0; n < k + 1; n++)
            cpfs_inode_table_add_lookup(sh->table, &sh->ids[k]);
    }
    return NULL;
}

static void
test_inode_threads(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    ThreadShared sh = { .table = table, .seed = (guint)g_test_rand_int() };
    ThreadArg args[N_THREADS];
    GThread *threads[N_THREADS];
    char *names[N_IDS] = { 0 };
    guint64 inos[N_IDS];

    for (guint k = 0; k < N_IDS; k++) {
        names[k] = g_strdup_printf("n%u", k);
        sh.ids[k] = node_id(k % 2 ? CPFS_NODE_CHECKPOINT : CPFS_NODE_DOMAIN, "dom",
                            k % 2 ? names[k] : NULL);
        if (k % 2 == 0)
            sh.ids[k].domain = names[k];
    }
    for (guint t = 0; t < N_THREADS; t++) {
        args[t].shared = &sh;
        args[t].index = t;
        threads[t] = g_thread_new("inodes", inode_worker, &args[t]);
    }
    for (guint t = 0; t < N_THREADS; t++)
        g_thread_join(threads[t]);

    /* Each identity now holds exactly N_THREADS * (k + 1) lookups. */
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, N_IDS + 1);
    for (guint k = 0; k < N_IDS; k++) {
        inos[k] = cpfs_inode_table_peek(table, &sh.ids[k]);
        g_assert_cmpuint(inos[k], >, CPFS_ROOT_INO);
        for (guint j = 0; j < k; j++)
            g_assert_cmpuint(inos[k], !=, inos[j]);
        cpfs_inode_table_forget(table, inos[k], (guint64)N_THREADS * (k + 1) - 1);
        g_assert_cmpuint(cpfs_inode_table_peek(table, &sh.ids[k]), ==, inos[k]);
        cpfs_inode_table_forget(table, inos[k], 1);
        g_assert_cmpuint(cpfs_inode_table_peek(table, &sh.ids[k]), ==, 0);
    }
    g_assert_cmpuint(cpfs_inode_table_count(table), ==, 1);
    for (guint k = 0; k < N_IDS; k++)
        g_free(names[k]);
}

/* Readdir shows numbers the kernel holds no lookup on: they stay what a
 * later lookup gets, and only the most recent CPFS_INODES_IDLE_MAX stay. */
static void
test_inode_assign(void)
{
    g_autoptr(CpfsInodeTable) table = cpfs_inode_table_new();
    CpfsNodeId a = cpfs_node_id_domain(NULL, "a");
    guint64 ino = cpfs_inode_table_assign(table, &a);
    guint64 first_idle;

    g_assert_cmpuint(ino, >, CPFS_ROOT_INO);
    g_assert_cmpuint(cpfs_inode_table_assign(table, &a), ==, ino);
    g_assert_cmpuint(cpfs_inode_table_lookups(table, ino), ==, 0);
    /* the kernel cannot forget what it never looked up */
    cpfs_inode_table_forget(table, ino, 1);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &a), ==, ino);
    /* a lookup gets the number readdir showed, and counts */
    g_assert_cmpuint(cpfs_inode_table_add_lookup(table, &a), ==, ino);
    g_assert_cmpuint(cpfs_inode_table_lookups(table, ino), ==, 1);
    /* assign does not count, and a looked-up entry is not idle */
    g_assert_cmpuint(cpfs_inode_table_assign(table, &a), ==, ino);
    g_assert_cmpuint(cpfs_inode_table_lookups(table, ino), ==, 1);
    cpfs_inode_table_forget(table, ino, 1);
    g_assert_cmpuint(cpfs_inode_table_peek(table, &a), ==, CPFS_INO_UNKNOWN);

    /* bounded: the oldest idle entries go */
    {
        g_autofree char *name0 = g_strdup("d0");
        CpfsNodeId d0 = cpfs_node_id_domain(NULL, name0);

        first_idle = cpfs_inode_table_assign(table, &d0);
        for (guint i = 1; i < CPFS_INODES_IDLE_MAX + 30; i++) {
            g_autofree char *name = g_strdup_printf("d%u", i);
            CpfsNodeId d = cpfs_node_id_domain(NULL, name);

            cpfs_inode_table_assign(table, &d);
            /* d0 stays the most recent for a while, then MAX newer ones push it out */
            if (i < 20)
                g_assert_cmpuint(cpfs_inode_table_assign(table, &d0), ==, first_idle);
        }
        g_assert_cmpuint(cpfs_inode_table_count(table), ==, CPFS_INODES_IDLE_MAX + 1);
        g_assert_cmpuint(cpfs_inode_table_peek(table, &d0), ==, CPFS_INO_UNKNOWN);
    }
    /* entries the kernel holds are never evicted */
    {
        CpfsNodeId held = cpfs_node_id_domain(NULL, "held");
        guint64 h = cpfs_inode_table_add_lookup(table, &held);

        for (guint i = 0; i < CPFS_INODES_IDLE_MAX + 10; i++) {
            g_autofree char *name = g_strdup_printf("e%u", i);
            CpfsNodeId e = cpfs_node_id_domain(NULL, name);

            cpfs_inode_table_assign(table, &e);
        }
        g_assert_cmpuint(cpfs_inode_table_peek(table, &held), ==, h);
        g_assert_cmpuint(cpfs_inode_table_count(table), ==, CPFS_INODES_IDLE_MAX + 2);
    }
}

static void
test_node_id_helpers(void)
{
    CpfsNodeId root = cpfs_node_id_root();
    CpfsNodeId dom = cpfs_node_id_domain(NULL, "d");
    CpfsNodeId dxml = cpfs_node_id_domain_xml(NULL, "d");
    CpfsNodeId cp = cpfs_node_id_checkpoint(NULL, "d", "c", 5);
    CpfsNodeId cxml = cpfs_node_id_checkpoint_xml(NULL, "d", "c", 5, 9);
    g_auto(CpfsNodeId) copy = { 0 };
    char name[] = "c";
    CpfsNodeId borrowed = cpfs_node_id_checkpoint(NULL, "d", name, 5);

    g_assert_cmpint(root.kind, ==, CPFS_NODE_ROOT);
    g_assert_null(root.domain);
    g_assert_cmpint(dom.kind, ==, CPFS_NODE_DOMAIN);
    g_assert_cmpstr(dom.domain, ==, "d");
    g_assert_null(dom.checkpoint);
    g_assert_cmpint(dxml.kind, ==, CPFS_NODE_DOMAIN_XML);
    g_assert_cmpint(cp.kind, ==, CPFS_NODE_CHECKPOINT);
    g_assert_cmpstr(cp.checkpoint, ==, "c");
    g_assert_cmpuint(cp.serial, ==, 5);
    g_assert_cmpuint(cp.doc_version, ==, 0);
    g_assert_cmpint(cxml.kind, ==, CPFS_NODE_CHECKPOINT_XML);
    g_assert_cmpuint(cxml.doc_version, ==, 9);

    /* a copy owns its strings */
    cpfs_node_id_copy(&copy, &borrowed);
    name[0] = 'X';
    g_assert_cmpstr(copy.checkpoint, ==, "c");
    g_assert_true(copy.domain != borrowed.domain);
    g_assert_cmpuint(copy.serial, ==, 5);
    g_assert_cmpint(copy.kind, ==, CPFS_NODE_CHECKPOINT);
}

static void
count_destroy(gpointer data)
{
    (*(int *)data)++;
}

static void
set_payload(gpointer *payload, GDestroyNotify *destroy, gpointer data)
{
    g_assert_null(*payload);
    *payload = data;
    *destroy = count_destroy;
}

static void
read_payload(gpointer *payload, GDestroyNotify *destroy G_GNUC_UNUSED, gpointer data)
{
    *(gpointer *)data = *payload;
}

/* A payload lives with its entry and is freed with it, once. */
static void
test_inode_payload(void)
{
    CpfsInodeTable *table = cpfs_inode_table_new();
    CpfsNodeId a = cpfs_node_id_domain(NULL, "a");
    CpfsNodeId b = cpfs_node_id_domain(NULL, "b");
    int destroyed_a = 0, destroyed_b = 0;
    gpointer got = NULL;
    guint64 ia = cpfs_inode_table_add_lookup(table, &a);
    guint64 ib = cpfs_inode_table_add_lookup(table, &b);

    g_assert_false(cpfs_inode_table_with_payload(table, 9999, set_payload, &destroyed_a));
    g_assert_true(cpfs_inode_table_with_payload(table, ia, set_payload, &destroyed_a));
    g_assert_true(cpfs_inode_table_with_payload(table, ib, set_payload, &destroyed_b));
    g_assert_true(cpfs_inode_table_with_payload(table, ia, read_payload, &got));
    g_assert_true(got == &destroyed_a);
    cpfs_inode_table_forget(table, ia, 1);
    g_assert_cmpint(destroyed_a, ==, 1);
    g_assert_cmpint(destroyed_b, ==, 0);
    /* a new entry of the same identity starts without one */
    ia = cpfs_inode_table_add_lookup(table, &a);
    got = &got;
    g_assert_true(cpfs_inode_table_with_payload(table, ia, read_payload, &got));
    g_assert_null(got);
    cpfs_inode_table_free(table);
    g_assert_cmpint(destroyed_a, ==, 1);
    g_assert_cmpint(destroyed_b, ==, 1);
}

/* The same domain or checkpoint on two hosts, and a host's directory, are
 * distinct nodes; copies keep the host. */
static void
test_inode_hosts(void)
{
    CpfsInodeTable *table = cpfs_inode_table_new();
    CpfsNodeId h1 = cpfs_node_id_host("hv1");
    CpfsNodeId d1 = cpfs_node_id_domain("hv1", "vm");
    CpfsNodeId d2 = cpfs_node_id_domain("hv2", "vm");
    CpfsNodeId single = cpfs_node_id_domain(NULL, "vm");
    CpfsNodeId c1 = cpfs_node_id_checkpoint("hv1", "vm", "c", 3);
    CpfsNodeId c2 = cpfs_node_id_checkpoint("hv2", "vm", "c", 3);
    guint64 ih1 = cpfs_inode_table_add_lookup(table, &h1);
    guint64 id1 = cpfs_inode_table_add_lookup(table, &d1);
    guint64 id2 = cpfs_inode_table_add_lookup(table, &d2);
    guint64 is = cpfs_inode_table_add_lookup(table, &single);
    guint64 ic1 = cpfs_inode_table_add_lookup(table, &c1);
    guint64 ic2 = cpfs_inode_table_add_lookup(table, &c2);
    g_auto(CpfsNodeId) out = { 0 };

    g_assert_cmpuint(id1, !=, id2);
    g_assert_cmpuint(id1, !=, is);
    g_assert_cmpuint(ih1, !=, id1);
    g_assert_cmpuint(ic1, !=, ic2);
    g_assert_cmpuint(cpfs_inode_table_add_lookup(table, &d2), ==, id2);
    g_assert_true(cpfs_inode_table_get(table, ic2, &out));
    g_assert_cmpstr(out.host, ==, "hv2");
    g_assert_cmpstr(out.domain, ==, "vm");
    g_assert_true(cpfs_node_is_dir(CPFS_NODE_HOST));
    cpfs_node_id_clear(&out);
    g_assert_true(cpfs_inode_table_get(table, ih1, &out));
    g_assert_cmpint(out.kind, ==, CPFS_NODE_HOST);
    g_assert_null(out.domain);
    cpfs_inode_table_free(table);
}

static const TestCase tests[] = {
    { "/inodes/hosts", test_inode_hosts },
    { "/inodes/root", test_inode_root },
    { "/inodes/same", test_inode_same },
    { "/inodes/distinct", test_inode_distinct },
    { "/inodes/get-copies", test_inode_get_copies },
    { "/inodes/forget", test_inode_forget },
    { "/inodes/peek", test_inode_peek },
    { "/inodes/is-dir", test_node_is_dir },
    { "/inodes/threads", test_inode_threads },
    { "/inodes/assign", test_inode_assign },
    { "/inodes/node-id", test_node_id_helpers },
    { "/inodes/payload", test_inode_payload },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
