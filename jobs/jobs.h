/* Backup jobs: what the image files of a domain share.  Opening an image
 * file begins a libvirt pull-mode backup job for its directory (or shares
 * the one running for that directory), and the file reads the job's NBD
 * export through a qcow2 layout or as raw.  One job per domain; it lives
 * while any image is open and a linger after the last close, then a
 * reaper thread ends it.  libvirt holds the jobs: a job left behind by a
 * killed daemon is found and ended by the next begin for its domain. */
#pragma once
#include <glib.h>

#include "cache/view.h"
#include "driver/driver.h"

typedef struct _CpfsJobs CpfsJobs;
typedef struct _CpfsImage CpfsImage;

typedef enum {
    CPFS_IMAGE_RAW,
    CPFS_IMAGE_QCOW2,
} CpfsImageFormat;

typedef struct {
    double linger;              /* seconds a job outlives its last image */
    const char *runtime_dir;    /* the NBD sockets of local jobs */
    int port_low, port_high;    /* TCP exports of a remote libvirt */
    const char *scratch_dir;    /* libvirt's scratch files, on libvirt's host */
} CpfsJobsConfig;

/* Jobs on DRV's domains; VIEW supplies the documents disks are read from. */
CpfsJobs *cpfs_jobs_new(CpfsDriver *drv, CpfsView *view, const CpfsJobsConfig *config);
/* Ends every job (without waiting for libvirt past the call budget). */
void cpfs_jobs_free(CpfsJobs *jobs);

/* Splits an image file name "DISK.raw" / "DISK.qcow2" into *DISK (owned)
 * and *FORMAT; FALSE when NAME is no image name. */
gboolean cpfs_image_name_parse(const char *name, char **disk, CpfsImageFormat *format);

/* The disks DOMAIN's directory (CHECKPOINT NULL) or checkpoint directory
 * serves images of, sorted: those a backup can copy, and for a checkpoint
 * those it has a bitmap of. */
int cpfs_jobs_disks(CpfsJobs *jobs, const char *domain, const char *checkpoint,
                    GPtrArray **disks);

/* stat of an image: exact when a job of its directory serves it, else an
 * estimate from libvirt (capacity, allocation, changed bytes). */
int cpfs_jobs_image_size(CpfsJobs *jobs, const char *domain, const char *checkpoint,
                         guint64 serial, const char *disk, CpfsImageFormat format,
                         guint64 *size, guint64 *allocated);

/* Opens an image of DISK in DOMAIN's directory (CHECKPOINT NULL) or in
 * incarnation SERIAL of checkpoint CHECKPOINT's; 0, -EBUSY, -ENOTSUP,
 * -ESTALE, -ENOENT or -EIO. */
int cpfs_jobs_open(CpfsJobs *jobs, const char *domain, const char *checkpoint, guint64 serial,
                   const char *disk, CpfsImageFormat format, CpfsImage **image);
/* Closes IMAGE; its job lingers if it was the last. */
void cpfs_image_close(CpfsJobs *jobs, CpfsImage *image);

guint64 cpfs_image_size(CpfsImage *image);
/* Reads [OFFSET, OFFSET + LENGTH) (within the size) into BUF: 0 or -EIO. */
int cpfs_image_read(CpfsImage *image, guint64 offset, gsize length, guint8 *buf);
/* lseek SEEK_DATA (DATA) or SEEK_HOLE: the offset, or -ENXIO. */
gint64 cpfs_image_seek(CpfsImage *image, guint64 offset, gboolean data);

/* The NBD URI of the export that serves this image file now, if a job of
 * its directory runs: NULL otherwise. */
char *cpfs_jobs_nbd_uri(CpfsJobs *jobs, const char *domain, const char *checkpoint,
                        guint64 serial, const char *disk);
/* Jobs the daemon holds (running or lingering). */
guint cpfs_jobs_count(CpfsJobs *jobs);
