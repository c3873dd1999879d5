/* Changes to the tree: mkdir and rmdir, which libvirt carries out, and every
 * other change, which is refused; the extended attributes. */
#include "fs/fs-internal.h"

#include <errno.h>
#include <string.h>

/* Whether NAME is that of an image file in DOMAIN's directory, where a
 * checkpoint may end up when its parents are deleted. */
static gboolean
names_image_file(CpfsFs *fs, const CpfsNodeId *pid, const char *name)
{
    g_autofree char *disk = NULL;
    g_autoptr(GPtrArray) disks = NULL;
    CpfsImageFormat format;

    if (!fs->jobs || !cpfs_image_name_parse(name, &disk, &format))
        return FALSE;
    if (cpfs_jobs_disks(fs->jobs, pid->domain, NULL, &disks) < 0)
        return FALSE;
    return g_ptr_array_find_with_equal_func(disks, disk, g_str_equal, NULL);
}

/* Whether mkdir may go on to the view in PID: 0, or the errno to refuse
 * with.  The rules of names and of the tree are model/rules.c's. */
static int
mkdir_refusal(CpfsFs *fs, const CpfsNodeId *pid, const char *name)
{
    if (fs->readonly)
        return EROFS;
    if (pid->kind == CPFS_NODE_ROOT) {
        cpfs_info("mkdir '%s' at the mount root refused: domains are not created here", name);
        return EPERM;
    }
    if (!cpfs_node_is_dir(pid->kind))
        return ENOTDIR;
    if (names_image_file(fs, pid, name)) {
        cpfs_info("mkdir '%s' refused: it is the name of a disk image file of domain '%s'",
                  name, pid->domain);
        return EEXIST;
    }
    return 0;
}

void
cpfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode G_GNUC_UNUSED)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_auto(CpfsNodeId) pid = { 0 };
    CpfsNodeId child;
    struct fuse_entry_param e = { 0 };
    gint64 created = 0;
    guint64 serial = 0;
    int rc;

    if (!cpfs_fs_get_node(req, parent, &pid))
        return;
    if ((rc = mkdir_refusal(fs, &pid, name)) != 0) {
        fuse_reply_err(req, rc);
        return;
    }
    rc = cpfs_view_mkdir(fs->view, pid.domain, pid.checkpoint, pid.serial, name, &created, &serial);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    /* Answer from what was created, not from a new look at the tree: another
     * process may delete the checkpoint before we reply, and this mkdir did
     * succeed all the same. */
    child = cpfs_node_id_checkpoint(pid.domain, name, serial);
    cpfs_fs_fill_common(fs, &e.attr, CPFS_INO_UNKNOWN, TRUE);
    cpfs_fs_fill_times(&e.attr, (time_t)created);
    cpfs_fs_domain_attrs_changed(fs, pid.domain);
    cpfs_fs_send_entry(req, &child, &e);
}

void
cpfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_auto(CpfsNodeId) child = { 0 };
    g_autoptr(CpfsRmdirNotice) notice = NULL;
    int rc;

    if (fs->readonly) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (!cpfs_fs_get_child(req, parent, name, &child))
        return;
    if (child.kind == CPFS_NODE_DOMAIN) {
        cpfs_info("rmdir of domain '%s' refused: checkpointfs never undefines a domain", name);
        fuse_reply_err(req, EPERM);
        return;
    }
    if (child.kind != CPFS_NODE_CHECKPOINT) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    notice = cpfs_rmdir_notice_new(fs, parent, &child);
    rc = cpfs_view_rmdir(fs->view, child.domain, child.checkpoint);
    if (rc == 0)
        cpfs_fs_domain_attrs_changed(fs, child.domain);
    fuse_reply_err(req, -rc);
    if (rc == 0)
        cpfs_fs_rmdir_notify(fs, notice);
}

/* Refuses a change to the namespace other than mkdir and rmdir. */
static void
refuse_change(fuse_req_t req, const char *what)
{
    cpfs_debug("%s refused", what);
    fuse_reply_err(req, cpfs_fs_of(req)->readonly ? EROFS : EPERM);
}

void
cpfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr G_GNUC_UNUSED, int to_set,
                struct fuse_file_info *fi)
{
    CpfsFs *fs = cpfs_fs_of(req);

    if (fs->readonly && to_set) {
        fuse_reply_err(req, EROFS);
        return;
    }
    /* A truncate asks to write; the rest asks to change metadata we do not own. */
    if (to_set & FUSE_SET_ATTR_SIZE) {
        fuse_reply_err(req, EACCES);
        return;
    }
    if (to_set) {
        fuse_reply_err(req, EPERM);
        return;
    }
    cpfs_op_getattr(req, ino, fi);
}

void
cpfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    g_auto(CpfsNodeId) child = { 0 };

    if (!cpfs_fs_get_child(req, parent, name, &child))
        return;
    if (cpfs_node_is_dir(child.kind))
        fuse_reply_err(req, EISDIR);
    else
        refuse_change(req, "unlink");
}

void
cpfs_op_rename(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
               fuse_ino_t newparent G_GNUC_UNUSED, const char *newname G_GNUC_UNUSED,
               unsigned int flags G_GNUC_UNUSED)
{
    refuse_change(req, "rename");
}

void
cpfs_op_mknod(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
              mode_t mode G_GNUC_UNUSED, dev_t rdev G_GNUC_UNUSED)
{
    refuse_change(req, "mknod");
}

void
cpfs_op_create(fuse_req_t req, fuse_ino_t parent G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
               mode_t mode G_GNUC_UNUSED, struct fuse_file_info *fi G_GNUC_UNUSED)
{
    refuse_change(req, "create");
}

void
cpfs_op_symlink(fuse_req_t req, const char *link G_GNUC_UNUSED,
                fuse_ino_t parent G_GNUC_UNUSED, const char *name G_GNUC_UNUSED)
{
    refuse_change(req, "symlink");
}

void
cpfs_op_link(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, fuse_ino_t newparent G_GNUC_UNUSED,
             const char *newname G_GNUC_UNUSED)
{
    refuse_change(req, "link");
}

void
cpfs_op_write(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *buf G_GNUC_UNUSED,
              size_t size G_GNUC_UNUSED, off_t off G_GNUC_UNUSED,
              struct fuse_file_info *fi G_GNUC_UNUSED)
{
    /* Unreachable: no file is ever opened for writing. */
    fuse_reply_err(req, EBADF);
}

void
cpfs_op_setxattr(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *name G_GNUC_UNUSED,
                 const char *value G_GNUC_UNUSED, size_t size G_GNUC_UNUSED,
                 int flags G_GNUC_UNUSED)
{
    fuse_reply_err(req, cpfs_fs_of(req)->readonly ? EROFS : ENOTSUP);
}

static void
reply_xattr_value(fuse_req_t req, const char *value, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, value, len);
}

/* "domains=N documents=N document_bytes=N handles=N inodes=N jobs=N". */
static char *
cache_summary(CpfsFs *fs)
{
    CpfsViewStats stats;

    cpfs_view_stats(fs->view, &stats);
    return g_strdup_printf("domains=%u documents=%u document_bytes=%" G_GSIZE_FORMAT
                           " handles=%u inodes=%u jobs=%u", stats.domains, stats.documents,
                           stats.document_bytes, stats.driver_handles,
                           cpfs_inode_table_count(fs->inodes), cpfs_fs_jobs_count(fs));
}

void
cpfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_autofree char *value = NULL;

    if (ino == CPFS_ROOT_INO && strcmp(name, CPFS_XATTR_CALLS) == 0)
        value = g_strdup_printf("%" G_GUINT64_FORMAT, cpfs_view_calls(fs->view));
    else if (ino == CPFS_ROOT_INO && strcmp(name, CPFS_XATTR_CACHE) == 0)
        value = cache_summary(fs);
    else if (ino != CPFS_ROOT_INO && strcmp(name, CPFS_XATTR_NBD) == 0)
        value = cpfs_fs_image_nbd_uri(fs, ino);
    if (!value) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    reply_xattr_value(req, value, strlen(value), size);
}

void
cpfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    static const char names[] = CPFS_XATTR_CALLS "\0" CPFS_XATTR_CACHE;
    static const char image_names[] = CPFS_XATTR_NBD;
    g_autofree char *uri = NULL;

    if (ino != CPFS_ROOT_INO && (uri = cpfs_fs_image_nbd_uri(cpfs_fs_of(req), ino)))
        reply_xattr_value(req, image_names, sizeof(image_names), size);
    else if (ino != CPFS_ROOT_INO)
        reply_xattr_value(req, "", 0, size);
    else
        reply_xattr_value(req, names, sizeof(names), size);
}

void
cpfs_op_removexattr(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *name G_GNUC_UNUSED)
{
    fuse_reply_err(req, cpfs_fs_of(req)->readonly ? EROFS : ENODATA);
}
