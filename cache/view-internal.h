/* Inside cache/: the view's state, shared by view.c (reads, events) and
 * change.c (mkdir, rmdir).
 *
 * Locks: view->lock guards everything here and is never held across a
 * libvirt call; the document cache's lock is taken inside it or alone (it
 * is a leaf).  Work that calls libvirt marks itself in the state instead
 * (a listing under way, a change under way), and others wait for that mark
 * on view->changed with a deadline, never on a lock held across a call. */
#pragma once
#include "cache/documents.h"
#include "cache/view.h"

/* One listing at a time: who comes while it runs waits for its result. */
typedef struct {
    gboolean running;
    guint64 finished;    /* listings finished so far */
    int last_rc;         /* the result of the last one */
} Listing;

typedef struct {
    char *name;
    CpfsCheckpointTree *tree;  /* NULL until listed */
    gint64 tree_built;         /* monotonic µs its contents were read */
    Listing listing;
    /* Bumped by every change made to the tree: a listing that started
     * before it brings older news and is not installed. */
    guint64 generation;
    gboolean changing;         /* a mkdir or rmdir is under way */
    guint users;               /* threads listing or changing it */
    gboolean gone;             /* libvirt says the domain is gone */
    gboolean warned_hidden;
} DomainState;

struct _CpfsView {
    CpfsDriver *drv;
    gint64 ttl;                /* µs anything cached is trusted */
    CpfsDocuments *docs;
    GMutex lock;
    GCond changed;             /* a listing or a change finished */
    CpfsDomainList *list;
    gint64 list_built;
    Listing list_listing;
    GHashTable *states;        /* name -> DomainState* */
};

/* How long a thread waits for another's listing or change: that one's
 * libvirt calls answer within their budget. */
#define CPFS_VIEW_WAIT_US (5 * G_USEC_PER_SEC)

gboolean cpfs_view_fresh(CpfsView *view, gint64 built);

/* DOMAIN's state, created if needed, with one more user; call with
 * view->lock held.  Release with cpfs_view_release_state. */
DomainState *cpfs_view_use_state(CpfsView *view, const char *domain);
/* Drops a user; the state goes once unused and gone.  With view->lock. */
void cpfs_view_release_state(CpfsView *view, DomainState *st);

/* Installs TREE (owned from here on) as ST's; BUILT is when its contents
 * were read.  With view->lock held. */
void cpfs_view_install_tree(CpfsView *view, DomainState *st, CpfsCheckpointTree *tree,
                            gint64 built);
/* ST's tree, referenced: fresh, or after a listing (this thread's or one
 * under way).  With view->lock held, which it drops while libvirt is asked. */
int cpfs_view_state_tree(CpfsView *view, DomainState *st, gboolean stale_ok,
                         CpfsCheckpointTree **tree);

/* The document cache's key of checkpoint NAME's document version VERSION,
 * and the prefix of all of NAME's (NAME NULL: all of the domain's). */
char *cpfs_view_document_key(const char *domain, const char *name, guint64 version);
char *cpfs_view_document_prefix(const char *domain, const char *name);
