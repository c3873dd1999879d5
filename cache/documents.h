/* Recently rendered XML documents, so that the stat that measures a file
 * and the open that follows cost one render, and so does a second read of
 * the tree.  A key names one version of one document; the caller picks it.
 *
 * Entries expire TTL after they were last put.  Texts take at most
 * MAX_BYTES: when full, expired entries go and a new text is not kept (only
 * its size is), so that a walk larger than the cache still finds its first
 * part next time (an LRU would find nothing).  Thread-safe; glib only. */
#pragma once
#include <glib.h>

typedef struct _CpfsDocuments CpfsDocuments;

CpfsDocuments *cpfs_documents_new(gint64 ttl_us, gsize max_bytes);
void cpfs_documents_free(CpfsDocuments *docs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsDocuments, cpfs_documents_free)

/* Keeps XML under KEY from now on, replacing what KEY held. */
void cpfs_documents_put(CpfsDocuments *docs, const char *key, const char *xml);
/* A copy of KEY's fresh text, or NULL. */
char *cpfs_documents_get(CpfsDocuments *docs, const char *key);
/* TRUE and KEY's size when it is fresh (its text need not be held). */
gboolean cpfs_documents_size(CpfsDocuments *docs, const char *key, gint64 *size);
/* Forgets every key that starts with PREFIX. */
void cpfs_documents_forget_prefix(CpfsDocuments *docs, const char *prefix);
/* Forgets everything. */
void cpfs_documents_clear(CpfsDocuments *docs);

/* Entries held (expired ones not yet dropped included), and their texts' bytes. */
guint cpfs_documents_count(CpfsDocuments *docs);
gsize cpfs_documents_bytes(CpfsDocuments *docs);
