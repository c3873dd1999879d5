/* The view's changes: mkdir and rmdir.  The one place that asks libvirt to
 * create or delete a checkpoint, learns what happened when the connection
 * broke under the call, and undoes a create libvirt put elsewhere; the
 * rules themselves are model/rules.c's.  Locks: see view-internal.h. */
#include "cache/view-internal.h"
#include "model/rules.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>

/* Waits until no other change runs on ST, then marks this one under way;
 * FALSE when the wait outlived its deadline.  With view->lock held. */
static gboolean
change_begin(CpfsView *view, DomainState *st)
{
    gint64 deadline = g_get_monotonic_time() + CPFS_VIEW_WAIT_US;

    while (st->changing) {
        if (!g_cond_wait_until(&view->changed, &view->lock, deadline)) {
            cpfs_error("domain '%s': another mkdir or rmdir did not finish in time", st->name);
            return FALSE;
        }
    }
    st->changing = TRUE;
    return TRUE;
}

static void
change_end(CpfsView *view, DomainState *st)
{
    st->changing = FALSE;
    g_cond_broadcast(&view->changed);
}

/* After a create or delete cut off by the connection: waits for libvirt to
 * answer again, until DEADLINE, and asks whether NAME exists.  1 (its
 * record in *FOUND, may be NULL) or 0; -EIO when that cannot be known. */
static int
learn_outcome(CpfsView *view, const char *domain, const char *name, const char *op,
              gint64 deadline, CpfsCheckpointRecord **found)
{
    int rc;

    if (!cpfs_driver_wait_up(view->drv, deadline)) {
        cpfs_error("domain '%s': %s '%s': outcome unknown, libvirt did not come back in time",
                   domain, op, name);
        return -EIO;
    }
    rc = cpfs_driver_checkpoint_lookup(view->drv, domain, name, found);
    if (rc < 0) {
        cpfs_error("domain '%s': %s '%s': outcome unknown after reconnecting", domain, op,
                   name);
        return -EIO;
    }
    cpfs_info("domain '%s': %s '%s' was cut off; after reconnecting the checkpoint %s",
              domain, op, name, rc ? "exists" : "does not exist");
    return rc;
}

/* libvirt put NAME below another parent than its directory: deletes it
 * again, leaving nothing behind.  -EPERM, or -EIO when it may remain. */
static int
undo_misplaced(CpfsView *view, const char *domain, const char *name, gint64 deadline)
{
    int rc = cpfs_driver_checkpoint_delete(view->drv, domain, name);

    if (rc == CPFS_DRIVER_CUT_OFF)
        rc = learn_outcome(view, domain, name, "delete misplaced checkpoint", deadline,
                           NULL) == 0 ? 0 : -EIO;
    if (rc < 0) {
        cpfs_error("domain '%s': the misplaced checkpoint '%s' may remain", domain, name);
        return -EIO;
    }
    return -EPERM;
}

/* Asks libvirt to create NAME and checks that it went below PARENT.  0 with
 * its record in *CREATED, or a negative errno with nothing left behind. */
static int
create_checked(CpfsView *view, const char *domain, const char *parent, const char *name,
               CpfsCheckpointRecord **created)
{
    gint64 deadline = g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US;
    int rc;

    /* Our listing may lag behind changes made outside: ask libvirt.  It would
     * refuse a duplicate by itself, but this harmless lookup first means that
     * a libvirtd which hangs is met before a create is sent to it, to be
     * carried out later while mkdir has reported EIO. */
    rc = cpfs_driver_checkpoint_lookup(view->drv, domain, name, NULL);
    if (rc != 0)
        goto exists;
    rc = cpfs_driver_checkpoint_create(view->drv, domain, name, created);
    if (rc == CPFS_DRIVER_CUT_OFF) {
        rc = learn_outcome(view, domain, name, "create checkpoint", deadline, created);
        if (rc <= 0)
            return -EIO;
    } else if (rc < 0) {
        /* libvirt reports a duplicate as a generic failure: whether this was
         * one, libvirt's own tree tells. */
        if (cpfs_driver_checkpoint_lookup(view->drv, domain, name, NULL) <= 0)
            return rc;
        rc = 1;
        goto exists;
    }
    if (!cpfs_rules_placed_as_asked(parent, (*created)->parent)) {
        cpfs_error("domain '%s': checkpoint '%s' got parent '%s', not '%s' as its "
                   "directory asks; deleting it again", domain, name,
                   (*created)->parent ? (*created)->parent : "(none)",
                   parent ? parent : "(none)");
        g_clear_pointer(created, cpfs_checkpoint_record_free);
        return undo_misplaced(view, domain, name, deadline);
    }
    return 0;

 exists:
    if (rc > 0)
        cpfs_info("domain '%s': mkdir '%s' refused: libvirt has a checkpoint of that "
                  "name (made outside the mount)", domain, name);
    return rc > 0 ? -EEXIST : rc;
}

int
cpfs_view_mkdir(CpfsView *view, const char *domain, const char *parent,
                guint64 parent_serial, const char *name, gint64 *creation_time,
                guint64 *serial)
{
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    g_autoptr(CpfsCheckpointRecord) created = NULL;
    const char *why = NULL;
    DomainState *st;
    int rc;

    /* The name first: a bad one costs libvirt nothing. */
    if ((rc = cpfs_rules_mkdir(NULL, parent, parent_serial, name, &why)) < 0)
        goto refused;
    g_mutex_lock(&view->lock);
    st = cpfs_view_use_state(view, domain);
    if (!change_begin(view, st)) {
        rc = -EIO;
        goto out;
    }
    if ((rc = cpfs_view_state_tree(view, st, TRUE, &tree)) < 0)
        goto end;
    if ((rc = cpfs_rules_mkdir(tree, parent, parent_serial, name, &why)) < 0)
        goto end;
    g_mutex_unlock(&view->lock);
    rc = create_checked(view, domain, parent, name, &created);
    g_mutex_lock(&view->lock);
    if (rc == 0) {
        CpfsCheckpointTree *grown = cpfs_checkpoint_tree_with_added(st->tree, created);
        CpfsCheckpoint *cp = cpfs_checkpoint_tree_lookup(grown, name);

        *creation_time = cp->creation_time;
        *serial = cp->serial;
        cpfs_view_install_tree(view, st, grown, st->tree_built);
        cpfs_debug("domain '%s': created checkpoint '%s' (parent '%s')", domain, name,
                   parent ? parent : "(none)");
    }
 end:
    change_end(view, st);
 out:
    cpfs_view_release_state(view, st);
    g_mutex_unlock(&view->lock);
 refused:
    if (why)
        cpfs_info("domain '%s': mkdir '%.64s%s' in '%s' refused: %s", domain, name,
                  strlen(name) > 64 ? "..." : "", parent ? parent : "(domain)", why);
    return rc;
}

int
cpfs_view_rmdir(CpfsView *view, const char *domain, const char *name)
{
    g_autofree char *documents = cpfs_view_document_prefix(domain, name);
    gint64 deadline = g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US;
    DomainState *st;
    int rc = -EIO;

    g_mutex_lock(&view->lock);
    st = cpfs_view_use_state(view, domain);
    if (!change_begin(view, st))
        goto out;
    g_mutex_unlock(&view->lock);
    rc = cpfs_driver_checkpoint_delete(view->drv, domain, name);
    if (rc == CPFS_DRIVER_CUT_OFF)
        rc = learn_outcome(view, domain, name, "delete checkpoint", deadline, NULL) == 0
                 ? 0 : -EIO;
    g_mutex_lock(&view->lock);
    if (rc == 0 && st->tree) {
        cpfs_view_install_tree(view, st, cpfs_checkpoint_tree_with_removed(st->tree, name),
                               st->tree_built);
        cpfs_debug("domain '%s': deleted checkpoint '%s'", domain, name);
    } else if (rc == -ENOENT) {
        st->tree_built = 0;  /* gone already: the next reader lists again */
    }
    change_end(view, st);
 out:
    cpfs_view_release_state(view, st);
    g_mutex_unlock(&view->lock);
    if (rc == 0)
        cpfs_documents_forget_prefix(view->docs, documents);
    return rc;
}
