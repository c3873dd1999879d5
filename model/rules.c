#include "model/rules.h"
#include "model/names.h"

#include <errno.h>
#include <string.h>

static const char *
name_refusal(int rc)
{
    switch (rc) {
    case -ENAMETOOLONG:
        return "the name is longer than " G_STRINGIFY(CPFS_NAME_MAX) " bytes";
    case -EEXIST:
        return "'" CPFS_XML_NAME "' is the name of the description file";
    default:
        return "a name must match [A-Za-z0-9_-][A-Za-z0-9_.-]*";
    }
}

int
cpfs_rules_mkdir(CpfsCheckpointTree *tree, const char *parent, guint64 parent_serial,
                 const char *name, const char **why)
{
    CpfsCheckpoint *at = NULL;
    int rc = cpfs_name_check(name);

    if (rc < 0) {
        *why = name_refusal(rc);
        return rc;
    }
    if (!tree)
        return 0;
    if (cpfs_checkpoint_tree_lookup(tree, name)) {
        *why = "the domain has a checkpoint of that name (names are unique per domain)";
        return -EEXIST;
    }
    if (parent) {
        at = cpfs_checkpoint_tree_lookup(tree, parent);
        if (!at || (parent_serial && at->serial != parent_serial)) {
            *why = "its directory is gone";
            return -ENOENT;
        }
    }
    if (at ? cpfs_checkpoint_tree_children(tree, at)->len > 0
           : cpfs_checkpoint_tree_size(tree) > 0) {
        *why = at ? "the directory has child checkpoints, so libvirt would not make it "
                    "the parent"
                  : "the domain has checkpoints, so libvirt would put a new one below one "
                    "of them";
        return -EPERM;
    }
    return 0;
}

gboolean
cpfs_rules_placed_as_asked(const char *expected, const char *actual)
{
    return g_strcmp0(expected, actual) == 0;
}
