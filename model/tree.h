/* The checkpoints of one domain as an immutable, reference-counted tree.
 *
 * A tree is built from flat records (name, parent, creation time), the form
 * libvirt hands out, and never changes afterwards: readers keep a reference
 * while a newer tree replaces it.  The size of a checkpoint's XML is not
 * here: the document cache (cache/documents.h) owns documents. */
#pragma once
#include <glib.h>

typedef struct {
    char *name;
    char *parent;          /* NULL for a root checkpoint */
    gint64 creation_time;  /* seconds since the epoch */
} CpfsCheckpointRecord;

CpfsCheckpointRecord *cpfs_checkpoint_record_new(const char *name, const char *parent,
                                                 gint64 creation_time);
void cpfs_checkpoint_record_free(CpfsCheckpointRecord *rec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsCheckpointRecord, cpfs_checkpoint_record_free)

/* A GPtrArray that frees its CpfsCheckpointRecord elements. */
GPtrArray *cpfs_checkpoint_records_new(void);

typedef struct _CpfsCheckpoint CpfsCheckpoint;
struct _CpfsCheckpoint {
    char *name;
    CpfsCheckpoint *parent;  /* NULL for a root */
    gint64 creation_time;
    GPtrArray *children;     /* CpfsCheckpoint*, sorted by name, visible only */
    gboolean hidden;         /* named "xml": cannot be shown as a directory */
    gboolean visible;        /* neither hidden nor below a hidden one */
    /* One incarnation of the name: a checkpoint deleted and made again is
     * another object with another serial, so it gets another inode. */
    guint64 serial;
    /* One version of its XML document, which names the parent: a new one
     * whenever the parent changes.  Unique in the process, like serials. */
    guint64 doc_version;
};

typedef struct _CpfsCheckpointTree CpfsCheckpointTree;

CpfsCheckpointTree *cpfs_checkpoint_tree_new(GPtrArray *records);
/* Like cpfs_checkpoint_tree_new, but a checkpoint that PREVIOUS (may be
 * NULL) holds with the same name and creation time keeps its serial, and its
 * document version when its parent is the same too. */
CpfsCheckpointTree *cpfs_checkpoint_tree_new_after(GPtrArray *records,
                                                   CpfsCheckpointTree *previous);
CpfsCheckpointTree *cpfs_checkpoint_tree_ref(CpfsCheckpointTree *tree);
void cpfs_checkpoint_tree_unref(CpfsCheckpointTree *tree);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsCheckpointTree, cpfs_checkpoint_tree_unref)

guint cpfs_checkpoint_tree_size(CpfsCheckpointTree *tree);
/* Any checkpoint, hidden ones included; NULL when there is none. */
CpfsCheckpoint *cpfs_checkpoint_tree_lookup(CpfsCheckpointTree *tree, const char *name);
/* The visible children of CP, or the visible roots when CP is NULL. */
GPtrArray *cpfs_checkpoint_tree_children(CpfsCheckpointTree *tree, CpfsCheckpoint *cp);
/* The visible child NAME of CP (roots when CP is NULL), or NULL. */
CpfsCheckpoint *cpfs_checkpoint_tree_child(CpfsCheckpointTree *tree, CpfsCheckpoint *cp,
                                           const char *name);
/* Newest creation time of any checkpoint; 0 when there are none. */
gint64 cpfs_checkpoint_tree_newest(CpfsCheckpointTree *tree);
/* Names of checkpoints hidden because they are called "xml". */
gboolean cpfs_checkpoint_tree_has_hidden(CpfsCheckpointTree *tree);

/* New trees derived from TREE the way libvirt changes it. */
CpfsCheckpointTree *cpfs_checkpoint_tree_with_added(CpfsCheckpointTree *tree,
                                                    const CpfsCheckpointRecord *rec);
/* Removes NAME; its children move to its parent (or become roots). */
CpfsCheckpointTree *cpfs_checkpoint_tree_with_removed(CpfsCheckpointTree *tree,
                                                      const char *name);

/* Resolves a relative path ("a/b/xml") below the domain directory.  Returns
 * the checkpoint in *cp (NULL for the domain directory itself) and sets
 * *is_xml when the path ends at an xml file.  0 or -ENOENT / -ENOTDIR. */
int cpfs_checkpoint_tree_resolve(CpfsCheckpointTree *tree, const char *path,
                                 CpfsCheckpoint **cp, gboolean *is_xml);

/* The sorted list of domain names the connection had at one moment. */
typedef struct _CpfsDomainList CpfsDomainList;
CpfsDomainList *cpfs_domain_list_new(GPtrArray *names);
CpfsDomainList *cpfs_domain_list_ref(CpfsDomainList *list);
void cpfs_domain_list_unref(CpfsDomainList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsDomainList, cpfs_domain_list_unref)
gboolean cpfs_domain_list_contains(CpfsDomainList *list, const char *name);
/* Sorted names, owned by LIST. */
GPtrArray *cpfs_domain_list_names(CpfsDomainList *list);
