/* The hosts file parser (hosts.h).  Lines are classified here the way
 * GKeyFile classifies them, because glib's messages carry no line numbers;
 * each value is then decoded by GKeyFile itself, so escapes and booleans are
 * exactly glib's.  fuzz-hosts checks that GKeyFile reading the whole file
 * finds the same hosts and values. */
#include "model/hosts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/names.h"

struct _CpfsHostsFile {
    GPtrArray *hosts;  /* CpfsHostSpec *, sorted by name */
};

/* Bytes of a name or value quoted in a message, before "...". */
#define SHOW_MAX 64

typedef struct {
    const char *path;
    GPtrArray *hosts;       /* CpfsHostSpec *, in file order */
    GHashTable *headers;    /* host name -> line of its header */
    GHashTable *keys;       /* key of the current group -> its line */
    CpfsHostSpec *current;  /* the group being read; NULL before the first */
    char *error;
} Parser;

static void
spec_free(gpointer data)
{
    CpfsHostSpec *spec = data;

    g_free(spec->name);
    g_free(spec->uri);
    g_free(spec->backup_scratch);
    g_free(spec);
}

/* S (valid UTF-8) fit for a one-line message: control bytes as \xHH, cut
 * after SHOW_MAX bytes at a character boundary. */
static char *
show(const char *s)
{
    GString *out = g_string_new(NULL);
    const char *p = s;

    for (; *p && p - s < SHOW_MAX; p = g_utf8_next_char(p)) {
        guchar c = *p;

        if (c < 0x20 || c == 0x7f)
            g_string_append_printf(out, "\\x%02x", c);
        else
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
    }
    if (*p)
        g_string_append(out, "...");
    return g_string_free(out, FALSE);
}

/* Sets P's error to "PATH:LINE: what"; FALSE, to return at once. */
static gboolean G_GNUC_PRINTF(3, 4)
fail(Parser *p, int line, const char *format, ...)
{
    g_autofree char *what = NULL;
    va_list args;

    va_start(args, format);
    what = g_strdup_vprintf(format, args);
    va_end(args);
    p->error = g_strdup_printf("%s:%d: %s", p->path, line, what);
    return FALSE;
}

/* Ends the current group: FALSE when it had no uri (told at its header). */
static gboolean
end_group(Parser *p)
{
    g_autofree char *host = NULL;

    if (!p->current || p->current->uri)
        return TRUE;
    host = show(p->current->name);
    return fail(p, p->current->line, "host '%s': no uri", host);
}

/* Starts group NAME, whose header is line N. */
static gboolean
begin_group(Parser *p, int n, const char *name)
{
    g_autofree char *host = show(name);
    int rc = cpfs_name_check(name);
    gpointer first = NULL;
    CpfsHostSpec *spec;

    if (!end_group(p))
        return FALSE;
    if (rc != 0)
        return fail(p, n, "host '%s': %s", host, cpfs_name_refusal(rc));
    if (g_hash_table_lookup_extended(p->headers, name, NULL, &first))
        return fail(p, n, "duplicate host '%s' (first at line %d)", host, GPOINTER_TO_INT(first));
    spec = g_new0(CpfsHostSpec, 1);
    spec->name = g_strdup(name);
    spec->line = n;
    g_ptr_array_add(p->hosts, spec);
    g_hash_table_insert(p->headers, spec->name, GINT_TO_POINTER(n));
    g_hash_table_remove_all(p->keys);
    p->current = spec;
    return TRUE;
}

/* TRUE when S holds nothing but ASCII white space. */
static gboolean
is_blank(const char *s)
{
    while (g_ascii_isspace(*s))
        s++;
    return *s == '\0';
}

/* Sets KEY (known) of the current group from RAW, the text after '=' on
 * line N, decoded by GKeyFile from a one-key file of that same text. */
static gboolean
set_value(Parser *p, int n, const char *key, const char *raw)
{
    CpfsHostSpec *spec = p->current;
    g_autofree char *host = show(spec->name);
    g_autofree char *data = g_strconcat("[v]\nk=", raw, NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *value = NULL;
    g_autofree char *shown = NULL;

    /* Cannot fail: "k=" and a text without '\n' or NUL is a key line. */
    if (!g_key_file_load_from_data(kf, data, -1, G_KEY_FILE_NONE, &err))
        return fail(p, n, "host '%s': %s", host, err->message);
    if (strcmp(key, "readonly") == 0) {
        spec->readonly = g_key_file_get_boolean(kf, "v", "k", &err);
        if (!err)
            return TRUE;
        value = g_key_file_get_value(kf, "v", "k", NULL);
        shown = show(value);
        return fail(p, n, "host '%s': readonly must be true or false, not '%s'", host, shown);
    }
    /* On a bad escape glib returns a string and an error. */
    value = g_key_file_get_string(kf, "v", "k", &err);
    if (err)
        return fail(p, n, "host '%s': invalid escape sequence in %s", host, key);
    if (strcmp(key, "uri") == 0) {
        if (is_blank(value))
            return fail(p, n, "host '%s': uri is empty", host);
        spec->uri = g_steal_pointer(&value);
        return TRUE;
    }
    if (!g_path_is_absolute(value)) {
        shown = show(value);
        return fail(p, n, "host '%s': backup_scratch must be an absolute path, not '%s'", host,
                    shown);
    }
    spec->backup_scratch = g_steal_pointer(&value);
    return TRUE;
}

/* Reads "KEY=RAW" on line N into the current group. */
static gboolean
add_key(Parser *p, int n, const char *key, const char *raw)
{
    static const char *const known[] = { "uri", "readonly", "backup_scratch", NULL };
    g_autofree char *shown = show(key);
    g_autofree char *host = NULL;
    gpointer first = NULL;

    if (!p->current)
        return fail(p, n, "key '%s' outside any [host] group", shown);
    host = show(p->current->name);
    /* Locale keys such as uri[de] are unknown keys too. */
    if (!g_strv_contains(known, key))
        return fail(p, n, "host '%s': unknown key '%s' (known: uri, readonly, backup_scratch)",
                    host, shown);
    if (g_hash_table_lookup_extended(p->keys, key, NULL, &first))
        return fail(p, n, "host '%s': duplicate key '%s' (first at line %d)", host, shown,
                    GPOINTER_TO_INT(first));
    g_hash_table_insert(p->keys, g_strdup(key), GINT_TO_POINTER(n));
    return set_value(p, n, key, raw);
}

/* Parses LINE (no '\n', NUL-terminated), number N, as GKeyFile would:
 * leading white space skipped (g_ascii_isspace, as glib); '#' or nothing:
 * a comment; '[' to the first ']' and then only spaces or tabs: a group;
 * else a '=' not first: key (trailing white space cut) and value. */
static gboolean
parse_line(Parser *p, int n, char *line)
{
    char *start = line;
    char *close, *eq, *end;

    while (g_ascii_isspace(*start))
        start++;
    if (*start == '\0' || *start == '#')
        return TRUE;
    close = *start == '[' ? strchr(start, ']') : NULL;
    if (close && close[1 + strspn(close + 1, " \t")] == '\0') {
        *close = '\0';
        return begin_group(p, n, start + 1);
    }
    eq = strchr(start, '=');
    if (!eq || eq == start)
        return fail(p, n, "not a [host] header, key=value line or comment");
    for (end = eq; end > start && g_ascii_isspace(end[-1]); end--)
        ;
    *end = '\0';
    return add_key(p, n, start, eq + 1);
}

/* Checks line N, LEN bytes at LINE, and parses it; TERMINATED: a '\n'
 * followed it (glib drops one '\r' before a '\n' only). */
static gboolean
read_line(Parser *p, int n, const char *line, gsize len, gboolean terminated)
{
    g_autofree char *copy = NULL;

    if (memchr(line, '\0', len))
        return fail(p, n, "NUL byte");
    if (!g_utf8_validate_len(line, len, NULL))
        return fail(p, n, "not valid UTF-8");
    if (terminated && len > 0 && line[len - 1] == '\r')
        len--;
    copy = g_strndup(line, len);
    return parse_line(p, n, copy);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    const CpfsHostSpec *x = *(CpfsHostSpec *const *)a;
    const CpfsHostSpec *y = *(CpfsHostSpec *const *)b;

    return strcmp(x->name, y->name);
}

CpfsHostsFile *
cpfs_hosts_file_parse(const char *path, const char *text, gsize len, char **error)
{
    Parser p = { .path = path };
    CpfsHostsFile *file = NULL;
    gboolean ok = TRUE;
    gsize pos = 0;
    int n = 0;

    p.hosts = g_ptr_array_new_with_free_func(spec_free);
    p.headers = g_hash_table_new(g_str_hash, g_str_equal);
    p.keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    while (ok && pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        gsize line_len = nl ? (gsize)(nl - line) : len - pos;

        pos += line_len + (nl ? 1 : 0);
        ok = read_line(&p, ++n, line, line_len, nl != NULL);
    }
    ok = ok && end_group(&p);
    g_hash_table_destroy(p.headers);
    g_hash_table_destroy(p.keys);
    if (!ok) {
        g_ptr_array_unref(p.hosts);
        if (error)
            *error = g_steal_pointer(&p.error);
        g_free(p.error);
        return NULL;
    }
    g_ptr_array_sort(p.hosts, compare_names);
    file = g_new0(CpfsHostsFile, 1);
    file->hosts = p.hosts;
    return file;
}

/* Reads regular file PATH whole into *TEXT and *LEN: 0, or an errno value
 * (EINVAL for anything but a regular file). */
static int
read_all(const char *path, char **text, gsize *len)
{
    g_autoptr(GByteArray) buf = NULL;
    /* Non-blocking: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    int err = 0;

    if (fd < 0)
        return errno;
    /* A FIFO or a device could block or never end a reload. */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        close(fd);
        return err;
    }
    buf = g_byte_array_new();
    for (;;) {
        guint8 chunk[16384];
        ssize_t n = read(fd, chunk, sizeof chunk);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? errno : 0;
            break;
        }
        if (buf->len + (gsize)n > CPFS_HOSTS_FILE_MAX) {
            err = EFBIG;
            break;
        }
        g_byte_array_append(buf, chunk, n);
    }
    close(fd);
    if (err)
        return err;
    *len = buf->len;
    *text = (char *)g_byte_array_free(g_steal_pointer(&buf), FALSE);
    return 0;
}

CpfsHostsFile *
cpfs_hosts_file_load(const char *path, char **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    int err = read_all(path, &text, &len);

    if (err) {
        if (error)
            *error = g_strdup_printf("%s: %s", path, err == EINVAL ? "not a regular file"
                                                                   : g_strerror(err));
        return NULL;
    }
    return cpfs_hosts_file_parse(path, text, len, error);
}

void
cpfs_hosts_file_free(CpfsHostsFile *file)
{
    if (!file)
        return;
    g_ptr_array_unref(file->hosts);
    g_free(file);
}

guint
cpfs_hosts_file_count(CpfsHostsFile *file)
{
    return file->hosts->len;
}

const CpfsHostSpec *
cpfs_hosts_file_get(CpfsHostsFile *file, guint i)
{
    g_return_val_if_fail(i < file->hosts->len, NULL);
    return g_ptr_array_index(file->hosts, i);
}

const CpfsHostSpec *
cpfs_hosts_file_find(CpfsHostsFile *file, const char *name)
{
    guint lo = 0, hi = file->hosts->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const CpfsHostSpec *spec = g_ptr_array_index(file->hosts, mid);
        int c = strcmp(name, spec->name);

        if (c == 0)
            return spec;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

gboolean
cpfs_host_spec_same(const CpfsHostSpec *a, const CpfsHostSpec *b)
{
    return g_strcmp0(a->uri, b->uri) == 0 && !a->readonly == !b->readonly &&
           g_strcmp0(a->backup_scratch, b->backup_scratch) == 0;
}
