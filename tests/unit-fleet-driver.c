/* Unit tests of several drivers in one process (a fleet): each connects in
 * the background (cpfs_driver_new), on its own, and one libvirt event
 * thread serves them all.  Good hosts are libvirt's in-process test driver
 * on node files (each connection its own state); a bad host is a socket
 * that does not exist, a hung one a socket that never answers. */
#include "unit-common.h"
#include "driver/connection.h"
#include "driver/driver.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define NODE_URI "test://" TESTS_DATA "/node.xml"
#define NAMES_URI "test://" TESTS_DATA "/node-bad-names.xml"
#define BAD_URI "qemu+unix:///system?socket=/nonexistent/sock"

/* What one driver's event callbacks saw. */
typedef struct {
    GMutex lock;
    GPtrArray *changed;  /* names of domains with a CHANGED event */
    guint reconnected;
} Seen;

static void
seen_init(Seen *seen)
{
    memset(seen, 0, sizeof(*seen));
    g_mutex_init(&seen->lock);
    seen->changed = g_ptr_array_new_with_free_func(g_free);
}

static void
seen_clear(Seen *seen)
{
    g_ptr_array_unref(seen->changed);
    g_mutex_clear(&seen->lock);
}

static void
on_event(const char *domain, CpfsDomainEvent event, void *opaque)
{
    Seen *seen = opaque;

    g_mutex_lock(&seen->lock);
    if (event == CPFS_DOMAIN_CHANGED)
        g_ptr_array_add(seen->changed, g_strdup(domain));
    g_mutex_unlock(&seen->lock);
}

static void
on_reconnected(void *opaque)
{
    Seen *seen = opaque;

    g_mutex_lock(&seen->lock);
    seen->reconnected++;
    g_mutex_unlock(&seen->lock);
}

static gboolean
has_changed(Seen *seen, const char *domain)
{
    gboolean found;

    g_mutex_lock(&seen->lock);
    found = g_ptr_array_find_with_equal_func(seen->changed, domain, g_str_equal, NULL);
    g_mutex_unlock(&seen->lock);
    return found;
}

/* Waits up to 5 s for SEEN to have been told of a new connection; how
 * many times it was. */
static guint
wait_reconnected(Seen *seen)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    guint n;

    for (;;) {
        g_mutex_lock(&seen->lock);
        n = seen->reconnected;
        g_mutex_unlock(&seen->lock);
        if (n > 0 || g_get_monotonic_time() > deadline)
            return n;
        g_usleep(G_USEC_PER_SEC / 100);
    }
}

/* Waits up to SECONDS for DRV to be in state WANT. */
static gboolean
wait_state(CpfsDriver *drv, CpfsDriverState want, double seconds)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);

    while (cpfs_driver_state(drv, NULL) != want) {
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        g_usleep(G_USEC_PER_SEC / 100);
    }
    return TRUE;
}

/* Waits up to 5 s for SEEN to have a CHANGED event of DOMAIN. */
static gboolean
wait_changed(Seen *seen, const char *domain)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (!has_changed(seen, domain)) {
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        g_usleep(G_USEC_PER_SEC / 100);
    }
    return TRUE;
}

/* Suspends DOMAIN on DRV's own connection, as someone else would: the
 * test driver reports it as a lifecycle event through the event loop. */
static void
suspend(CpfsDriver *drv, const char *domain)
{
    virDomainPtr dom = virDomainLookupByName(drv->live->conn, domain);

    g_assert_nonnull(dom);
    g_assert_cmpint(virDomainSuspend(dom), ==, 0);
    virDomainFree(dom);
}

static void
assert_lists(CpfsDriver *drv, guint n, const char *first)
{
    g_autoptr(GPtrArray) names = NULL;

    g_assert_cmpint(cpfs_driver_list_domains(drv, &names), ==, 0);
    g_assert_cmpuint(names->len, ==, n);
    g_assert_true(g_ptr_array_find_with_equal_func(names, first, g_str_equal, NULL));
}

/* Two good hosts connect, a bad one stays DOWN with libvirt's message and
 * fails calls at once; freeing it leaves the others and the event thread
 * working, and unwatching one leaves the other's events flowing. */
static void
test_fleet(void)
{
    CpfsDriver *node = cpfs_driver_new(NODE_URI, FALSE);
    CpfsDriver *names = cpfs_driver_new(NAMES_URI, FALSE);
    CpfsDriver *bad = cpfs_driver_new(BAD_URI, FALSE);
    g_autoptr(GPtrArray) none = NULL;
    g_autofree char *error = NULL;
    Seen seen_node, seen_names, seen_bad;
    guint64 node_calls, names_calls;
    gint64 start, took;

    /* A host dropped before it ever watched or connected. */
    cpfs_driver_free(cpfs_driver_new(NODE_URI, FALSE));
    seen_init(&seen_node);
    seen_init(&seen_names);
    seen_init(&seen_bad);
    /* Nothing happens before watching: no libvirt call was made. */
    g_assert_cmpint(cpfs_driver_state(bad, &error), ==, CPFS_DRIVER_CONNECTING);
    g_assert_null(error);
    g_assert_cmpuint(cpfs_driver_calls(node) + cpfs_driver_calls(bad), ==, 0);
    g_assert_cmpstr(cpfs_driver_uri(bad), ==, BAD_URI);

    cpfs_driver_watch_domains(node, on_event, on_reconnected, &seen_node);
    cpfs_driver_watch_domains(names, on_event, on_reconnected, &seen_names);
    cpfs_driver_watch_domains(bad, on_event, on_reconnected, &seen_bad);
    g_assert_true(wait_state(node, CPFS_DRIVER_CONNECTED, 10));
    g_assert_true(wait_state(names, CPFS_DRIVER_CONNECTED, 10));
    g_assert_true(wait_state(bad, CPFS_DRIVER_DOWN, 10));
    g_assert_cmpint(cpfs_driver_state(bad, &error), ==, CPFS_DRIVER_DOWN);
    /* libvirt's own message, which names the socket. */
    g_assert_nonnull(strstr(error, "/nonexistent/sock"));
    g_assert_null(strchr(error, '\n'));
    g_clear_pointer(&error, g_free);
    g_assert_cmpint(cpfs_driver_state(node, &error), ==, CPFS_DRIVER_CONNECTED);
    g_assert_null(error);
    /* The URI as configured, not libvirt's. */
    g_assert_cmpstr(cpfs_driver_uri(node), ==, NODE_URI);

    /* Known down: a call fails at once. */
    start = g_get_monotonic_time();
    g_assert_cmpint(cpfs_driver_list_domains(bad, &none), ==, -EIO);
    took = g_get_monotonic_time() - start;
    g_test_message("a call on the down host took %" G_GINT64_FORMAT " us", took);
    g_assert_cmpint(took, <, G_USEC_PER_SEC / 10);
    g_assert_null(none);

    /* The good ones answer, each counting its own calls. */
    node_calls = cpfs_driver_calls(node);
    names_calls = cpfs_driver_calls(names);
    assert_lists(node, 3, "alpha");
    assert_lists(names, 4, "ok");
    g_assert_cmpuint(cpfs_driver_calls(node), ==, node_calls + 1);
    g_assert_cmpuint(cpfs_driver_calls(names), ==, names_calls + 1);

    /* The bad host goes while the others stay. */
    start = g_get_monotonic_time();
    cpfs_driver_free(bad);
    took = g_get_monotonic_time() - start;
    g_test_message("freeing the down host took %" G_GINT64_FORMAT " us", took);
    g_assert_cmpint(took, <, G_USEC_PER_SEC / 2);
    assert_lists(node, 3, "alpha");
    suspend(node, "alpha");
    suspend(names, "ok");
    g_assert_true(wait_changed(&seen_node, "alpha"));
    g_assert_true(wait_changed(&seen_names, "ok"));
    g_assert_false(has_changed(&seen_node, "ok"));
    g_assert_false(has_changed(&seen_names, "alpha"));
    /* Each was told of its first connection. */
    g_assert_cmpuint(wait_reconnected(&seen_node), ==, 1);
    g_assert_cmpuint(wait_reconnected(&seen_names), ==, 1);

    /* One stops watching: the event thread goes on for the other. */
    cpfs_driver_unwatch(node);
    suspend(names, "..");
    g_assert_true(wait_changed(&seen_names, ".."));
    assert_lists(node, 3, "beta");

    cpfs_driver_free(node);
    assert_lists(names, 4, "ok");
    cpfs_driver_free(names);
    seen_clear(&seen_node);
    seen_clear(&seen_names);
    seen_clear(&seen_bad);
}

typedef struct {
    CpfsDriver *drv;
    pid_t tid;           /* the calling thread's, once known */
    int rc;
    GPtrArray *names;
} Caller;

static gpointer
call_list(gpointer data)
{
    Caller *caller = data;

    g_atomic_int_set(&caller->tid, (int)syscall(SYS_gettid));
    caller->rc = cpfs_driver_list_domains(caller->drv, &caller->names);
    return NULL;
}

/* Waits until thread TID sleeps (here: in the wait for the first attempt). */
static gboolean
wait_sleeping(Caller *caller)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    for (;;) {
        pid_t tid = g_atomic_int_get(&caller->tid);
        g_autofree char *path = g_strdup_printf("/proc/self/task/%d/stat", tid);
        g_autofree char *stat = NULL;
        const char *state;

        if (tid && g_file_get_contents(path, &stat, NULL, NULL) &&
            (state = strrchr(stat, ')')) && state[1] == ' ' && state[2] == 'S')
            return TRUE;
        if (g_get_monotonic_time() > deadline)
            return FALSE;
        g_usleep(G_USEC_PER_SEC / 100);
    }
}

/* A call made before the first attempt's outcome waits for it, then
 * answers (CONNECTING -> CONNECTED), or fails once it failed. */
static void
test_first_attempt(void)
{
    const char *uris[] = { NODE_URI, BAD_URI };

    for (guint i = 0; i < G_N_ELEMENTS(uris); i++) {
        Caller caller = { .drv = cpfs_driver_new(uris[i], FALSE) };
        Seen seen;
        GThread *thread;
        gint64 start;

        seen_init(&seen);
        start = g_get_monotonic_time();
        thread = g_thread_new("caller", call_list, &caller);
        /* The call waits: nothing connects before watching. */
        g_assert_true(wait_sleeping(&caller));
        g_assert_cmpint(cpfs_driver_state(caller.drv, NULL), ==, CPFS_DRIVER_CONNECTING);
        cpfs_driver_watch_domains(caller.drv, on_event, on_reconnected, &seen);
        g_thread_join(thread);
        g_test_message("%s: the waiting call returned %d after %" G_GINT64_FORMAT " us",
                       uris[i], caller.rc, g_get_monotonic_time() - start);
        if (i == 0) {
            g_assert_cmpint(caller.rc, ==, 0);
            g_assert_cmpuint(caller.names->len, ==, 3);
            g_assert_cmpint(cpfs_driver_state(caller.drv, NULL), ==, CPFS_DRIVER_CONNECTED);
        } else {
            /* At the failure, long before the budget's end. */
            g_assert_cmpint(caller.rc, ==, -EIO);
            g_assert_null(caller.names);
            g_assert_cmpint(g_get_monotonic_time() - start, <, 2 * G_USEC_PER_SEC);
        }
        g_clear_pointer(&caller.names, g_ptr_array_unref);
        cpfs_driver_free(caller.drv);
        seen_clear(&seen);
    }
}

/* A unix socket that takes connections and never answers. */
static int
listen_silently(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 8), ==, 0);
    return fd;
}

/* A host whose connection attempt hangs holds up nobody: another host
 * connects and answers meanwhile.  After the monitor's 4 s it is DOWN, no
 * second attempt starts while the first still hangs, and freeing it
 * returns at once (abandoning it to its stuck worker). */
static void
test_hung_attempt(void)
{
    g_autofree char *dir = g_dir_make_tmp("cpfs-fleet-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    g_autofree char *uri = g_strdup_printf("qemu+unix:///system?socket=%s", sock);
    int fd = listen_silently(sock);
    CpfsDriver *hung = cpfs_driver_new(uri, FALSE);
    CpfsDriver *node = cpfs_driver_new(NODE_URI, FALSE);
    g_autoptr(GPtrArray) none = NULL;
    g_autofree char *error = NULL;
    Seen seen_hung, seen_node;
    gint64 start, took;

    seen_init(&seen_hung);
    seen_init(&seen_node);
    cpfs_driver_watch_domains(hung, on_event, on_reconnected, &seen_hung);
    cpfs_driver_watch_domains(node, on_event, on_reconnected, &seen_node);
    g_assert_true(wait_state(node, CPFS_DRIVER_CONNECTED, 10));
    assert_lists(node, 3, "gamma-off");
    /* Its attempt (4 s at most) is still under way. */
    g_assert_cmpint(cpfs_driver_state(hung, NULL), ==, CPFS_DRIVER_CONNECTING);

    g_assert_true(wait_state(hung, CPFS_DRIVER_DOWN, 8));
    g_assert_cmpint(cpfs_driver_state(hung, &error), ==, CPFS_DRIVER_DOWN);
    g_assert_cmpstr(error, ==, "no answer within 4.0 s");
    start = g_get_monotonic_time();
    g_assert_cmpint(cpfs_driver_list_domains(hung, &none), ==, -EIO);
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC / 10);
    /* Retries would come after 0.1, 0.2, 0.4 s: none while one hangs. */
    while (g_get_monotonic_time() - start < G_USEC_PER_SEC) {
        g_assert_cmpuint(cpfs_driver_calls(hung), ==, 1);
        g_usleep(G_USEC_PER_SEC / 20);
    }
    assert_lists(node, 3, "alpha");

    start = g_get_monotonic_time();
    cpfs_driver_free(hung);
    took = g_get_monotonic_time() - start;
    g_test_message("freeing the host in a hung attempt took %" G_GINT64_FORMAT " us", took);
    g_assert_cmpint(took, <, G_USEC_PER_SEC / 2);
    assert_lists(node, 3, "alpha");
    suspend(node, "beta");
    g_assert_true(wait_changed(&seen_node, "beta"));
    cpfs_driver_free(node);
    /* The hung driver is left to the process's exit, with its worker stuck
     * in the attempt (it holds the driver): the listening socket stays open
     * until then, or the attempt would end and the driver be lost. */
    (void)fd;
    unlink(sock);
    rmdir(dir);
    seen_clear(&seen_node);
    seen_clear(&seen_hung);
}

/* Freeing a host during its first attempt, stuck, returns at once too. */
static void
test_free_connecting(void)
{
    g_autofree char *dir = g_dir_make_tmp("cpfs-fleet-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    g_autofree char *uri = g_strdup_printf("qemu+unix:///system?socket=%s", sock);
    int fd = listen_silently(sock);
    CpfsDriver *hung = cpfs_driver_new(uri, FALSE);
    Seen seen;
    gint64 start, took;

    seen_init(&seen);
    cpfs_driver_watch_domains(hung, on_event, on_reconnected, &seen);
    /* The attempt is out once libvirt was called. */
    start = g_get_monotonic_time();
    while (cpfs_driver_calls(hung) == 0 && g_get_monotonic_time() - start < 5 * G_USEC_PER_SEC)
        g_usleep(G_USEC_PER_SEC / 100);
    g_assert_cmpint(cpfs_driver_state(hung, NULL), ==, CPFS_DRIVER_CONNECTING);
    start = g_get_monotonic_time();
    cpfs_driver_free(hung);
    took = g_get_monotonic_time() - start;
    g_test_message("freeing the host in its first attempt took %" G_GINT64_FORMAT " us", took);
    g_assert_cmpint(took, <, G_USEC_PER_SEC / 2);
    /* As above, the socket stays open to the end. */
    (void)fd;
    unlink(sock);
    rmdir(dir);
    seen_clear(&seen);
}

static const TestCase tests[] = {
    { "/fleet-driver/fleet", test_fleet },
    { "/fleet-driver/first-attempt", test_first_attempt },
    { "/fleet-driver/hung-attempt", test_hung_attempt },
    { "/fleet-driver/free-connecting", test_free_connecting },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
