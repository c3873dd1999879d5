/* The xml files: open renders one document, read serves it. */
#include "fs/fs-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static void
xml_handle_free(XmlHandle *xh)
{
    cpfs_host_unref(xh->host);
    g_free(xh->data);
    g_free(xh);
}

/* The document of checkpoint xml ID (inode INO) into *XML, and what the
 * page cache may do with it into *PAGES. */
static int
checkpoint_document(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *id, guint64 ino, char **xml,
                    CpfsPagePolicy *pages)
{
    g_autoptr(CpfsCheckpointTree) tree = NULL;
    CpfsCheckpoint *cp;
    int rc;

    *pages = CPFS_PAGES_BYPASS;
    if ((rc = cpfs_view_checkpoints(host->view, id->domain, &tree)) < 0)
        return rc;
    /* The file belongs to one incarnation of the name. */
    if (!(cp = cpfs_fs_checkpoint_of(tree, id)))
        return -ENOENT;
    if ((rc = cpfs_view_checkpoint_xml(host->view, id->domain, cp, xml)) < 0)
        return rc;
    /* An earlier version's inode (the kernel has not looked the name up
     * again yet) serves today's document, around its page cache. */
    if (cp->doc_version == id->doc_version)
        *pages = cpfs_pages_open_document(fs->inodes, ino, (gint64)strlen(*xml),
                                          cpfs_pages_document_hash(*xml));
    return 0;
}

void
cpfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    CpfsFs *fs = cpfs_fs_of(req);
    g_auto(CpfsNodeId) id = { 0 };
    g_autoptr(CpfsHost) host = NULL;
    g_autofree char *xml = NULL;
    CpfsPagePolicy pages = CPFS_PAGES_BYPASS;
    XmlHandle *xh;
    int rc;

    if (!cpfs_fs_get_node(req, ino, &id))
        return;
    if (cpfs_node_is_dir(id.kind)) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if (!(host = cpfs_fs_host(fs, &id))) {
        fuse_reply_err(req, ENOENT);  /* a reload removed its host */
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
        fuse_reply_err(req, host->readonly ? EROFS : EACCES);
        return;
    }
    if (id.image) {
        cpfs_fs_image_open(req, host, &id, fi);
        return;
    }
    if (id.kind == CPFS_NODE_DOMAIN_XML)
        rc = cpfs_view_domain_xml(host->view, id.domain, &xml);
    else
        rc = checkpoint_document(fs, host, &id, ino, &xml, &pages);
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return;
    }
    xh = g_new0(XmlHandle, 1);
    xh->kind = CPFS_HANDLE_XML;
    xh->len = strlen(xml);
    xh->data = g_steal_pointer(&xml);
    xh->host = g_steal_pointer(&host);
    fi->fh = (uintptr_t)xh;
    /* A checkpoint's document is fixed for its inode, so the page cache may
     * keep it across opens; the domain's changes as the domain runs, so
     * its reads are served from this document, whatever size the kernel
     * last saw in stat. */
    fi->direct_io = pages == CPFS_PAGES_BYPASS;
    fi->keep_cache = pages == CPFS_PAGES_KEEP;
    /* Read-only: close(2) has nothing to flush, so spare it the round trip. */
    fi->noflush = 1;
    cpfs_fs_handle_track(fs, xh, (GDestroyNotify)xml_handle_free);
    if (fuse_reply_open(req, fi) != 0)
        cpfs_fs_handle_release(fs, xh);
}

void
cpfs_op_read(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, size_t size, off_t off,
             struct fuse_file_info *fi)
{
    XmlHandle *xh = (XmlHandle *)(uintptr_t)fi->fh;

    if (xh->kind == CPFS_HANDLE_IMAGE) {
        cpfs_fs_image_read(req, size, off, fi);
        return;
    }
    /* Its host left the fleet: what it served may be anything by now. */
    if (cpfs_host_removed(xh->host)) {
        fuse_reply_err(req, EIO);
        return;
    }
    if (off < 0 || (size_t)off >= xh->len) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    size_t len = MIN(size, xh->len - (size_t)off);
    /* Reply from a copy this thread owns: once the kernel has the data, the
     * reader may close the file and another thread free the document while
     * writev is still returning (ASan would see that as a use after free). */
    g_autofree char *copy = g_memdup2(xh->data + off, len);

    fuse_reply_buf(req, copy, len);
}

void
cpfs_op_release(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, struct fuse_file_info *fi)
{
    if (*(CpfsHandleKind *)(uintptr_t)fi->fh == CPFS_HANDLE_IMAGE) {
        cpfs_fs_image_release(req, fi);
        return;
    }
    cpfs_fs_handle_release(cpfs_fs_of(req), (XmlHandle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

/* SEEK_DATA and SEEK_HOLE: an image's extents, or a document's one. */
void
cpfs_op_lseek(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, off_t off, int whence,
              struct fuse_file_info *fi)
{
    XmlHandle *xh = (XmlHandle *)(uintptr_t)fi->fh;

    if (whence != SEEK_DATA && whence != SEEK_HOLE) {
        fuse_reply_err(req, EINVAL);  /* the kernel handles the others itself */
        return;
    }
    if (xh->kind == CPFS_HANDLE_IMAGE) {
        cpfs_fs_image_lseek(req, off, whence, fi);
        return;
    }
    /* A document is data from end to end. */
    if (off < 0 || (size_t)off >= xh->len)
        fuse_reply_err(req, ENXIO);
    else
        fuse_reply_lseek(req, whence == SEEK_DATA ? off : (off_t)xh->len);
}

void
cpfs_op_flush(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED,
              struct fuse_file_info *fi G_GNUC_UNUSED)
{
    fuse_reply_err(req, 0);
}

void
cpfs_op_fsync(fuse_req_t req, fuse_ino_t ino G_GNUC_UNUSED, int datasync G_GNUC_UNUSED,
              struct fuse_file_info *fi G_GNUC_UNUSED)
{
    /* libvirt has every change already; there is nothing to write back. */
    fuse_reply_err(req, 0);
}
