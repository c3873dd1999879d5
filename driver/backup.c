/* libvirt's backup API calls (driver/backup.h), each run as one job on the
 * live connection (connection.c) within the call budget, as calls.c does. */
#include "driver/backup.h"
#include "driver/connection.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

/* One job for every backup call: inputs, and outputs the caller steals. */
typedef struct {
    CpfsCall base;
    char *domain;
    char *name;        /* the disk or checkpoint the call is about */
    char *xml;         /* the request going in, or the document coming out */
    guint64 capacity;
    guint64 allocation;
} BackupJob;

static void
job_clear(CpfsCall *call)
{
    BackupJob *job = (BackupJob *)call;

    g_free(job->domain);
    g_free(job->name);
    g_free(job->xml);
}

static BackupJob *
job_new(void (*run)(CpfsCall *call), const char *domain, const char *name, const char *xml)
{
    BackupJob *job = g_new0(BackupJob, 1);

    job->base.run = run;
    job->base.clear = job_clear;
    job->domain = g_strdup(domain);
    job->name = g_strdup(name);
    job->xml = g_strdup(xml);
    return job;
}

/* The operation of DOM's running job (virDomainJobOperation), or -1 when
 * no job runs or libvirt cannot tell. */
static int
running_operation(CpfsConnection *c, virDomainPtr dom)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    int type = VIR_DOMAIN_JOB_NONE;
    int operation = VIR_DOMAIN_JOB_OPERATION_UNKNOWN;

    if (CALL(c->drv, virDomainGetJobStats(dom, &type, &params, &nparams, 0)) < 0) {
        cpfs_debug("domain '%s': job stats: %s", virDomainGetName(dom),
                   virGetLastErrorMessage());
        virResetLastError();
        return -1;
    }
    if (virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &operation) < 0)
        virResetLastError();
    virTypedParamsFree(params, nparams);
    return type == VIR_DOMAIN_JOB_NONE ? -1 : operation;
}

static void
begin_run(CpfsCall *call)
{
    BackupJob *job = (BackupJob *)call;
    g_autoptr(virDomain) dom = NULL;
    int operation;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    /* libvirt 9.0 makes a backup wait up to 30 s for the domain's job lock
     * while another job (a backup too) holds it: ask first. */
    operation = running_operation(call->c, dom);
    if (operation >= 0) {
        cpfs_info("domain '%s': start backup: another job runs (operation %d)", job->domain,
                  operation);
        call->rc = -EBUSY;
        return;
    }
    if (CALL(call->c->drv, virDomainBackupBegin(dom, job->xml, NULL, 0)) < 0)
        call->rc = cpfs_driver_fail_in(call->c, CPFS_ERRCTX_BACKUP_BEGIN,
                                       "domain '%s': start backup", job->domain);
}

int
cpfs_driver_backup_begin(CpfsDriver *drv, const char *domain, const char *backup_xml)
{
    BackupJob *job = job_new(begin_run, domain, NULL, backup_xml);
    int rc = cpfs_driver_call_results(drv, &job->base, "start backup", TRUE);

    if (rc == 0)
        cpfs_driver_call_done(&job->base);
    return rc;
}

static void
backup_xml_run(CpfsCall *call)
{
    BackupJob *job = (BackupJob *)call;
    g_autoptr(virDomain) dom = NULL;
    char *desc;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    desc = CALL(call->c->drv, virDomainBackupGetXMLDesc(dom, 0));
    if (!desc) {
        /* No job is an answer, not a failure. */
        if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_BACKUP) {
            virResetLastError();
            call->rc = -ENOENT;
            return;
        }
        call->rc = cpfs_driver_fail(call->c, "domain '%s': backup XML", job->domain);
        return;
    }
    job->xml = g_strdup(desc);
    free(desc);
}

int
cpfs_driver_backup_xml(CpfsDriver *drv, const char *domain, char **xml)
{
    BackupJob *job = job_new(backup_xml_run, domain, NULL, NULL);
    int rc = cpfs_driver_call_results(drv, &job->base, "backup XML", FALSE);

    if (rc == 0) {
        *xml = g_steal_pointer(&job->xml);
        cpfs_driver_call_done(&job->base);
    }
    return rc;
}

static void
abort_run(CpfsCall *call)
{
    BackupJob *job = (BackupJob *)call;
    g_autoptr(virDomain) dom = NULL;
    int operation;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    /* virDomainAbortJob ends whatever job runs: leave another tool's
     * migration or dump alone. */
    operation = running_operation(call->c, dom);
    if (operation >= 0 && operation != VIR_DOMAIN_JOB_OPERATION_BACKUP) {
        cpfs_info("domain '%s': no backup to end: its job is operation %d", job->domain,
                  operation);
        return;
    }
    if (CALL(call->c->drv, virDomainAbortJob(dom)) == 0)
        return;
    /* "no job is active on the domain": it ended already. */
    if (virGetLastErrorCode() == VIR_ERR_OPERATION_INVALID) {
        cpfs_debug("domain '%s': end backup: %s", job->domain, virGetLastErrorMessage());
        virResetLastError();
        return;
    }
    call->rc = cpfs_driver_fail(call->c, "domain '%s': end backup", job->domain);
}

int
cpfs_driver_backup_abort(CpfsDriver *drv, const char *domain)
{
    BackupJob *job = job_new(abort_run, domain, NULL, NULL);
    int rc = cpfs_driver_call_results(drv, &job->base, "end backup", TRUE);

    if (rc == 0)
        cpfs_driver_call_done(&job->base);
    return rc;
}

static void
block_info_run(CpfsCall *call)
{
    BackupJob *job = (BackupJob *)call;
    g_autoptr(virDomain) dom = NULL;
    virDomainBlockInfo info;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    if (CALL(call->c->drv, virDomainGetBlockInfo(dom, job->name, &info, 0)) < 0) {
        call->rc = cpfs_driver_fail(call->c, "domain '%s': disk '%s': block info", job->domain,
                                    job->name);
        return;
    }
    job->capacity = info.capacity;
    job->allocation = info.allocation;
}

int
cpfs_driver_block_info(CpfsDriver *drv, const char *domain, const char *disk,
                       guint64 *capacity, guint64 *allocation)
{
    BackupJob *job = job_new(block_info_run, domain, disk, NULL);
    int rc = cpfs_driver_call_results(drv, &job->base, "block info", FALSE);

    if (rc == 0) {
        *capacity = job->capacity;
        *allocation = job->allocation;
        cpfs_driver_call_done(&job->base);
    }
    return rc;
}

static void
checkpoint_sized_run(CpfsCall *call)
{
    BackupJob *job = (BackupJob *)call;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    char *desc;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0 ||
        (call->rc = cpfs_driver_lookup_checkpoint(call->c, dom, job->domain, job->name, FALSE,
                                                  &cp)) < 0)
        return;
    desc = CALL(call->c->drv, virDomainCheckpointGetXMLDesc(
                                  cp, VIR_DOMAIN_CHECKPOINT_XML_SIZE |
                                          VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN));
    if (!desc) {
        call->rc = cpfs_driver_fail(call->c, "domain '%s': checkpoint '%s': get sized XML",
                                    job->domain, job->name);
        return;
    }
    job->xml = g_strdup(desc);
    free(desc);
}

int
cpfs_driver_checkpoint_xml_sized(CpfsDriver *drv, const char *domain, const char *name,
                                 char **xml)
{
    BackupJob *job = job_new(checkpoint_sized_run, domain, name, NULL);
    int rc = cpfs_driver_call_results(drv, &job->base, "checkpoint sized XML", FALSE);

    if (rc == 0) {
        *xml = g_steal_pointer(&job->xml);
        cpfs_driver_call_done(&job->base);
    }
    return rc;
}
