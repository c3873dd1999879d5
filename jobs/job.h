/* Inside jobs/: one backup job, begun and ended (job.c), and what an open
 * image reads through it (image.c).  jobs.c decides who shares a job. */
#pragma once
#include "driver/backup.h"
#include "driver/nbd.h"
#include "jobs/jobs.h"
#include "model/qcow2.h"

/* One disk of a running job: its export and the layouts of its images. */
typedef struct {
    char *name;
    CpfsNbdExport *export;
    CpfsExtentMap *allocated;   /* not a hole in base:allocation */
    CpfsExtentMap *changed;     /* dirty since the checkpoint (incremental) */
    CpfsQcow2Layout *qcow2;     /* full image, or overlay of CHANGED */
} JobDisk;

/* A job of one directory: immutable once begun, reference-counted (the
 * jobs table holds one reference, each open image another). */
typedef struct {
    gint refs;
    char *domain;
    char *checkpoint;           /* NULL: the domain's directory, a full backup */
    guint64 serial;             /* the checkpoint's incarnation */
    guint64 epoch;              /* of the libvirt connection it was begun on */
    char *folder;               /* our runtime folder (local jobs), or NULL */
    char *socket_path;          /* the export's socket, or NULL for TCP */
    int tcp_port;               /* the export's port on a remote host, or 0 */
    char *scratch_prefix;       /* names its scratch files: "checkpointfs-MACHINE-PID-DOMAIN-" */
    GHashTable *disks;          /* name -> JobDisk* */
    gint lost_logged;           /* atomic: its files' EIO was logged */
} Job;

/* What beginning a job needs, owned by the jobs table. */
typedef struct {
    CpfsDriver *drv;
    CpfsView *view;
    const CpfsJobsConfig *config;
    char *tcp_host;             /* the remote libvirt's host, NULL when local */
    char *machine_id;           /* names our scratch files on a remote host */
} JobContext;

/* One more reference to JOB. */
Job *cpfs_job_ref(Job *job);
/* Drops one; the last closes its exports and removes its runtime folder. */
void cpfs_job_unref(Job *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Job, cpfs_job_unref)

/* TRUE when an export of JOB broke (QEMU gone, a read overdue): its reads
 * fail from then on. */
gboolean cpfs_job_broken(const Job *job);
/* TRUE when JOB serves directory (CHECKPOINT, SERIAL) of its domain. */
gboolean cpfs_job_serves(const Job *job, const char *checkpoint, guint64 serial);

/* The disks of a directory, from the view's documents (jobs.h). */
int cpfs_job_disks(JobContext *ctx, const char *domain, const char *checkpoint,
                   guint64 serial, GPtrArray **disks);
/* Begins a job for DOMAIN's directory (CHECKPOINT NULL) or checkpoint's on
 * port PORT (remote only), ending one a killed daemon left behind.  On
 * failure *JOB is set when libvirt may still run it: the caller must have
 * it ended (CPFS_DRIVER_CUT_OFF: it may even start later). */
int cpfs_job_begin(JobContext *ctx, const char *domain, const char *checkpoint, guint64 serial,
                   int port, Job **job);
/* Ends JOB in libvirt if libvirt still runs it: 0 when it did or another
 * job runs, 1 when none runs, -EIO while libvirt cannot be asked (then
 * try again later). */
int cpfs_job_end(JobContext *ctx, Job *job);

/* estimates.c: stat's estimates of images no job serves, kept for a TTL. */
typedef struct _CpfsEstimates CpfsEstimates;
CpfsEstimates *cpfs_estimates_new(JobContext *ctx, gint64 ttl_us);
void cpfs_estimates_free(CpfsEstimates *est);
/* DISK's capacity, and its allocation (CHECKPOINT NULL) or the bytes
 * changed since incarnation SERIAL of CHECKPOINT (0 when libvirt cannot
 * count them). */
int cpfs_estimates_get(CpfsEstimates *est, const char *domain, const char *checkpoint,
                       guint64 serial, const char *disk, guint64 *capacity, guint64 *used);

/* stream.c: read-ahead for an image read from start to end. */
typedef struct _CpfsStream CpfsStream;
/* A stream of IMAGE whose chunks POOL's workers (cpfs_stream_fill) fill. */
CpfsStream *cpfs_stream_new(CpfsImage *image, GThreadPool *pool);
/* Frees S once no fill of it is in flight. */
void cpfs_stream_free(CpfsStream *s);
/* cpfs_image_read through S's chunks: 0 or -EIO. */
int cpfs_stream_read(CpfsStream *s, guint64 offset, gsize length, guint8 *buf);
/* The thread pool's function: fills one chunk. */
void cpfs_stream_fill(gpointer fill, gpointer unused);

/* An open image: a reference to its job and one of its disks. */
struct _CpfsImage {
    Job *job;
    JobDisk *disk;
    CpfsImageFormat format;
    CpfsDriver *drv;
    CpfsStream *stream;         /* its read-ahead */
};

/* cpfs_image_read without read-ahead, and without looking at the epoch. */
int cpfs_image_read_direct(CpfsImage *image, guint64 offset, gsize length, guint8 *buf);
