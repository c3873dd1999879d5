/* Unit tests of the hosts file parser (model/hosts.c): every rule with the
 * exact line it is reported at, glib's value syntax, sorting, comparison
 * of specs, and reading files. */
#include "unit-common.h"
#include "model/hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define PATH "/etc/x.conf"

/* TEXT parsed as PATH, which must succeed. */
static CpfsHostsFile *
parse_ok(const char *text)
{
    g_autofree char *error = NULL;
    CpfsHostsFile *file = cpfs_hosts_file_parse(PATH, text, strlen(text), &error);

    g_assert_cmpstr(error, ==, NULL);
    g_assert_nonnull(file);
    return file;
}

/* TEXT (LEN bytes) parsed as PATH must fail with exactly PATH ":" WANT. */
static void
expect_error_len(const char *text, gsize len, const char *want)
{
    g_autofree char *error = NULL;
    g_autofree char *full = g_strconcat(PATH ":", want, NULL);
    g_autoptr(CpfsHostsFile) file = cpfs_hosts_file_parse(PATH, text, len, &error);

    g_assert_null(file);
    g_assert_cmpstr(error, ==, full);
    g_assert_null(strchr(error, '\n'));
}

static void
expect_error(const char *text, const char *want)
{
    expect_error_len(text, strlen(text), want);
}

static void
test_valid(void)
{
    g_autoptr(CpfsHostsFile) file = parse_ok(
        "# the fleet\n"                          /* 1 */
        "\n"                                     /* 2 */
        "[lab]\n"                                /* 3 */
        "uri=test:///default\n"                  /* 4 */
        "  # indented comment\n"                 /* 5 */
        "[hv1]\n"                                /* 6 */
        "uri=qemu+ssh://root@hv1/system\n"       /* 7 */
        "readonly=true\n"                        /* 8 */
        "backup_scratch=/srv/scratch\n"          /* 9 */
        "\t\n"                                   /* 10 */
        "[Zeta.2]\n"                             /* 11 */
        "readonly=false\n"                       /* 12 */
        "uri=qemu:///system\n");                 /* 13 */
    const CpfsHostSpec *s;

    g_assert_cmpuint(cpfs_hosts_file_count(file), ==, 3);
    /* strcmp order: upper case sorts before lower case. */
    s = cpfs_hosts_file_get(file, 0);
    g_assert_cmpstr(s->name, ==, "Zeta.2");
    g_assert_cmpstr(s->uri, ==, "qemu:///system");
    g_assert_false(s->readonly);
    g_assert_null(s->backup_scratch);
    g_assert_cmpint(s->line, ==, 11);
    s = cpfs_hosts_file_get(file, 1);
    g_assert_cmpstr(s->name, ==, "hv1");
    g_assert_cmpstr(s->uri, ==, "qemu+ssh://root@hv1/system");
    g_assert_true(s->readonly);
    g_assert_cmpstr(s->backup_scratch, ==, "/srv/scratch");
    g_assert_cmpint(s->line, ==, 6);
    s = cpfs_hosts_file_get(file, 2);
    g_assert_cmpstr(s->name, ==, "lab");
    g_assert_cmpstr(s->uri, ==, "test:///default");
    g_assert_false(s->readonly);
    g_assert_null(s->backup_scratch);
    g_assert_cmpint(s->line, ==, 3);

    g_assert_true(cpfs_hosts_file_find(file, "hv1") == cpfs_hosts_file_get(file, 1));
    g_assert_true(cpfs_hosts_file_find(file, "lab") == cpfs_hosts_file_get(file, 2));
    g_assert_true(cpfs_hosts_file_find(file, "Zeta.2") == cpfs_hosts_file_get(file, 0));
    g_assert_null(cpfs_hosts_file_find(file, "zeta.2"));
    g_assert_null(cpfs_hosts_file_find(file, "hv"));
    g_assert_null(cpfs_hosts_file_find(file, ""));
}

/* Many hosts in reverse order come out sorted, each found by name. */
static void
test_sorted(void)
{
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(CpfsHostsFile) file = NULL;

    for (int i = 99; i >= 0; i--)
        g_string_append_printf(text, "[h%02d]\nuri=test:///%d\n", i, i);
    file = parse_ok(text->str);
    g_assert_cmpuint(cpfs_hosts_file_count(file), ==, 100);
    for (guint i = 0; i < 100; i++) {
        g_autofree char *name = g_strdup_printf("h%02u", i);
        g_autofree char *uri = g_strdup_printf("test:///%u", i);
        const CpfsHostSpec *s = cpfs_hosts_file_get(file, i);

        g_assert_cmpstr(s->name, ==, name);
        g_assert_cmpstr(s->uri, ==, uri);
        g_assert_cmpint(s->line, ==, 2 * (99 - (int)i) + 1);
        g_assert_true(cpfs_hosts_file_find(file, name) == s);
    }
}

static void
test_empty(void)
{
    const char *texts[] = { "", "\n", "# nothing here\n", "#\n\n   \n\t# x\n", "# no newline" };

    for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autoptr(CpfsHostsFile) file = parse_ok(texts[i]);

        g_assert_cmpuint(cpfs_hosts_file_count(file), ==, 0);
        g_assert_null(cpfs_hosts_file_find(file, "a"));
    }
}

/* Values are glib's: escapes decoded, white space around '=' dropped,
 * CRLF line ends, no newline at the end. */
static void
test_glib_syntax(void)
{
    g_autoptr(CpfsHostsFile) file = parse_ok(
        "[a]\r\n"
        "  uri \t=  test:///a\\sb\\\\c\r\n"
        "backup_scratch = /srv/my\\sscratch\\tdir\r\n"
        "[b] \t\n"
        "readonly= 1\n"
        "uri=x\\ny\n"
        "[c]\n"
        "readonly=0\n"
        "uri=z");
    const CpfsHostSpec *s = cpfs_hosts_file_find(file, "a");

    g_assert_cmpstr(s->uri, ==, "test:///a b\\c");
    g_assert_cmpstr(s->backup_scratch, ==, "/srv/my scratch\tdir");
    s = cpfs_hosts_file_find(file, "b");
    g_assert_true(s->readonly);
    g_assert_cmpstr(s->uri, ==, "x\ny");
    s = cpfs_hosts_file_find(file, "c");
    g_assert_false(s->readonly);
    g_assert_cmpstr(s->uri, ==, "z");

    expect_error("[a]\nuri=a\\qb\n", "2: host 'a': invalid escape sequence in uri");
    expect_error("[a]\nuri=x\nbackup_scratch=/a\\\n",
                 "3: host 'a': invalid escape sequence in backup_scratch");
    /* A '\r' not before '\n' stays, as glib keeps it: no group here. */
    expect_error("[a]\r", "1: not a [host] header, key=value line or comment");
}

static void
test_malformed(void)
{
    expect_error("[a]\nuri=x\njunk\n", "3: not a [host] header, key=value line or comment");
    expect_error("[a]\nuri=x\n=x\n", "3: not a [host] header, key=value line or comment");
    expect_error("[a]\nuri=x\n  =x\n", "3: not a [host] header, key=value line or comment");
    expect_error("# c\n[a] b\nuri=x\n", "2: not a [host] header, key=value line or comment");
    expect_error("[a\nuri=x\n", "1: not a [host] header, key=value line or comment");
    expect_error("[a]]\nuri=x\n", "1: not a [host] header, key=value line or comment");
    expect_error("[a]\nuri=x\n; not a comment in glib\n",
                 "3: not a [host] header, key=value line or comment");
    /* glib's white space has no vertical tab. */
    expect_error("\v[a]\nuri=x\n", "1: not a [host] header, key=value line or comment");
    /* glib has no comments after a value: this one is part of it. */
    expect_error("[a]\nuri=x\nreadonly=true # comment\n",
                 "3: host 'a': readonly must be true or false, not 'true # comment'");
}

static void
test_key_outside_group(void)
{
    expect_error("uri=x\n[a]\nuri=x\n", "1: key 'uri' outside any [host] group");
    expect_error("# c\n\n  foo = bar\n", "3: key 'foo' outside any [host] group");
}

static void
test_duplicate_group(void)
{
    expect_error("[a]\nuri=x\n\n[b]\nuri=y\n[a]\nuri=z\n",
                 "6: duplicate host 'a' (first at line 1)");
    /* Names are compared exactly: case differs, no duplicate. */
    {
        g_autoptr(CpfsHostsFile) file = parse_ok("[a]\nuri=x\n[A]\nuri=y\n");

        g_assert_cmpuint(cpfs_hosts_file_count(file), ==, 2);
    }
}

static void
test_duplicate_key(void)
{
    expect_error("[a]\nuri=x\nreadonly=true\n uri = y\n",
                 "4: host 'a': duplicate key 'uri' (first at line 2)");
    expect_error("[a]\nreadonly=true\nuri=x\nreadonly=true\n",
                 "4: host 'a': duplicate key 'readonly' (first at line 2)");
    expect_error("[a]\nuri=x\nbackup_scratch=/a\n#\nbackup_scratch=/a\n",
                 "5: host 'a': duplicate key 'backup_scratch' (first at line 3)");
    /* The same key in another group is no duplicate. */
    {
        g_autoptr(CpfsHostsFile) file = parse_ok("[a]\nuri=x\n[b]\nuri=x\n");

        g_assert_cmpuint(cpfs_hosts_file_count(file), ==, 2);
    }
}

static void
test_unknown_key(void)
{
    expect_error("[a]\nuri=x\nfoo=bar\n",
                 "3: host 'a': unknown key 'foo' (known: uri, readonly, backup_scratch)");
    expect_error("[a]\nuri=x\nuri[de]=y\n",
                 "3: host 'a': unknown key 'uri[de]' (known: uri, readonly, backup_scratch)");
    expect_error("[a]\nURI=x\n",
                 "2: host 'a': unknown key 'URI' (known: uri, readonly, backup_scratch)");
    expect_error("[a]\nread only=true\n",
                 "2: host 'a': unknown key 'read only' (known: uri, readonly, backup_scratch)");
}

static void
test_group_names(void)
{
    g_autofree char *max = g_strnfill(247, 'm');
    g_autofree char *over = g_strnfill(248, 'o');
    g_autofree char *ok_text = g_strdup_printf("[%s]\nuri=x\n", max);
    g_autofree char *over_text = g_strdup_printf("#\n[%s]\nuri=x\n", over);
    g_autofree char *over_want = g_strdup_printf(
        "2: host '%.64s...': name longer than 247 bytes", over);
    g_autoptr(CpfsHostsFile) file = parse_ok(ok_text);

    g_assert_cmpstr(cpfs_hosts_file_get(file, 0)->name, ==, max);
    expect_error(over_text, over_want);
    expect_error("#\n#\n#\n#\n#\n#\n[hv 1]\nuri=x\n",
                 "7: host 'hv 1': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    expect_error("[.a]\nuri=x\n", "1: host '.a': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    expect_error("[]\nuri=x\n", "1: host '': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    expect_error("[a/b]\nuri=x\n", "1: host 'a/b': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    expect_error("[caf\xc3\xa9]\nuri=x\n",
                 "1: host 'caf\xc3\xa9': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    expect_error("[a]\nuri=x\n[xml]\nuri=y\n", "3: host 'xml': 'xml' is the name of the description file");
    /* Control characters are shown escaped: the message stays one line. */
    expect_error("[a\x1b[31mb]\nuri=x\n",
                 "1: host 'a\\x1b[31mb': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    expect_error("[a\x1b\rb]\nuri=x\n",
                 "1: host 'a\\x1b\\x0db': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
}

static void
test_missing_uri(void)
{
    expect_error("[a]\nuri=x\n[b]\nreadonly=true\n[c]\nuri=y\n", "3: host 'b': no uri");
    expect_error("[a]\nuri=x\n\n[b]\n# nothing\n", "4: host 'b': no uri");
    expect_error("[a]", "1: host 'a': no uri");
}

static void
test_empty_uri(void)
{
    expect_error("[a]\nuri=\n", "2: host 'a': uri is empty");
    expect_error("[a]\nreadonly=true\nuri =   \t\n", "3: host 'a': uri is empty");
    expect_error("[a]\nuri=\\s\n", "2: host 'a': uri is empty");
}

static void
test_readonly(void)
{
    const char *bad[] = { "yes", "TRUE", "on", "", "2", "\\s1" };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("[a]\nuri=x\nreadonly=%s\n", bad[i]);
        g_autofree char *want = g_strdup_printf(
            "3: host 'a': readonly must be true or false, not '%s'", bad[i]);

        expect_error(text, want);
    }
    {
        g_autoptr(CpfsHostsFile) file = parse_ok(
            "[t]\nreadonly=true\nuri=x\n[f]\nreadonly=false\nuri=x\n"
            "[one]\nreadonly=1\nuri=x\n[zero]\nreadonly=0\nuri=x\n[none]\nuri=x\n");

        g_assert_true(cpfs_hosts_file_find(file, "t")->readonly);
        g_assert_false(cpfs_hosts_file_find(file, "f")->readonly);
        g_assert_true(cpfs_hosts_file_find(file, "one")->readonly);
        g_assert_false(cpfs_hosts_file_find(file, "zero")->readonly);
        g_assert_false(cpfs_hosts_file_find(file, "none")->readonly);
    }
}

static void
test_backup_scratch(void)
{
    expect_error("[a]\nuri=x\nbackup_scratch=srv/scratch\n",
                 "3: host 'a': backup_scratch must be an absolute path, not 'srv/scratch'");
    expect_error("[a]\nbackup_scratch=\nuri=x\n",
                 "2: host 'a': backup_scratch must be an absolute path, not ''");
    expect_error("[a]\nbackup_scratch=\\n/x\nuri=x\n",
                 "2: host 'a': backup_scratch must be an absolute path, not '\\x0a/x'");
}

static void
test_bytes(void)
{
    static const char nul[] = "[a]\nuri=x\0y\n";
    static const char nul_comment[] = "[a]\nuri=x\n# \0\n";

    expect_error_len(nul, sizeof nul - 1, "2: NUL byte");
    expect_error_len(nul_comment, sizeof nul_comment - 1, "3: NUL byte");
    expect_error("[a]\nuri=x\n\n# caf\xe9\n", "4: not valid UTF-8");
    expect_error("[a]\nuri=\xc3\n", "2: not valid UTF-8");
    expect_error("\xed\xa0\x80\n", "1: not valid UTF-8");  /* a surrogate */
    {
        g_autoptr(CpfsHostsFile) file = parse_ok("# caf\xc3\xa9\n[a]\nuri=test:///caf\xc3\xa9\n");

        g_assert_cmpstr(cpfs_hosts_file_get(file, 0)->uri, ==, "test:///caf\xc3\xa9");
    }
}

/* The first error reading top to bottom is the one told. */
static void
test_first_error(void)
{
    expect_error("[a]\nuri=x\njunk\n[a]\nuri=y\n",
                 "3: not a [host] header, key=value line or comment");
    expect_error("[a]\n[a]\nuri=x\n", "1: host 'a': no uri");
    expect_error("[a b]\nfoo=1\n", "1: host 'a b': a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*");
    /* No error pointer: still refused. */
    g_assert_null(cpfs_hosts_file_parse(PATH, "junk", 4, NULL));
}

static void
test_same(void)
{
    CpfsHostSpec a = { .name = (char *)"a", .uri = (char *)"test:///default" };
    CpfsHostSpec b = a;

    g_assert_true(cpfs_host_spec_same(&a, &b));
    b.name = (char *)"other";  /* the name is not part of the connection */
    b.line = 9;
    g_assert_true(cpfs_host_spec_same(&a, &b));
    b.uri = (char *)"test:///other";
    g_assert_false(cpfs_host_spec_same(&a, &b));
    b.uri = g_strdup("test:///default");  /* equal strings, not pointers */
    g_assert_true(cpfs_host_spec_same(&a, &b));
    b.readonly = TRUE;
    g_assert_false(cpfs_host_spec_same(&a, &b));
    a.readonly = TRUE;
    g_assert_true(cpfs_host_spec_same(&a, &b));
    b.backup_scratch = (char *)"/srv";
    g_assert_false(cpfs_host_spec_same(&a, &b));
    g_assert_false(cpfs_host_spec_same(&b, &a));
    a.backup_scratch = (char *)"/srv/x";
    g_assert_false(cpfs_host_spec_same(&a, &b));
    a.backup_scratch = (char *)"/srv";
    g_assert_true(cpfs_host_spec_same(&a, &b));
    g_free(b.uri);
}

/* The specs of two parsed files: the same host unchanged, changed, added. */
static void
test_same_parsed(void)
{
    g_autoptr(CpfsHostsFile) old = parse_ok("[a]\nuri=x\n[b]\nuri=y\n[c]\nuri=z\n");
    g_autoptr(CpfsHostsFile) new = parse_ok(
        "# moved and reformatted\n[c]\nuri = z\nreadonly=false\n[b]\nuri=y\nreadonly=1\n[d]\nuri=x\n");

    g_assert_true(cpfs_host_spec_same(cpfs_hosts_file_find(old, "c"), cpfs_hosts_file_find(new, "c")));
    g_assert_false(cpfs_host_spec_same(cpfs_hosts_file_find(old, "b"), cpfs_hosts_file_find(new, "b")));
    g_assert_true(cpfs_host_spec_same(cpfs_hosts_file_find(old, "a"), cpfs_hosts_file_find(new, "d")));
    g_assert_null(cpfs_hosts_file_find(new, "a"));
}

static void
test_load(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("unit-hosts-XXXXXX", &err);
    g_autofree char *path = g_build_filename(dir, "fleet.conf", NULL);
    g_autofree char *bad = g_build_filename(dir, "bad.conf", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.conf", NULL);
    g_autofree char *under_file = g_build_filename(path, "x", NULL);
    g_autofree char *want = NULL;
    g_autofree char *error = NULL;
    g_autoptr(CpfsHostsFile) file = NULL;

    g_assert_no_error(err);
    g_assert_true(g_file_set_contents(path, "[lab]\nuri=test:///default\n", -1, NULL));
    g_assert_true(g_file_set_contents(bad, "[lab]\nuri=test:///default\n[lab]\n", -1, NULL));
    file = cpfs_hosts_file_load(path, &error);
    g_assert_cmpstr(error, ==, NULL);
    g_assert_cmpuint(cpfs_hosts_file_count(file), ==, 1);
    g_assert_cmpstr(cpfs_hosts_file_get(file, 0)->uri, ==, "test:///default");

    g_assert_null(cpfs_hosts_file_load(bad, &error));
    want = g_strdup_printf("%s:3: duplicate host 'lab' (first at line 1)", bad);
    g_assert_cmpstr(error, ==, want);
    g_clear_pointer(&error, g_free);
    g_clear_pointer(&want, g_free);

    g_assert_null(cpfs_hosts_file_load(missing, &error));
    want = g_strdup_printf("%s: No such file or directory", missing);
    g_assert_cmpstr(error, ==, want);
    g_clear_pointer(&error, g_free);
    g_clear_pointer(&want, g_free);

    g_assert_null(cpfs_hosts_file_load(dir, &error));
    want = g_strdup_printf("%s: Is a directory", dir);
    g_assert_cmpstr(error, ==, want);
    g_clear_pointer(&error, g_free);
    g_clear_pointer(&want, g_free);

    /* A FIFO without a writer would block a reload (and unmount) for good. */
    {
        g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);

        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
        g_assert_null(cpfs_hosts_file_load(fifo, &error));
        want = g_strdup_printf("%s: not a regular file", fifo);
        g_assert_cmpstr(error, ==, want);
        g_clear_pointer(&error, g_free);
        g_clear_pointer(&want, g_free);
        g_assert_cmpint(g_unlink(fifo), ==, 0);
    }

    g_assert_null(cpfs_hosts_file_load(under_file, &error));
    want = g_strdup_printf("%s: Not a directory", under_file);
    g_assert_cmpstr(error, ==, want);
    g_clear_pointer(&error, g_free);
    g_clear_pointer(&want, g_free);

    g_assert_null(cpfs_hosts_file_load(missing, NULL));
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_unlink(bad), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A file of CPFS_HOSTS_FILE_MAX bytes is read (and refused for its NUL
 * bytes); one byte more is not read at all. */
static void
test_load_size(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("unit-hosts-XXXXXX", &err);
    g_autofree char *path = g_build_filename(dir, "big.conf", NULL);
    g_autofree char *want = NULL;
    g_autofree char *error = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, CPFS_HOSTS_FILE_MAX), ==, 0);
    g_assert_null(cpfs_hosts_file_load(path, &error));
    want = g_strdup_printf("%s:1: NUL byte", path);
    g_assert_cmpstr(error, ==, want);
    g_clear_pointer(&error, g_free);
    g_clear_pointer(&want, g_free);

    g_assert_cmpint(ftruncate(fd, CPFS_HOSTS_FILE_MAX + 1), ==, 0);
    g_assert_null(cpfs_hosts_file_load(path, &error));
    want = g_strdup_printf("%s: File too large", path);
    g_assert_cmpstr(error, ==, want);
    close(fd);
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static const TestCase tests[] = {
    { "/hosts/valid", test_valid },
    { "/hosts/sorted", test_sorted },
    { "/hosts/empty", test_empty },
    { "/hosts/glib-syntax", test_glib_syntax },
    { "/hosts/malformed", test_malformed },
    { "/hosts/key-outside-group", test_key_outside_group },
    { "/hosts/duplicate-group", test_duplicate_group },
    { "/hosts/duplicate-key", test_duplicate_key },
    { "/hosts/unknown-key", test_unknown_key },
    { "/hosts/group-names", test_group_names },
    { "/hosts/missing-uri", test_missing_uri },
    { "/hosts/empty-uri", test_empty_uri },
    { "/hosts/readonly", test_readonly },
    { "/hosts/backup-scratch", test_backup_scratch },
    { "/hosts/bytes", test_bytes },
    { "/hosts/first-error", test_first_error },
    { "/hosts/same", test_same },
    { "/hosts/same-parsed", test_same_parsed },
    { "/hosts/load", test_load },
    { "/hosts/load-size", test_load_size },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
