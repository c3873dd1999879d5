/* Inode numbers for the nodes of the tree.
 *
 * A node is named by what it is, not by its path: checkpoint names are unique
 * per domain, so a checkpoint keeps its inode when libvirt moves it to another
 * parent.  Numbers are never reused.  An entry lives while the kernel holds
 * lookups on it.  One made for readdir, which the kernel holds no lookup on,
 * is kept among the CPFS_INODES_IDLE_MAX most recent such ("idle"), so that
 * a stat after the readdir finds the number readdir showed, and the table
 * stays bounded. */
#pragma once
#include <glib.h>

typedef enum {
    CPFS_NODE_ROOT,
    CPFS_NODE_HOST,             /* <host>/ of a hosts file's mount */
    CPFS_NODE_DOMAIN,           /* <domain>/ */
    CPFS_NODE_DOMAIN_XML,       /* <domain>/xml */
    CPFS_NODE_CHECKPOINT,       /* <domain>/.../<checkpoint>/ */
    CPFS_NODE_CHECKPOINT_XML,   /* <domain>/.../<checkpoint>/xml */
    CPFS_NODE_DOMAIN_IMAGE,     /* <domain>/<disk>.raw, <domain>/<disk>.qcow2 */
    CPFS_NODE_CHECKPOINT_IMAGE, /* <domain>/.../<checkpoint>/<disk>.qcow2 */
} CpfsNodeKind;

#define CPFS_ROOT_INO 1
/* No inode: what peek answers for a node without one. */
#define CPFS_INO_UNKNOWN 0
/* How many idle entries (made by assign, never looked up) the table keeps. */
#define CPFS_INODES_IDLE_MAX 4096

typedef struct {
    CpfsNodeKind kind;
    /* The host of a hosts file's mount (NULL for the root, and for every
     * node of a single URI's mount): nodes of two hosts never share an inode. */
    char *host;
    char *domain;       /* NULL for the root and a host */
    char *checkpoint;   /* NULL unless a checkpoint or its xml */
    guint64 serial;     /* the checkpoint's incarnation (CpfsCheckpoint.serial) */
    /* CHECKPOINT_XML only: the document version (CpfsCheckpoint.doc_version).
     * Each version is its own inode, whose content never changes, so the
     * kernel may cache its pages; a file opened earlier keeps its own. */
    guint64 doc_version;
    char *image;        /* the image file's name: DOMAIN_IMAGE and CHECKPOINT_IMAGE */
} CpfsNodeId;

/* Borrowed identities: they point at the caller's strings, which must
 * outlive them; never clear one.  cpfs_node_id_copy makes an owned one. */
CpfsNodeId cpfs_node_id_root(void);
CpfsNodeId cpfs_node_id_host(const char *host);
CpfsNodeId cpfs_node_id_domain(const char *host, const char *domain);
CpfsNodeId cpfs_node_id_domain_xml(const char *host, const char *domain);
CpfsNodeId cpfs_node_id_checkpoint(const char *host, const char *domain, const char *checkpoint,
                                   guint64 serial);
CpfsNodeId cpfs_node_id_checkpoint_xml(const char *host, const char *domain,
                                       const char *checkpoint, guint64 serial,
                                       guint64 doc_version);
CpfsNodeId cpfs_node_id_domain_image(const char *host, const char *domain, const char *image);
CpfsNodeId cpfs_node_id_checkpoint_image(const char *host, const char *domain,
                                         const char *checkpoint, guint64 serial,
                                         const char *image);
/* Fills *OUT with an owned copy of SRC (*OUT is overwritten, not cleared). */
void cpfs_node_id_copy(CpfsNodeId *out, const CpfsNodeId *src);
/* Frees the strings of an owned identity; safe twice. */
void cpfs_node_id_clear(CpfsNodeId *id);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CpfsNodeId, cpfs_node_id_clear)

gboolean cpfs_node_is_dir(CpfsNodeKind kind);

typedef struct _CpfsInodeTable CpfsInodeTable;

CpfsInodeTable *cpfs_inode_table_new(void);
void cpfs_inode_table_free(CpfsInodeTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsInodeTable, cpfs_inode_table_free)

/* The inode of ID, created if needed, with one more kernel lookup counted. */
guint64 cpfs_inode_table_add_lookup(CpfsInodeTable *table, const CpfsNodeId *id);
/* The inode of ID, created if needed, without counting a lookup (for
 * readdir, which shows a number the kernel does not hold). */
guint64 cpfs_inode_table_assign(CpfsInodeTable *table, const CpfsNodeId *id);
/* The inode of ID, never created; CPFS_INO_UNKNOWN when it has none. */
guint64 cpfs_inode_table_peek(CpfsInodeTable *table, const CpfsNodeId *id);
/* Copies the identity of INO into OUT; FALSE when INO is unknown. */
gboolean cpfs_inode_table_get(CpfsInodeTable *table, guint64 ino, CpfsNodeId *out);
/* Drops NLOOKUP kernel lookups; the entry goes when none remain. */
void cpfs_inode_table_forget(CpfsInodeTable *table, guint64 ino, guint64 nlookup);
/* Kernel lookups held on INO; 0 when unknown. */
guint64 cpfs_inode_table_lookups(CpfsInodeTable *table, guint64 ino);
/* Entries, the root and idle ones included. */
guint cpfs_inode_table_count(CpfsInodeTable *table);

/* What a user of the table keeps per inode: FUNC gets the entry's slot,
 * NULL at first; whatever it leaves there is freed with *DESTROY when the
 * entry goes.  Runs under the table's lock: keep it short, call nothing
 * that takes the lock. */
typedef void (*CpfsInodePayloadFunc)(gpointer *payload, GDestroyNotify *destroy, gpointer data);
/* Runs FUNC on INO's payload; FALSE (and FUNC not run) when INO is unknown. */
gboolean cpfs_inode_table_with_payload(CpfsInodeTable *table, guint64 ino,
                                       CpfsInodePayloadFunc func, gpointer data);
