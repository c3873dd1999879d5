/* libvirt's backup API as checkpointfs uses it: pull-mode jobs whose NBD
 * export the daemon reads itself (driver/nbd.h), and what stat needs to
 * estimate an image before a job exists.  Each call is one libvirt call
 * within the call budget (driver.h), logging libvirt's message on failure. */
#pragma once
#include <glib.h>

#include "driver/driver.h"

/* What a pull-mode backup job is asked for. */
typedef struct {
    const char *incremental;     /* checkpoint name, or NULL for a full backup */
    const char *socket_path;     /* NBD server on this unix socket, or ... */
    const char *tcp_host;        /* ... on TCP at this host and port */
    int tcp_port;
    const char *scratch_dir;     /* scratch file of disk D: SCRATCH_DIR/<prefix>D.scratch */
    const char *scratch_prefix;  /* may be "" */
    GPtrArray *disks;            /* char*: the disks to back up */
    GPtrArray *all_disks;        /* char*: every disk of the domain; others get backup='no' */
} CpfsBackupRequest;

/* The <domainbackup> document for REQ. */
char *cpfs_backup_request_xml(const CpfsBackupRequest *req);

/* The job libvirt runs, from its backup XML: where its NBD server listens
 * (socket path, or TCP host and port), and per disk the export and bitmap. */
typedef struct {
    char *socket_path;          /* NULL for TCP */
    char *tcp_host;
    int tcp_port;
    char *incremental;          /* NULL for a full backup */
    GPtrArray *scratch_files;   /* char*: the scratch files it names */
} CpfsBackupJobInfo;
void cpfs_backup_job_info_free(CpfsBackupJobInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CpfsBackupJobInfo, cpfs_backup_job_info_free)
/* Parses a backup XML (virDomainBackupGetXMLDesc); NULL if it is no pull job. */
CpfsBackupJobInfo *cpfs_backup_job_info_parse(const char *xml);

/* The disks a backup can copy, from the domain XML: device 'disk' with a
 * source, not read-only, named by <target dev>; sorted.  Never NULL. */
GPtrArray *cpfs_backup_domain_disks(const char *domain_xml);
/* The disks checkpoint XML covers (checkpoint='bitmap'), sorted, and with
 * SIZES (may be NULL) filled name -> guint64* changed bytes when the XML
 * carries size= (VIR_DOMAIN_CHECKPOINT_XML_SIZE); SIZES frees its keys and
 * values with g_free.  Never NULL. */
GPtrArray *cpfs_backup_checkpoint_disks(const char *checkpoint_xml, GHashTable *sizes);

/* Starts a backup job on DOMAIN (virDomainBackupBegin).  An inactive domain
 * is -ENOTSUP; a job already running -EBUSY; a checkpoint whose bitmap is
 * missing or broken -ESTALE; CPFS_DRIVER_CUT_OFF: it may have started. */
int cpfs_driver_backup_begin(CpfsDriver *drv, const char *domain, const char *backup_xml);
/* The XML of DOMAIN's running backup job into *XML; -ENOENT when none runs. */
int cpfs_driver_backup_xml(CpfsDriver *drv, const char *domain, char **xml);
/* Ends DOMAIN's backup job (virDomainAbortJob); 0 also when none ran. */
int cpfs_driver_backup_abort(CpfsDriver *drv, const char *domain);
/* Disk DISK's capacity and allocation (virDomainGetBlockInfo). */
int cpfs_driver_block_info(CpfsDriver *drv, const char *domain, const char *disk,
                           guint64 *capacity, guint64 *allocation);
/* Checkpoint NAME's XML with the changed bytes per disk
 * (VIR_DOMAIN_CHECKPOINT_XML_SIZE: running domains only) and without the
 * domain (NO_DOMAIN). */
int cpfs_driver_checkpoint_xml_sized(CpfsDriver *drv, const char *domain, const char *name,
                                     char **xml);
/* Counts the connections made: a job begun under an earlier epoch belongs
 * to a libvirt connection since lost. */
guint64 cpfs_driver_epoch(CpfsDriver *drv);
