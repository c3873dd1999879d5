/* Unit tests of the document cache (cache/documents.c). */
#include "unit-common.h"
#include "cache/documents.h"

#include <string.h>

#define TTL (200 * 1000)  /* µs */

static void
test_put_get(void)
{
    g_autoptr(CpfsDocuments) docs = cpfs_documents_new(TTL, 1 << 20);
    g_autofree char *a = NULL;
    gint64 size = -1;

    g_assert_null(cpfs_documents_get(docs, "a"));
    g_assert_false(cpfs_documents_size(docs, "a", &size));
    cpfs_documents_put(docs, "a", "<doc>one</doc>");
    a = cpfs_documents_get(docs, "a");
    g_assert_cmpstr(a, ==, "<doc>one</doc>");
    g_assert_true(cpfs_documents_size(docs, "a", &size));
    g_assert_cmpint(size, ==, 14);
    g_assert_cmpuint(cpfs_documents_bytes(docs), ==, 14);
    /* A new text under the same key replaces the old one. */
    cpfs_documents_put(docs, "a", "<doc>two!</doc>");
    g_assert_true(cpfs_documents_size(docs, "a", &size));
    g_assert_cmpint(size, ==, 15);
    g_assert_cmpuint(cpfs_documents_count(docs), ==, 1);
    g_assert_cmpuint(cpfs_documents_bytes(docs), ==, 15);
}

static void
test_expiry(void)
{
    g_autoptr(CpfsDocuments) docs = cpfs_documents_new(TTL, 1 << 20);
    gint64 size;

    cpfs_documents_put(docs, "a", "aaaa");
    g_usleep(TTL + 20000);
    g_assert_null(cpfs_documents_get(docs, "a"));
    g_assert_false(cpfs_documents_size(docs, "a", &size));
}

/* A put refreshes its entry in place AND moves it behind the others, so a
 * fresh entry never shields older ones from expiry (issue 8, fault 5: the
 * cache filled with the documents of deleted checkpoints). */
static void
test_refresh_does_not_shield(void)
{
    g_autoptr(CpfsDocuments) docs = cpfs_documents_new(TTL, 1 << 20);

    cpfs_documents_put(docs, "front", "f");
    for (int i = 0; i < 100; i++) {
        g_autofree char *key = g_strdup_printf("old-%d", i);

        cpfs_documents_put(docs, key, "some document");
    }
    g_usleep(TTL / 2);
    cpfs_documents_put(docs, "front", "f");   /* refreshed, as a listing does */
    g_usleep(TTL / 2 + 20000);
    cpfs_documents_put(docs, "new", "n");     /* puts drop what expired */
    g_assert_cmpuint(cpfs_documents_count(docs), ==, 2);
    g_assert_cmpuint(cpfs_documents_bytes(docs), ==, 2);
}

/* When the texts would pass the cap, expired ones go first; a text that
 * still does not fit is not kept, but its size is. */
static void
test_cap(void)
{
    g_autoptr(CpfsDocuments) docs = cpfs_documents_new(TTL, 10);
    g_autofree char *first = NULL;
    gint64 size;

    cpfs_documents_put(docs, "a", "123456");
    cpfs_documents_put(docs, "b", "123456");
    first = cpfs_documents_get(docs, "a");
    g_assert_cmpstr(first, ==, "123456");
    g_assert_null(cpfs_documents_get(docs, "b"));
    g_assert_true(cpfs_documents_size(docs, "b", &size));
    g_assert_cmpint(size, ==, 6);
    g_assert_cmpuint(cpfs_documents_bytes(docs), ==, 6);
    g_usleep(TTL + 20000);
    cpfs_documents_put(docs, "c", "123456");
    g_assert_cmpuint(cpfs_documents_count(docs), ==, 1);
    g_clear_pointer(&first, g_free);
    first = cpfs_documents_get(docs, "c");
    g_assert_cmpstr(first, ==, "123456");
}

static void
test_forget_prefix(void)
{
    g_autoptr(CpfsDocuments) docs = cpfs_documents_new(TTL, 1 << 20);
    gint64 size;

    cpfs_documents_put(docs, "dom\x1f" "a\x1f" "1", "x");
    cpfs_documents_put(docs, "dom\x1f" "a\x1f" "2", "xx");
    cpfs_documents_put(docs, "dom\x1f" "ab\x1f" "3", "xxx");
    cpfs_documents_put(docs, "other\x1f" "a\x1f" "4", "xxxx");
    cpfs_documents_forget_prefix(docs, "dom\x1f" "a\x1f");
    g_assert_false(cpfs_documents_size(docs, "dom\x1f" "a\x1f" "1", &size));
    g_assert_false(cpfs_documents_size(docs, "dom\x1f" "a\x1f" "2", &size));
    g_assert_true(cpfs_documents_size(docs, "dom\x1f" "ab\x1f" "3", &size));
    g_assert_cmpuint(cpfs_documents_bytes(docs), ==, 7);
    cpfs_documents_clear(docs);
    g_assert_cmpuint(cpfs_documents_count(docs), ==, 0);
    g_assert_cmpuint(cpfs_documents_bytes(docs), ==, 0);
}

static gpointer
hammer(gpointer data)
{
    CpfsDocuments *docs = data;

    for (int i = 0; i < 20000; i++) {
        g_autofree char *key = g_strdup_printf("k%d", i % 50);
        g_autofree char *got = NULL;

        cpfs_documents_put(docs, key, "document");
        got = cpfs_documents_get(docs, key);
        if (i % 1000 == 0)
            cpfs_documents_forget_prefix(docs, "k1");
    }
    return NULL;
}

static void
test_threads(void)
{
    g_autoptr(CpfsDocuments) docs = cpfs_documents_new(TTL, 200);
    GThread *t[4];

    for (int i = 0; i < 4; i++)
        t[i] = g_thread_new("hammer", hammer, docs);
    for (int i = 0; i < 4; i++)
        g_thread_join(t[i]);
    g_assert_cmpuint(cpfs_documents_count(docs), <=, 50);
    g_assert_cmpuint(cpfs_documents_bytes(docs), <=, 200);
}

static const TestCase tests[] = {
    { "/documents/put-get", test_put_get },
    { "/documents/expiry", test_expiry },
    { "/documents/refresh-does-not-shield", test_refresh_does_not_shield },
    { "/documents/cap", test_cap },
    { "/documents/forget-prefix", test_forget_prefix },
    { "/documents/threads", test_threads },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
