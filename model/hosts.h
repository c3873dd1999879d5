/* The hosts file of a fleet mount: one glib key-file group per host, whose
 * name is the host's directory.  Parsing is strict, and every refusal names
 * the file and line, because a daemon that guessed would serve the wrong
 * hosts. */
#pragma once
#include <glib.h>

typedef struct {
    char *name;            /* group name: the host's directory name */
    char *uri;             /* libvirt URI, required */
    gboolean readonly;     /* key readonly=true|false, default false */
    char *backup_scratch;  /* key backup_scratch=ABSOLUTE_DIR, or NULL */
    int line;              /* line of the [group] header, for messages */
} CpfsHostSpec;

typedef struct _CpfsHostsFile CpfsHostsFile;

/* Files above this size are refused as EFBIG: a hosts file is a few lines,
 * and a path like /dev/zero must not eat the daemon's memory. */
#define CPFS_HOSTS_FILE_MAX (16 * 1024 * 1024)

/* Parses TEXT (LEN bytes) of a hosts file; PATH names it in errors. NULL and *error = "PATH:LINE: what" on any error. */
CpfsHostsFile *cpfs_hosts_file_parse(const char *path, const char *text, gsize len, char **error);

/* Reads and parses PATH; unreadable -> "PATH: <strerror>". */
CpfsHostsFile *cpfs_hosts_file_load(const char *path, char **error);

/* Frees FILE and its specs (NULL is fine). */
void cpfs_hosts_file_free(CpfsHostsFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsHostsFile, cpfs_hosts_file_free)

/* The number of hosts in FILE (0 for a file of comments only). */
guint cpfs_hosts_file_count(CpfsHostsFile *file);

/* Host I of FILE, I < count; sorted by name (strcmp). */
const CpfsHostSpec *cpfs_hosts_file_get(CpfsHostsFile *file, guint i);

/* The host called NAME in FILE, or NULL. */
const CpfsHostSpec *cpfs_hosts_file_find(CpfsHostsFile *file, const char *name);

/* TRUE when A and B would make the same connection and options (uri, readonly, backup_scratch). */
gboolean cpfs_host_spec_same(const CpfsHostSpec *a, const CpfsHostSpec *b);
