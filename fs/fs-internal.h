/* What the files of fs/ share: one file per family of operations (attrs.c:
 * attributes and lookup; dirs.c: directories; files.c: the xml files;
 * images.c: the image files; changes.c: mkdir, rmdir and what is refused;
 * xattrs.c: the extended attributes; hosts.c: the hosts of a fleet's root;
 * notify.c and events.c: telling the kernel what changed), with ops.c
 * holding the one operations table. */
#pragma once
#include <sys/stat.h>

#include "fs/ops.h"
#include "fs/pages.h"
#include "util/log.h"
#include "model/names.h"

/* What an open file is: the first member of every file handle. */
typedef enum {
    CPFS_HANDLE_XML,
    CPFS_HANDLE_IMAGE,
} CpfsHandleKind;

/* What an open xml file serves: one document, rendered at open. */
typedef struct {
    CpfsHandleKind kind;
    char *data;
    size_t len;
    CpfsHost *host;     /* referenced: reads fail once a reload removed it */
} XmlHandle;

/* The count of libvirt calls so far (the root: of all hosts; a host's
 * directory: its own), so that tests and curious administrators can see
 * what a walk costs. */
#define CPFS_XATTR_CALLS "user.checkpointfs.libvirt_calls"
/* The root's: what the daemon holds, to see that it stays bounded. */
#define CPFS_XATTR_CACHE "user.checkpointfs.cache"
/* A host directory's (a single URI's root's): its URI, its connection's
 * state (connected, connecting, down), and the last libvirt error met. */
#define CPFS_XATTR_URI "user.checkpointfs.uri"
#define CPFS_XATTR_STATE "user.checkpointfs.state"
#define CPFS_XATTR_ERROR "user.checkpointfs.error"

/* hosts.c: which host a node belongs to, and the root of a fleet */
/* The host of node ID, referenced; NULL when a reload removed it, or for
 * the root of a hosts file's mount, which belongs to none. */
CpfsHost *cpfs_fs_host(CpfsFs *fs, const CpfsNodeId *id);
/* TRUE when nothing may change at node INO: the mount, or its host, is
 * read-only (EROFS then). */
gboolean cpfs_fs_readonly(CpfsFs *fs, fuse_ino_t ino);
/* TRUE for the root of a hosts file's mount: its entries are hosts. */
gboolean cpfs_fs_lists_hosts(CpfsFs *fs, const CpfsNodeId *id);
/* TRUE for a host's directory: a host of a hosts file, or the root of a
 * single URI's mount.  Its entries are domains. */
gboolean cpfs_fs_is_host_dir(CpfsFs *fs, const CpfsNodeId *id);
/* The directory of host HOST (NULL: a single URI's): the root or a host. */
CpfsNodeId cpfs_fs_host_dir(const char *host);
/* The inode of host HOST's directory, or CPFS_INO_UNKNOWN. */
guint64 cpfs_fs_host_dir_ino(CpfsFs *fs, const char *host);
/* Attributes of the root of a hosts file's mount. */
void cpfs_fs_fleet_root_attr(CpfsFs *fs, guint64 ino, struct stat *st);
/* Host NAME as the child of a hosts file's root: 0 or -ENOENT. */
int cpfs_fs_host_child(CpfsFs *fs, const char *name, CpfsNodeId *child);
/* Jobs held over all hosts, for the root's cache attribute. */
guint cpfs_fs_jobs_count(CpfsFs *fs);

static inline CpfsFs *
cpfs_fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

/* ops.c: the handles the kernel holds, freed by cpfs_fs_clear if never released. */
void cpfs_fs_handle_track(CpfsFs *fs, gpointer handle, GDestroyNotify free_func);
/* Forgets HANDLE and frees it. */
void cpfs_fs_handle_release(CpfsFs *fs, gpointer handle);

/* attrs.c */
/* The checkpoint ID stands for in TREE: visible, and the same incarnation. */
CpfsCheckpoint *cpfs_fs_checkpoint_of(CpfsCheckpointTree *tree, const CpfsNodeId *id);
/* Zeroes ST and fills what every node has: owner, mode, links, inode INO. */
void cpfs_fs_fill_common(CpfsFs *fs, struct stat *st, guint64 ino, gboolean is_dir);
void cpfs_fs_fill_times(struct stat *st, time_t t);
/* Attributes of a checkpoint directory or its xml of HOST, from TREE. */
int cpfs_fs_checkpoint_attr(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *id,
                            CpfsCheckpointTree *tree, guint64 ino, struct stat *st);
/* The identity of INO into *ID; on failure replies ESTALE and returns FALSE. */
gboolean cpfs_fs_get_node(fuse_req_t req, fuse_ino_t ino, CpfsNodeId *id);
/* Resolves NAME in directory PARENT into *CHILD; on failure replies with
 * the errno and returns FALSE. */
gboolean cpfs_fs_get_child(fuse_req_t req, fuse_ino_t parent, const char *name,
                           CpfsNodeId *child);
/* Answers with CHILD, whose attributes E holds, counting one lookup. */
void cpfs_fs_send_entry(fuse_req_t req, const CpfsNodeId *child, struct fuse_entry_param *e);

/* images.c: the image files of backups */
/* The export's NBD URI while a job serves an image file. */
#define CPFS_XATTR_NBD "user.checkpointfs.nbd"
/* Whether NAME in HOST's directory PARENT (checkpoint AT, NULL for the
 * domain) is an image file: 1 and *CHILD set, 0 when not, or a negative errno. */
int cpfs_fs_image_child(CpfsHost *host, const CpfsNodeId *parent, CpfsCheckpoint *at,
                        const char *name, CpfsNodeId *child);
/* The image file names of HOST's directory DIR (checkpoint AT, NULL for the
 * domain), sorted; empty when there are none or libvirt fails. */
GPtrArray *cpfs_fs_image_names(CpfsHost *host, const CpfsNodeId *dir, CpfsCheckpoint *at);
/* Logs once per checkpoint that NAME of DOMAIN (on HOST, NULL for a single
 * URI) is not shown, being the name of an image file of its directory. */
void cpfs_fs_image_warn_hidden(CpfsFs *fs, const char *host, const char *domain,
                               const char *name);
/* Attributes of HOST's image ID (inode INO). */
int cpfs_fs_image_attr(CpfsFs *fs, CpfsHost *host, const CpfsNodeId *id, guint64 ino,
                       struct stat *st);
/* The opens and reads of image files (files.c dispatches to them). */
void cpfs_fs_image_open(fuse_req_t req, CpfsHost *host, const CpfsNodeId *id,
                        struct fuse_file_info *fi);
void cpfs_fs_image_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void cpfs_fs_image_release(fuse_req_t req, struct fuse_file_info *fi);
void cpfs_fs_image_lseek(fuse_req_t req, off_t off, int whence, struct fuse_file_info *fi);
/* The NBD URI of image INO's export, or NULL. */
char *cpfs_fs_image_nbd_uri(CpfsFs *fs, fuse_ino_t ino);
/* The size of image ID that a running job serves, or -1 (for fstat of a
 * file whose checkpoint is gone: the kernel passes no handle to getattr). */
gint64 cpfs_fs_image_served_size(CpfsFs *fs, const CpfsNodeId *id);
/* The size fstat reports of open image handle FH. */
gint64 cpfs_fs_image_handle_size(uint64_t fh);

/* notify.c */
/* Drops the kernel's attributes of DOMAIN's directory on HOST (time, link
 * count); takes no directory lock, so it is safe inside mkdir and rmdir. */
void cpfs_fs_domain_attrs_changed(CpfsFs *fs, const char *host, const char *domain);
/* What the kernel must hear after an rmdir of checkpoint ID in directory
 * PARENT: the deleted one's xml, and the children it moves up. */
typedef struct {
    fuse_ino_t parent;
    guint64 xml_ino;        /* of its current xml; CPFS_INO_UNKNOWN if none */
    GPtrArray *moved;       /* CpfsNodeId* of its children */
} CpfsRmdirNotice;
/* Taken before the rmdir, while HOST's tree still holds ID. */
CpfsRmdirNotice *cpfs_rmdir_notice_new(CpfsFs *fs, CpfsHost *host, fuse_ino_t parent,
                                       const CpfsNodeId *id);
void cpfs_rmdir_notice_free(CpfsRmdirNotice *notice);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsRmdirNotice, cpfs_rmdir_notice_free)
/* Tells the kernel after a successful rmdir.  Call only after replying: it
 * takes the directory locks, which the request being answered may hold. */
void cpfs_fs_rmdir_notify(CpfsFs *fs, const CpfsRmdirNotice *notice);
/* Starts what notify.c needs; stops it, the session having ended. */
void cpfs_fs_notify_init(CpfsFs *fs);
void cpfs_fs_notify_clear(CpfsFs *fs);

/* events.c: the notifier threads; stopped (after what is queued, which
 * finds no session by then) once the session ended. */
void cpfs_fs_events_init(CpfsFs *fs);
void cpfs_fs_events_clear(CpfsFs *fs);


/* The operations, by family. */
void cpfs_op_init(void *userdata, struct fuse_conn_info *conn);
void cpfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void cpfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void cpfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void cpfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void cpfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void cpfs_op_statfs(fuse_req_t req, fuse_ino_t ino);

void cpfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void cpfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi);
void cpfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                         struct fuse_file_info *fi);
void cpfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

void cpfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void cpfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                  struct fuse_file_info *fi);
void cpfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void cpfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void cpfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                   struct fuse_file_info *fi);
void cpfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

void cpfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void cpfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void cpfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                     struct fuse_file_info *fi);
void cpfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void cpfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                    fuse_ino_t newparent, const char *newname, unsigned int flags);
void cpfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                   dev_t rdev);
void cpfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                    struct fuse_file_info *fi);
void cpfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void cpfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void cpfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi);
void cpfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                      size_t size, int flags);
void cpfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void cpfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void cpfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
