/* The kernel's page cache for the xml files: what it was told and may keep.
 *
 * The kernel keeps a file's pages and size per inode.  For each inode this
 * remembers the size last told to the kernel (in a lookup or getattr reply,
 * which need not be libvirt's size of today's document) and the document
 * whose pages it may hold.  The state lives in the inode table's entry and
 * goes with it. */
#pragma once
#include <glib.h>

#include "model/inodes.h"

/* What the kernel's page cache may do for one open of a file. */
typedef enum {
    CPFS_PAGES_KEEP,     /* keep what it holds: the same document */
    CPFS_PAGES_REFILL,   /* drop what it holds, then cache this document */
    CPFS_PAGES_BYPASS,   /* not be used: every read asks the daemon */
} CpfsPagePolicy;

/* Records SIZE as the file size the kernel was just told for INO. */
void cpfs_pages_tell_size(CpfsInodeTable *inodes, guint64 ino, gint64 size);
/* The size the kernel was last told for INO; -1 when none was. */
gint64 cpfs_pages_told_size(CpfsInodeTable *inodes, guint64 ino);
/* INO is opened on a document of LEN bytes with content hash HASH.  The page
 * cache is used only while every document served for INO is the same and
 * has the size the kernel was told; after one that is not, never again. */
CpfsPagePolicy cpfs_pages_open_document(CpfsInodeTable *inodes, guint64 ino, gint64 len,
                                        guint64 hash);
/* FNV-1a of the NUL-terminated DOC, never 0 (0 means "no document"). */
guint64 cpfs_pages_document_hash(const char *doc);
