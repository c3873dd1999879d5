/* Inode numbers for the nodes of the tree.
 *
 * A node is named by what it is, not by its path: checkpoint names are unique
 * per domain, so a checkpoint keeps its inode when libvirt moves it to another
 * parent.  Numbers are never reused, and an entry lives while the kernel
 * holds lookups on it. */
#pragma once
#include <glib.h>

typedef enum {
    CPFS_NODE_ROOT,
    CPFS_NODE_DOMAIN,           /* <domain>/ */
    CPFS_NODE_DOMAIN_XML,       /* <domain>/xml */
    CPFS_NODE_CHECKPOINT,       /* <domain>/.../<checkpoint>/ */
    CPFS_NODE_CHECKPOINT_XML,   /* <domain>/.../<checkpoint>/xml */
} CpfsNodeKind;

#define CPFS_ROOT_INO 1

typedef struct {
    CpfsNodeKind kind;
    char *domain;       /* NULL for the root */
    char *checkpoint;   /* NULL unless a checkpoint or its xml */
    guint64 serial;     /* the checkpoint's incarnation (CpfsCheckpoint.serial) */
    /* CHECKPOINT_XML only: the document version (CpfsCheckpoint.doc_version).
     * Each version is its own inode, whose content never changes, so the
     * kernel may cache its pages; a file opened earlier keeps its own. */
    guint64 doc_version;
} CpfsNodeId;

void cpfs_node_id_clear(CpfsNodeId *id);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CpfsNodeId, cpfs_node_id_clear)

gboolean cpfs_node_is_dir(CpfsNodeKind kind);

typedef struct _CpfsInodeTable CpfsInodeTable;

CpfsInodeTable *cpfs_inode_table_new(void);
void cpfs_inode_table_free(CpfsInodeTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsInodeTable, cpfs_inode_table_free)

/* The inode of ID, created if needed, with one more lookup counted. */
guint64 cpfs_inode_table_ref(CpfsInodeTable *table, const CpfsNodeId *id);
/* The inode of ID without counting a lookup; 0 when it has none. */
guint64 cpfs_inode_table_peek(CpfsInodeTable *table, const CpfsNodeId *id);
/* Copies the identity of INO into OUT; FALSE when INO is unknown. */
gboolean cpfs_inode_table_get(CpfsInodeTable *table, guint64 ino, CpfsNodeId *out);
/* Drops NLOOKUP lookups; the entry goes when none remain. */
void cpfs_inode_table_forget(CpfsInodeTable *table, guint64 ino, guint64 nlookup);
guint cpfs_inode_table_count(CpfsInodeTable *table);

/* What the kernel's page cache may do for one open of a file. */
typedef enum {
    CPFS_PAGES_KEEP,     /* keep what it holds: the same document */
    CPFS_PAGES_REFILL,   /* drop what it holds, then cache this document */
    CPFS_PAGES_BYPASS,   /* not be used: every read asks the daemon */
} CpfsPagePolicy;

/* Records the file size last told to the kernel for INO. */
void cpfs_inode_table_note_size(CpfsInodeTable *table, guint64 ino, gint64 size);
/* That size; -1 when none was told. */
gint64 cpfs_inode_table_noted_size(CpfsInodeTable *table, guint64 ino);
/* INO is opened on a document of LEN bytes with content hash HASH.  The page
 * cache is used only while every document served for INO is the same and
 * has the size the kernel was told; after one that is not, never again. */
CpfsPagePolicy cpfs_inode_table_open_document(CpfsInodeTable *table, guint64 ino,
                                              gint64 len, guint64 hash);
