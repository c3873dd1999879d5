/* Unit tests of the NBD reader (driver/nbd.c) against a real qemu-nbd
 * serving a qcow2 image with a dirty bitmap.  Extents are judged by
 * nbdinfo --map, data by qemu-img convert's raw copy of the image. */
#include "unit-common.h"
#include "driver/nbd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define MiB (1024 * 1024)
#define DISK_SIZE (8 * MiB)

/* The folder every test's files live under; the parent process kills any
 * qemu-nbd left in it (a failed test aborts before its own cleanup). */
static const char *base_dir;

typedef struct {
    char *dir;
    char *image;
    char *socket;
    char *pid_file;
    int port;                   /* serve on TCP at 127.0.0.1:PORT, not on SOCKET */
    pid_t server;
} Fixture;

/* Runs ARGV; fails the test unless it succeeds.  Returns its stdout. */
static char *
run(const char *const *argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *err = NULL;
    char *out = NULL;
    int status;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error))
        g_error("cannot run %s: %s", argv[0], error->message);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("%s failed: %s", argv[0], err);
    return out;
}

static void
run_quiet(const char *const *argv)
{
    g_free(run(argv));
}

/* An 8 MiB qcow2 image: 64 KiB of 0x5a at 1 MiB before bitmap b0 was
 * added, then 128 KiB of 0x33 at 3 MiB and 4 KiB of 0x44 at 5 MiB, which
 * b0 records. */
static void
make_image(Fixture *f)
{
    run_quiet((const char *[]){ "qemu-img", "create", "-q", "-f", "qcow2", f->image, "8M", NULL });
    run_quiet((const char *[]){ "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 64k",
                                f->image, NULL });
    run_quiet((const char *[]){ "qemu-img", "bitmap", "--add", "--enable", f->image, "b0",
                                NULL });
    run_quiet((const char *[]){ "qemu-io", "-f", "qcow2", "-c", "write -P 0x33 3M 128k", "-c",
                                "write -P 0x44 5M 4k", f->image, NULL });
}

/* Serves the image as export "vda" with bitmap b0; --fork returns once
 * the socket is listening, so no wait is needed. */
static void
serve(Fixture *f)
{
    g_autofree char *pid_text = NULL;
    g_autofree char *port = g_strdup_printf("%d", f->port);
    const char *where[] = { "-k", f->socket, NULL, NULL };

    if (f->port) {
        where[0] = "-b";
        where[1] = "127.0.0.1";
        where[2] = "-p";
        where[3] = port;
    }
    run_quiet((const char *[]){ "qemu-nbd", "--fork", "--pid-file", f->pid_file, where[0],
                                where[1], "-f", "qcow2", "-t", "-e", "32", "-x", "vda", "-B",
                                "b0", "-r", f->image, where[2], where[3], NULL });
    g_assert_true(g_file_get_contents(f->pid_file, &pid_text, NULL, NULL));
    f->server = (pid_t)g_ascii_strtoll(pid_text, NULL, 10);
    g_assert_cmpint(f->server, >, 1);
}

/* A TCP port nothing listens on just now (the kernel's pick). */
static int
free_port(void)
{
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
    close(fd);
    return ntohs(addr.sin_port);
}

/* Serves a fresh image on a unix socket, or on TCP when TCP. */
static Fixture *
fixture_new_on(gboolean tcp)
{
    Fixture *f = g_new0(Fixture, 1);

    f->dir = g_build_filename(base_dir, "XXXXXX", NULL);
    g_assert_nonnull(g_mkdtemp(f->dir));
    f->image = g_build_filename(f->dir, "disk.qcow2", NULL);
    f->socket = g_build_filename(f->dir, "nbd.sock", NULL);
    f->pid_file = g_build_filename(f->dir, "qemu-nbd.pid", NULL);
    f->port = tcp ? free_port() : 0;
    make_image(f);
    serve(f);
    return f;
}

static Fixture *
fixture_new(void)
{
    return fixture_new_on(FALSE);
}

/* PID runs (a zombie does not: qemu-nbd --fork is not our child, and
 * whoever reaps it may take its time). */
static gboolean
alive(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *stat = NULL;
    const char *paren;

    if (!g_file_get_contents(path, &stat, NULL, NULL))
        return FALSE;
    paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z';
}

/* Stops the server (by its pid) and waits until it is gone. */
static void
stop_server(Fixture *f, int sig)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    if (f->server <= 0)
        return;
    kill(f->server, sig);
    if (sig == SIGSTOP)
        return;
    while (alive(f->server) && g_get_monotonic_time() < deadline)
        g_usleep(10000);
    g_assert_false(alive(f->server));
    f->server = 0;
}

static void
fixture_free(Fixture *f)
{
    if (f->server > 0) {
        kill(f->server, SIGCONT);
        stop_server(f, SIGKILL);
    }
    run_quiet((const char *[]){ "rm", "-rf", f->dir, NULL });
    g_free(f->dir);
    g_free(f->image);
    g_free(f->socket);
    g_free(f->pid_file);
    g_free(f);
}

static CpfsNbdExport *
open_export(Fixture *f, const char *bitmap, guint connections)
{
    CpfsNbdTarget target = { .socket_path = f->port ? NULL : f->socket, .tcp_host = "127.0.0.1",
                             .tcp_port = f->port, .export_name = "vda", .bitmap = bitmap };
    g_autofree char *error = NULL;
    CpfsNbdExport *exp = cpfs_nbd_open(&target, connections,
                                       g_get_monotonic_time() + 5 * G_USEC_PER_SEC, &error);

    if (!exp)
        g_error("cpfs_nbd_open: %s", error);
    return exp;
}

/* The runs nbdinfo --map[=CONTEXT] reports with a type that MARKED
 * accepts, merged, as "offset+length" words. */
static char *
nbdinfo_runs(const char *uri, const char *context, gboolean (*marked)(unsigned type))
{
    g_autofree char *map_arg = context ? g_strconcat("--map=", context, NULL)
                                       : g_strdup("--map");
    g_autofree char *out = run((const char *[]){ "nbdinfo", map_arg, uri, NULL });
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    GString *runs = g_string_new(NULL);
    guint64 start = 0, end = 0;
    gboolean open = FALSE;

    for (char **l = lines; *l; l++) {
        guint64 offset, length;
        unsigned type;

        if (sscanf(*l, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %u", &offset, &length,
                   &type) != 3)
            continue;
        if (!marked(type))
            continue;
        if (open && offset == end) {
            end += length;
            continue;
        }
        if (open)
            g_string_append_printf(runs, "%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT " ", start,
                                   end - start);
        start = offset;
        end = offset + length;
        open = TRUE;
    }
    if (open)
        g_string_append_printf(runs, "%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT " ", start,
                               end - start);
    return g_string_free(runs, FALSE);
}

static char *
map_runs(const CpfsExtentMap *map)
{
    GString *runs = g_string_new(NULL);

    for (guint i = 0; i < cpfs_extent_map_n_runs(map); i++) {
        const CpfsExtent *e = cpfs_extent_map_run(map, i);

        g_string_append_printf(runs, "%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT " ", e->offset,
                               e->length);
    }
    return g_string_free(runs, FALSE);
}

static gboolean
not_hole(unsigned type)
{
    return !(type & 1);
}

static gboolean
dirty(unsigned type)
{
    return type & 1;
}

static void
test_extents(void)
{
    Fixture *f = fixture_new();
    g_autoptr(CpfsNbdExport) exp = open_export(f, "b0", 2);
    g_autoptr(CpfsExtentMap) allocated = NULL;
    g_autoptr(CpfsExtentMap) changed = NULL;
    g_autofree char *want_allocated = NULL;
    g_autofree char *want_changed = NULL;
    g_autofree char *got_allocated = NULL;
    g_autofree char *got_changed = NULL;

    g_assert_cmpuint(cpfs_nbd_size(exp), ==, DISK_SIZE);
    g_assert_cmpint(cpfs_nbd_extents(exp, g_get_monotonic_time() + 5 * G_USEC_PER_SEC,
                                     &allocated, &changed), ==, 0);
    /* nbdinfo reads the URI the export reports. */
    want_allocated = nbdinfo_runs(cpfs_nbd_uri(exp), NULL, not_hole);
    want_changed = nbdinfo_runs(cpfs_nbd_uri(exp), "qemu:dirty-bitmap:b0", dirty);
    got_allocated = map_runs(allocated);
    got_changed = map_runs(changed);
    g_test_message("allocated: %s; changed: %s", got_allocated, got_changed);
    g_assert_cmpstr(got_allocated, ==, want_allocated);
    g_assert_cmpstr(got_changed, ==, want_changed);
    /* The write before the bitmap existed is data, but not a change. */
    g_assert_true(cpfs_extent_map_any(allocated, 1 * MiB, 1));
    g_assert_false(cpfs_extent_map_any(changed, 1 * MiB, 64 * 1024));
    g_assert_true(cpfs_extent_map_any(changed, 3 * MiB, 1));
    cpfs_nbd_close(g_steal_pointer(&exp));
    fixture_free(f);
}

/* The same over TCP, as remote URIs export: the URI names host and port. */
static void
test_tcp(void)
{
    Fixture *f = fixture_new_on(TRUE);
    g_autoptr(CpfsNbdExport) exp = open_export(f, "b0", 2);
    g_autoptr(CpfsExtentMap) allocated = NULL;
    g_autoptr(CpfsExtentMap) changed = NULL;
    g_autofree char *want_uri = g_strdup_printf("nbd://127.0.0.1:%d/vda", f->port);
    g_autofree char *want_changed = NULL;
    g_autofree char *got_changed = NULL;
    g_autofree guint8 *buf = g_malloc(128 * 1024);
    CpfsDiskRead r = { 0, 3 * MiB, 128 * 1024 };
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    g_assert_cmpstr(cpfs_nbd_uri(exp), ==, want_uri);
    g_assert_cmpint(cpfs_nbd_extents(exp, deadline, &allocated, &changed), ==, 0);
    want_changed = nbdinfo_runs(cpfs_nbd_uri(exp), "qemu:dirty-bitmap:b0", dirty);
    got_changed = map_runs(changed);
    g_assert_cmpstr(got_changed, ==, want_changed);
    g_assert_cmpint(cpfs_nbd_read(exp, buf, &r, 1, deadline), ==, 0);
    g_assert_cmpint(buf[0], ==, 0x33);
    g_assert_cmpint(buf[128 * 1024 - 1], ==, 0x33);
    cpfs_nbd_close(g_steal_pointer(&exp));
    fixture_free(f);
}

static void
test_missing_bitmap(void)
{
    Fixture *f = fixture_new();
    g_autoptr(CpfsNbdExport) exp = open_export(f, "nope", 1);
    g_autoptr(CpfsNbdExport) plain = open_export(f, NULL, 1);
    g_autoptr(CpfsExtentMap) allocated = NULL;
    CpfsExtentMap *changed = NULL;
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    g_assert_cmpint(cpfs_nbd_extents(exp, deadline, &allocated, &changed), ==, -ESTALE);
    g_assert_null(changed);
    g_assert_cmpint(cpfs_nbd_extents(plain, deadline, &allocated, &changed), ==, -ESTALE);
    /* Without a bitmap asked for, the allocation still reads. */
    g_assert_cmpint(cpfs_nbd_extents(exp, deadline, &allocated, NULL), ==, 0);
    g_assert_cmpuint(cpfs_extent_map_marked_bytes(allocated), >=, 64 * 1024);
    cpfs_nbd_close(g_steal_pointer(&exp));
    cpfs_nbd_close(g_steal_pointer(&plain));
    fixture_free(f);
}

/* The disk as qemu-img converts it to raw. */
static guint8 *
raw_copy(Fixture *f)
{
    g_autofree char *raw = g_build_filename(f->dir, "disk.raw", NULL);
    char *data = NULL;
    gsize len = 0;

    run_quiet((const char *[]){ "qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw",
                                f->image, raw, NULL });
    g_assert_true(g_file_get_contents(raw, &data, &len, NULL));
    g_assert_cmpuint(len, ==, DISK_SIZE);
    return (guint8 *)data;
}

typedef struct {
    CpfsNbdExport *exp;
    const guint8 *want;
    guint seed;
    int failures;
} Reader;

/* Reads the whole disk in scattered pieces of odd sizes, each read of
 * several pieces (larger than one NBD request), and compares. */
static gpointer
read_all(gpointer data)
{
    Reader *r = data;
    g_autofree guint8 *buf = g_malloc(DISK_SIZE);
    g_autoptr(GRand) rand = g_rand_new_with_seed(r->seed);
    guint64 offset = 0;

    while (offset < DISK_SIZE) {
        CpfsDiskRead reads[3];
        guint n = 0;
        gsize at = 0;

        /* Up to three pieces that leave gaps in the buffer. */
        while (n < 3 && offset < DISK_SIZE) {
            gsize len = (gsize)g_rand_int_range(rand, 1, 700 * 1024);

            len = MIN(len, DISK_SIZE - offset);

            reads[n++] = (CpfsDiskRead){ at, offset, len };
            at += len + 512;
            offset += len;
        }
        memset(buf, 0xee, at);
        if (cpfs_nbd_read(r->exp, buf, reads, n, g_get_monotonic_time() + 5 * G_USEC_PER_SEC)
            != 0) {
            r->failures++;
            return NULL;
        }
        for (guint i = 0; i < n; i++) {
            if (memcmp(buf + reads[i].buf_offset, r->want + reads[i].disk_offset,
                       reads[i].length) != 0 ||
                buf[reads[i].buf_offset + reads[i].length] != 0xee)
                r->failures++;
        }
    }
    return NULL;
}

static void
test_read(void)
{
    Fixture *f = fixture_new();
    g_autoptr(CpfsNbdExport) exp = open_export(f, "b0", 3);
    g_autofree guint8 *want = raw_copy(f);
    Reader readers[4];
    GThread *threads[4];

    /* The data is there at all: the comparison is not of zeros alone. */
    g_assert_cmpint(want[1 * MiB], ==, 0x5a);
    g_assert_cmpint(want[3 * MiB + 128 * 1024 - 1], ==, 0x33);
    /* More readers than connections: they share the pool. */
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
        readers[i] = (Reader){ exp, want, i + 1, 0 };
        threads[i] = g_thread_new("reader", read_all, &readers[i]);
    }
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
        g_thread_join(threads[i]);
        g_assert_cmpint(readers[i].failures, ==, 0);
    }
    cpfs_nbd_close(g_steal_pointer(&exp));
    fixture_free(f);
}

static void
test_read_past_end(void)
{
    Fixture *f = fixture_new();
    g_autoptr(CpfsNbdExport) exp = open_export(f, NULL, 1);
    guint8 buf[8192];
    CpfsDiskRead past = { 0, DISK_SIZE - 4096, 8192 };
    CpfsDiskRead last = { 0, DISK_SIZE - 4096, 4096 };
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    g_assert_cmpint(cpfs_nbd_read(exp, buf, &past, 1, deadline), ==, -EIO);
    g_assert_cmpint(cpfs_nbd_read(exp, buf, &last, 1, deadline), ==, 0);
    g_assert_cmpint(cpfs_nbd_read(exp, buf, NULL, 0, deadline), ==, 0);
    cpfs_nbd_close(g_steal_pointer(&exp));
    fixture_free(f);
}

/* A read of the whole disk in 1 MiB reads; the time it took in *ELAPSED. */
static int
read_disk(CpfsNbdExport *exp, gint64 deadline, gint64 *elapsed)
{
    g_autofree guint8 *buf = g_malloc(MiB);
    gint64 start = g_get_monotonic_time();
    int rc = 0;

    for (guint64 off = 0; off < DISK_SIZE && rc == 0; off += MiB) {
        CpfsDiskRead r = { 0, off, MiB };

        rc = cpfs_nbd_read(exp, buf, &r, 1, deadline);
    }
    *elapsed = g_get_monotonic_time() - start;
    return rc;
}

static void
test_server_killed(void)
{
    Fixture *f = fixture_new();
    g_autoptr(CpfsNbdExport) exp = open_export(f, "b0", 2);
    g_autoptr(CpfsExtentMap) allocated = NULL;
    gint64 elapsed;

    g_assert_cmpint(read_disk(exp, g_get_monotonic_time() + 5 * G_USEC_PER_SEC, &elapsed), ==,
                    0);
    g_test_message("8 MiB read in %.1f ms", elapsed / 1e3);
    stop_server(f, SIGKILL);
    g_assert_cmpint(read_disk(exp, g_get_monotonic_time() + 2 * G_USEC_PER_SEC, &elapsed), ==,
                    -EIO);
    g_test_message("read after kill failed in %.1f ms", elapsed / 1e3);
    g_assert_cmpint(elapsed, <, 2 * G_USEC_PER_SEC);
    /* Broken: everything after fails at once. */
    g_assert_cmpint(read_disk(exp, g_get_monotonic_time() + 2 * G_USEC_PER_SEC, &elapsed), ==,
                    -EIO);
    g_assert_cmpint(elapsed, <, G_USEC_PER_SEC / 10);
    g_assert_cmpint(cpfs_nbd_extents(exp, g_get_monotonic_time() + G_USEC_PER_SEC, &allocated,
                                     NULL), ==, -EIO);
    cpfs_nbd_close(g_steal_pointer(&exp));
    fixture_free(f);
}

/* A server that stops answering: the read fails at its deadline, not later. */
static void
test_server_hangs(void)
{
    Fixture *f = fixture_new();
    g_autoptr(CpfsNbdExport) exp = open_export(f, "b0", 2);
    gint64 elapsed;

    stop_server(f, SIGSTOP);
    g_assert_cmpint(read_disk(exp, g_get_monotonic_time() + G_USEC_PER_SEC / 2, &elapsed), ==,
                    -EIO);
    g_test_message("read from a stopped server failed after %.1f ms", elapsed / 1e3);
    g_assert_cmpint(elapsed, >=, G_USEC_PER_SEC * 4 / 10);
    g_assert_cmpint(elapsed, <, G_USEC_PER_SEC / 2 + G_USEC_PER_SEC / 5);
    /* The next read does not wait for it again. */
    g_assert_cmpint(read_disk(exp, g_get_monotonic_time() + G_USEC_PER_SEC / 2, &elapsed), ==,
                    -EIO);
    g_assert_cmpint(elapsed, <, G_USEC_PER_SEC / 10);
    cpfs_nbd_close(g_steal_pointer(&exp));
    fixture_free(f);
}

static void
test_open_fails(void)
{
    g_autofree char *dir = g_build_filename(base_dir, "XXXXXX", NULL);
    g_autofree char *socket = NULL;
    g_autofree char *error = NULL;
    CpfsNbdTarget target = { .export_name = "vda" };
    gint64 start = g_get_monotonic_time();

    g_assert_nonnull(g_mkdtemp(dir));
    socket = g_build_filename(dir, "none.sock", NULL);
    target.socket_path = socket;
    g_assert_null(cpfs_nbd_open(&target, 2, start + G_USEC_PER_SEC, &error));
    g_assert_nonnull(error);
    g_test_message("%s", error);
    g_assert_nonnull(strstr(error, "nbd+unix:///vda?socket="));
    g_rmdir(dir);
}

static const TestCase tests[] = {
    { "/nbd/extents", test_extents },
    { "/nbd/tcp", test_tcp },
    { "/nbd/missing-bitmap", test_missing_bitmap },
    { "/nbd/read", test_read },
    { "/nbd/read-past-end", test_read_past_end },
    { "/nbd/server-killed", test_server_killed },
    { "/nbd/server-hangs", test_server_hangs },
    { "/nbd/open-fails", test_open_fails },
};

/* Kills what a failed test left running under base_dir (by the pid files
 * of its own servers), and removes the folder. */
static void
clean_base(void)
{
    g_autoptr(GDir) dir = g_dir_open(base_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *pid_file = g_build_filename(base_dir, name, "qemu-nbd.pid", NULL);
        g_autofree char *text = NULL;

        if (g_file_get_contents(pid_file, &text, NULL, NULL)) {
            pid_t pid = (pid_t)g_ascii_strtoll(text, NULL, 10);

            if (pid > 1) {
                kill(pid, SIGCONT);
                kill(pid, SIGKILL);
            }
        }
    }
    run_quiet((const char *[]){ "rm", "-rf", base_dir, NULL });
}

int
main(int argc, char **argv)
{
    g_autofree char *qemu_nbd = g_find_program_in_path("qemu-nbd");
    g_autofree char *nbdinfo = g_find_program_in_path("nbdinfo");
    int rc;

    if (!qemu_nbd || !nbdinfo) {
        g_print("1..0 # SKIP qemu-nbd or nbdinfo missing (scripts/deps)\n");
        return 77;
    }
    /* Subprocesses inherit the parent's folder. */
    base_dir = g_getenv("UNIT_NBD_DIR");
    if (!base_dir) {
        base_dir = g_dir_make_tmp("unit-nbd-XXXXXX", NULL);
        g_assert_nonnull(base_dir);
        g_setenv("UNIT_NBD_DIR", base_dir, TRUE);
    }
    rc = run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
    if (!g_test_subprocess())
        clean_base();
    return rc;
}
