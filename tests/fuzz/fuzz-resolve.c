/* libFuzzer target: tree building from arbitrary records (loops, missing
 * parents, duplicates, hidden names) and path resolution in the model.
 *
 * Input: lines.  Lines before a line "--" are records "name parent time"
 * (parent "-" for none); the lines after it are paths to resolve. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "model/names.h"
#include "model/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_tree(CpfsCheckpointTree *tree)
{
    /* Every visible node is reachable from the roots by child(). */
    GPtrArray *roots = cpfs_checkpoint_tree_children(tree, NULL);
    g_autoptr(GPtrArray) pending = g_ptr_array_new();
    guint seen = 0;

    g_ptr_array_extend(pending, roots, NULL, NULL);
    while (pending->len) {
        CpfsCheckpoint *cp = g_ptr_array_steal_index_fast(pending, pending->len - 1);

        if (cpfs_checkpoint_tree_child(tree, cp->parent, cp->name) != cp)
            __builtin_trap();
        if (++seen > cpfs_checkpoint_tree_size(tree))
            __builtin_trap();  /* a loop */
        g_ptr_array_extend(pending, cp->children, NULL, NULL);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    g_auto(GStrv) lines = g_strsplit(text, "\n", 200);
    g_autoptr(GPtrArray) records = cpfs_checkpoint_records_new();
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    g_autoptr(CpfsCheckpointTree) added = NULL;
    g_autoptr(CpfsCheckpointTree) removed = NULL;
    char **line = lines;

    for (; *line && strcmp(*line, "--") != 0; line++) {
        g_auto(GStrv) f = g_strsplit(*line, " ", 3);

        if (!f[0] || !*f[0])
            continue;
        g_ptr_array_add(records, cpfs_checkpoint_record_new(
                            f[0], f[1] && strcmp(f[1], "-") != 0 ? f[1] : NULL,
                            f[1] && f[2] ? g_ascii_strtoll(f[2], NULL, 10) : 0));
    }
    tree = cpfs_checkpoint_tree_new(records);
    check_tree(tree);

    for (line = *line ? line + 1 : line; *line; line++) {
        CpfsCheckpoint *cp = NULL;
        gboolean is_xml = FALSE;
        int rc = cpfs_checkpoint_tree_resolve(tree, *line, &cp, &is_xml);

        if (rc != 0 && rc != -ENOENT && rc != -ENOTDIR)
            __builtin_trap();
        if (rc == 0 && cp && cpfs_checkpoint_tree_child(tree, cp->parent, cp->name) != cp)
            __builtin_trap();
        (void)cpfs_name_check(*line);
    }

    if (records->len > 0) {
        const CpfsCheckpointRecord *first = g_ptr_array_index(records, 0);
        CpfsCheckpointRecord extra = { .name = (char *)"fuzz-new", .parent = first->name };

        added = cpfs_checkpoint_tree_with_added(tree, &extra);
        removed = cpfs_checkpoint_tree_with_removed(tree, first->name);
        check_tree(added);
        check_tree(removed);
        if (cpfs_checkpoint_tree_lookup(removed, first->name) &&
            !cpfs_checkpoint_tree_lookup(tree, "fuzz-new"))
            ; /* a duplicate record of the same name may remain: fine */
    }
    return 0;
}
