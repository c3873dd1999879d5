/* What the unit tests share: each test runs in a child process, so that one
 * failing assertion, crash or hang does not hide the results of the tests
 * after it. */
#pragma once
#include <glib.h>

typedef struct {
    const char *path;
    void (*func)(void);
} TestCase;

static void
run_isolated(gconstpointer data)
{
    const TestCase *tc = data;

    if (g_test_subprocess()) {
        tc->func();
        return;
    }
    g_test_trap_subprocess(NULL, 15 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

/* Registers TESTS and runs them. */
static int
run_tests(int argc, char **argv, const TestCase *tests, gsize n)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed child marks its test failed; the others still run. */
    if (!g_test_subprocess())
        g_test_set_nonfatal_assertions();
    for (gsize i = 0; i < n; i++)
        g_test_add_data_func(tests[i].path, &tests[i], run_isolated);
    return g_test_run();
}
