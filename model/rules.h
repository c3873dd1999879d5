/* The rules of libvirt's checkpoint tree as checkpointfs applies them:
 * where mkdir may create a checkpoint, and whether libvirt put it there.
 * Pure functions of a tree (the one place these rules live, apart from the
 * code that calls libvirt). */
#pragma once
#include <glib.h>

#include "model/tree.h"

/* Whether checkpoint NAME may be created in directory PARENT (NULL: the
 * domain's directory), which must be incarnation PARENT_SERIAL of that name
 * (0: any), in a domain whose checkpoints TREE holds.  With TREE NULL, only
 * the name is checked (before libvirt is asked for a tree).  0, or:
 *   -EINVAL, -ENAMETOOLONG, -EEXIST  NAME breaks the name rules (names.h);
 *   -EEXIST   the domain has a checkpoint NAME (names are unique per domain);
 *   -ENOENT   PARENT is gone, or is another incarnation of its name;
 *   -EPERM    libvirt would not make PARENT the new one's parent: libvirt
 *             puts it below its hidden "current" checkpoint, which is always
 *             a leaf, so PARENT must be a leaf (the domain: no checkpoints).
 * *WHY is set to a phrase for the log line when refused. */
int cpfs_rules_mkdir(CpfsCheckpointTree *tree, const char *parent, guint64 parent_serial,
                     const char *name, const char **why);

/* Whether libvirt put a new checkpoint where mkdir asked: its ACTUAL parent
 * is the EXPECTED one (NULL: none). */
gboolean cpfs_rules_placed_as_asked(const char *expected, const char *actual);
