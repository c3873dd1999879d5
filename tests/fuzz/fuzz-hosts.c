/* libFuzzer target: the hosts file parser on arbitrary bytes.  On success
 * the hosts are valid, sorted and unique, each with a uri; and GKeyFile,
 * reading the whole file itself, finds the same groups and values, so the
 * parser's own line classification is glib's.  On failure the message is
 * one line "PATH:LINE: what" with LINE a line of the input, and a line
 * refused as malformed is refused by GKeyFile too. */
#include <stdint.h>
#include <string.h>

#include "model/hosts.h"
#include "model/names.h"

#define PATH "/fuzz/hosts.conf"
#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GKeyFile's reading of host SPEC (group SPEC->name) equals SPEC. */
static void
check_with_glib(GKeyFile *kf, const CpfsHostSpec *spec)
{
    g_autofree char *uri = g_key_file_get_string(kf, spec->name, "uri", NULL);
    g_autofree char *scratch = g_key_file_get_string(kf, spec->name, "backup_scratch", NULL);
    g_auto(GStrv) keys = g_key_file_get_keys(kf, spec->name, NULL, NULL);
    gboolean readonly = g_key_file_get_boolean(kf, spec->name, "readonly", NULL);
    static const char *const known[] = { "uri", "readonly", "backup_scratch", NULL };

    CHECK(keys);
    for (char **k = keys; *k; k++)
        CHECK(g_strv_contains(known, *k));
    CHECK(g_strcmp0(uri, spec->uri) == 0);
    CHECK(g_strcmp0(scratch, spec->backup_scratch) == 0);
    CHECK(readonly == spec->readonly);
}

static void
check_success(CpfsHostsFile *file, const uint8_t *data, size_t size)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_auto(GStrv) groups = NULL;
    gsize n_groups = 0;
    guint n = cpfs_hosts_file_count(file);

    CHECK(g_key_file_load_from_data(kf, (const char *)data, size, G_KEY_FILE_NONE, NULL));
    groups = g_key_file_get_groups(kf, &n_groups);
    CHECK(n_groups == n);
    for (guint i = 0; i < n; i++) {
        const CpfsHostSpec *spec = cpfs_hosts_file_get(file, i);

        CHECK(cpfs_name_check(spec->name) == 0);
        CHECK(i == 0 || strcmp(cpfs_hosts_file_get(file, i - 1)->name, spec->name) < 0);
        CHECK(spec->uri && *spec->uri);
        CHECK(!spec->backup_scratch || g_path_is_absolute(spec->backup_scratch));
        CHECK(spec->readonly == TRUE || spec->readonly == FALSE);
        CHECK(spec->line >= 1);
        CHECK(cpfs_hosts_file_find(file, spec->name) == spec);
        CHECK(cpfs_host_spec_same(spec, spec));
        CHECK(g_key_file_has_group(kf, spec->name));
        check_with_glib(kf, spec);
    }
}

static void
check_failure(const char *error, const uint8_t *data, size_t size)
{
    const char *p;
    guint64 line = 0;
    guint64 lines = 1;

    CHECK(error);
    CHECK(g_str_has_prefix(error, PATH ":"));
    p = error + strlen(PATH ":");
    CHECK(g_ascii_isdigit(*p));
    while (g_ascii_isdigit(*p))
        line = line * 10 + (guint64)(*p++ - '0');
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    CHECK(line >= 1 && line <= lines);
    CHECK(p[0] == ':' && p[1] == ' ' && p[2] != '\0');
    if (strcmp(p + 2, "not a [host] header, key=value line or comment") == 0) {
        g_autoptr(GKeyFile) kf = g_key_file_new();

        CHECK(!g_key_file_load_from_data(kf, (const char *)data, size, G_KEY_FILE_NONE, NULL));
    }
    CHECK(g_utf8_validate(error, -1, NULL));
    for (p = error; *p; p++)
        CHECK((guchar)*p >= 0x20 && *p != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *error = NULL;
    g_autoptr(CpfsHostsFile) file =
        cpfs_hosts_file_parse(PATH, (const char *)data, size, &error);

    if (file) {
        CHECK(!error);
        check_success(file, data, size);
    } else {
        check_failure(error, data, size);
    }
    return 0;
}
