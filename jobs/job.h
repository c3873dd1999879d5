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
    GHashTable *disks;          /* name -> JobDisk* */
} Job;

/* What beginning a job needs, owned by the jobs table. */
typedef struct {
    CpfsDriver *drv;
    CpfsView *view;
    const CpfsJobsConfig *config;
    char *tcp_host;             /* the remote libvirt's host, NULL when local */
    char *machine_id;           /* names our scratch files on a remote host */
} JobContext;

Job *cpfs_job_ref(Job *job);
void cpfs_job_unref(Job *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Job, cpfs_job_unref)

/* TRUE when JOB serves directory (CHECKPOINT, SERIAL) of its domain. */
gboolean cpfs_job_serves(const Job *job, const char *checkpoint, guint64 serial);

/* The disks of a directory, from the view's documents (jobs.h). */
int cpfs_job_disks(JobContext *ctx, const char *domain, const char *checkpoint,
                   guint64 serial, GPtrArray **disks);
/* Begins a job for DOMAIN's directory (CHECKPOINT NULL) or checkpoint's on
 * port PORT (remote only), ending one a killed daemon left behind. */
int cpfs_job_begin(JobContext *ctx, const char *domain, const char *checkpoint, guint64 serial,
                   int port, Job **job);
/* Ends JOB in libvirt if libvirt still runs it: 0, or -EIO while libvirt
 * cannot be asked (then try again later). */
int cpfs_job_end(JobContext *ctx, Job *job);

/* An open image: a reference to its job and one of its disks. */
struct _CpfsImage {
    Job *job;
    JobDisk *disk;
    CpfsImageFormat format;
    CpfsDriver *drv;
};
