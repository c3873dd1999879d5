/* Changes to the tree: mkdir and rmdir, which libvirt carries out, and every
 * other change, which is refused. */
#include "fs/fs-internal.h"

#include <errno.h>
#include <string.h>

/* Whether NAME is that of an image file in DOMAIN's directory, where a
 * checkpoint may end up when its parents are deleted. */
static gboolean
names_image_file(CpfsHost *host, const CpfsNodeId *pid, const char *name)
{
    g_autofree char *disk = NULL;
    g_autoptr(GPtrArray) disks = NULL;
    CpfsImageFormat format;

    if (!host->jobs || !cpfs_image_name_parse(name, &disk, &format))
        return FALSE;
    if (cpfs_jobs_disks(host->jobs, pid->domain, NULL, &disks) < 0)
        return FALSE;
    return g_ptr_array_find_with_equal_func(disks, disk, g_str_equal, NULL);
}

/* Whether mkdir may go on to the view of HOST (NULL: the root of hosts) in
 * PID: 0, or the errno to refuse with.  The rules of names and of the tree
 * are model/rules.c's. */
static int
mkdir_refusal(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *pid, const char *name)
{
    if (fs->readonly || (host && host->readonly))
        return EROFS;
    if (!host && cpfs_fs_lists_hosts(fs, pid)) {
        cpfs_info("mkdir '%s' at the mount root refused: hosts come from the hosts file", name);
        return EPERM;
    }
    if (!host)
        return ENOENT;  /* a reload removed its host */
    if (cpfs_fs_is_host_dir(fs, pid)) {
        cpfs_info("mkdir '%s' in a host's directory refused: domains are not created here",
                  name);
        return EPERM;
    }
    if (!cpfs_node_is_dir(pid->kind))
        return ENOTDIR;
    if (names_image_file(host, pid, name)) {
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
    g_autoptr(CpfsHost) host = NULL;
    CpfsNodeId child;
    struct fuse_entry_param e = { 0 };
    gint64 created = 0;
    guint64 serial = 0;
    int rc;

    if (!cpfs_fs_get_node(req, parent, &pid))
        return;
    host = cpfs_fs_host(fs, &pid);
    if ((rc = mkdir_refusal(fs, host, &pid, name)) != 0) {
        fuse_reply_err(req, rc);
        return;
    }
    rc = cpfs_view_mkdir(host->view, pid.domain, pid.checkpoint, pid.serial, name, &created,
                         &serial);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    /* Answer from what was created, not from a new look at the tree: another
     * process may delete the checkpoint before we reply, and this mkdir did
     * succeed all the same. */
    child = cpfs_node_id_checkpoint(pid.host, pid.domain, name, serial);
    cpfs_fs_fill_common(fs, &e.attr, CPFS_INO_UNKNOWN, TRUE);
    cpfs_fs_fill_times(&e.attr, (time_t)created);
    cpfs_fs_domain_attrs_changed(fs, pid.host, pid.domain);
    cpfs_fs_send_entry(req, &child, &e);
}

void
cpfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_auto(CpfsNodeId) child = { 0 };
    g_autoptr(CpfsRmdirNotice) notice = NULL;
    g_autoptr(CpfsHost) host = NULL;
    int rc;

    if (fs->readonly) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (!cpfs_fs_get_child(req, parent, name, &child))
        return;
    if (child.kind == CPFS_NODE_HOST) {
        cpfs_info("rmdir of host '%s' refused: hosts come from the hosts file", name);
        fuse_reply_err(req, EPERM);
        return;
    }
    if (!(host = cpfs_fs_host(fs, &child))) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (host->readonly) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (child.kind == CPFS_NODE_DOMAIN) {
        cpfs_info("rmdir of domain '%s' refused: checkpointfs never undefines a domain", name);
        fuse_reply_err(req, EPERM);
        return;
    }
    if (child.kind != CPFS_NODE_CHECKPOINT) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    notice = cpfs_rmdir_notice_new(fs, host, parent, &child);
    rc = cpfs_view_rmdir(host->view, child.domain, child.checkpoint);
    if (rc == 0)
        cpfs_fs_domain_attrs_changed(fs, child.host, child.domain);
    fuse_reply_err(req, -rc);
    if (rc == 0)
        cpfs_fs_rmdir_notify(fs, notice);
}

/* Refuses a change to the namespace other than mkdir and rmdir, in (or
 * of) node INO: EROFS where nothing may change, else EPERM. */
static void
refuse_change(fuse_req_t req, fuse_ino_t ino, const char *what)
{
    cpfs_debug("%s refused", what);
    fuse_reply_err(req, cpfs_fs_readonly(cpfs_fs_of(req), ino) ? EROFS : EPERM);
}

void
cpfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr G_GNUC_UNUSED, int to_set,
                struct fuse_file_info *fi)
{
    if (to_set && cpfs_fs_readonly(cpfs_fs_of(req), ino)) {
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
        refuse_change(req, parent, "unlink");
}

void
cpfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name G_GNUC_UNUSED,
               fuse_ino_t newparent G_GNUC_UNUSED, const char *newname G_GNUC_UNUSED,
               unsigned int flags G_GNUC_UNUSED)
{
    refuse_change(req, parent, "rename");
}

void
cpfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name G_GNUC_UNUSED,
              mode_t mode G_GNUC_UNUSED, dev_t rdev G_GNUC_UNUSED)
{
    refuse_change(req, parent, "mknod");
}

void
cpfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name G_GNUC_UNUSED,
               mode_t mode G_GNUC_UNUSED, struct fuse_file_info *fi G_GNUC_UNUSED)
{
    refuse_change(req, parent, "create");
}

void
cpfs_op_symlink(fuse_req_t req, const char *link G_GNUC_UNUSED,
                fuse_ino_t parent, const char *name G_GNUC_UNUSED)
{
    refuse_change(req, parent, "symlink");
}

void
cpfs_op_link(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, fuse_ino_t newparent,
             const char *newname G_GNUC_UNUSED)
{
    refuse_change(req, newparent, "link");
}

void
cpfs_op_write(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, const char *buf G_GNUC_UNUSED,
              size_t size G_GNUC_UNUSED, off_t off G_GNUC_UNUSED,
              struct fuse_file_info *fi G_GNUC_UNUSED)
{
    /* Unreachable: no file is ever opened for writing. */
    fuse_reply_err(req, EBADF);
}

