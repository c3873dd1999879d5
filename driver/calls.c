/* The libvirt API calls checkpointfs makes, each run as one job on the live
 * connection (connection.c) within the call budget. */
#include "driver/connection.h"
#include "driver/cpxml.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

/* One job for every kind of call: the inputs, and the outputs the caller
 * steals from it (what is left is freed with the job, even when it finished
 * after its caller gave up on it). */
typedef struct {
    CpfsCall base;
    char *domain;
    char *name;
    GPtrArray *names;
    GPtrArray *records;
    GPtrArray *documents;
    char *xml;
    CpfsCheckpointRecord *rec;
    int found;
} Job;

static void
job_clear(CpfsCall *call)
{
    Job *job = (Job *)call;

    g_free(job->domain);
    g_free(job->name);
    g_clear_pointer(&job->names, g_ptr_array_unref);
    g_clear_pointer(&job->records, g_ptr_array_unref);
    g_clear_pointer(&job->documents, g_ptr_array_unref);
    g_free(job->xml);
    cpfs_checkpoint_record_free(job->rec);
}

static Job *
job_new(void (*run)(CpfsCall *call), const char *domain, const char *name)
{
    Job *job = g_new0(Job, 1);

    job->base.run = run;
    job->base.clear = job_clear;
    job->domain = g_strdup(domain);
    job->name = g_strdup(name);
    return job;
}

int
cpfs_driver_lookup_domain(CpfsConnection *c, const char *domain, virDomainPtr *dom)
{
    *dom = cpfs_handles_domain(c->handles, domain);
    if (*dom)
        return 0;
    *dom = CALL(c->drv, virDomainLookupByName(c->conn, domain));
    if (!*dom)
        return cpfs_driver_fail(c, "domain '%s': lookup", domain);
    cpfs_handles_put_domain(c->handles, domain, *dom);
    return 0;
}

int
cpfs_driver_lookup_checkpoint(CpfsConnection *c, virDomainPtr dom, const char *domain,
                              const char *name, gboolean absent_ok, virDomainCheckpointPtr *cp)
{
    *cp = cpfs_handles_checkpoint(c->handles, domain, name);
    if (*cp)
        return 0;
    *cp = CALL(c->drv, virDomainCheckpointLookupByName(dom, name, 0));
    if (!*cp) {
        if (absent_ok && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_CHECKPOINT) {
            virResetLastError();
            return -ENOENT;
        }
        return cpfs_driver_fail(c, "domain '%s': checkpoint '%s': lookup", domain, name);
    }
    cpfs_handles_put_checkpoint(c->handles, domain, *cp);
    return 0;
}

/* A failure that says DOMAIN is gone takes its handles along. */
static int
fail_on_domain(CpfsConnection *c, int rc, const char *domain, const char *checkpoint)
{
    if (rc == -ENOENT)
        cpfs_handles_drop(c->handles, domain, checkpoint);
    return rc;
}

static void
list_domains_run(CpfsCall *call)
{
    Job *job = (Job *)call;
    virDomainPtr *doms = NULL;
    int n = CALL(call->c->drv, virConnectListAllDomains(call->c->conn, &doms, 0));

    if (n < 0) {
        call->rc = cpfs_driver_fail(call->c, "list domains");
        return;
    }
    job->names = g_ptr_array_new_full(n, g_free);
    for (int i = 0; i < n; i++)
        g_ptr_array_add(job->names, g_strdup(virDomainGetName(doms[i])));
    cpfs_handles_put_domains(call->c->handles, doms, n);
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
}

int
cpfs_driver_list_domains(CpfsDriver *drv, GPtrArray **names)
{
    Job *job = job_new(list_domains_run, NULL, NULL);
    int rc = cpfs_driver_call_results(drv, &job->base, "list domains", FALSE);

    if (rc == 0) {
        *names = g_steal_pointer(&job->names);
        cpfs_driver_call_done(&job->base);
    }
    return rc;
}

/* Reads each listed checkpoint's document: one call gives its parent and
 * its age, and the whole document costs libvirt about what the short form
 * does, so the first stat and open of its xml need no call of their own. */
static int
read_listed(CpfsConnection *c, Job *job, virDomainCheckpointPtr *cps, int n)
{
    for (int i = 0; i < n; i++) {
        const char *name = virDomainCheckpointGetName(cps[i]);
        g_autofree char *xml = CALL(c->drv, virDomainCheckpointGetXMLDesc(cps[i], 0));
        CpfsCheckpointRecord *rec;

        if (!xml) {
            int rc = cpfs_driver_fail(c, "domain '%s': checkpoint '%s': get XML",
                                      job->domain, name);

            /* Deleted since the listing: leave it out, as a later list would. */
            if (rc == -ENOENT)
                continue;
            return rc;
        }
        rec = cpfs_cpxml_parse(xml, strlen(xml));
        if (!rec) {
            cpfs_error("domain '%s': checkpoint '%s': cannot parse its XML", job->domain, name);
            return -EIO;
        }
        g_ptr_array_add(job->records, rec);
        g_ptr_array_add(job->documents, g_steal_pointer(&xml));
    }
    return 0;
}

static void
list_checkpoints_run(CpfsCall *call)
{
    Job *job = (Job *)call;
    g_autoptr(virDomain) dom = NULL;
    virDomainCheckpointPtr *cps = NULL;
    int n;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    n = CALL(call->c->drv, virDomainListAllCheckpoints(dom, &cps, 0));
    if (n < 0) {
        call->rc = fail_on_domain(call->c, cpfs_driver_fail(call->c, "domain '%s': list "
                                                            "checkpoints", job->domain),
                                  job->domain, NULL);
        return;
    }
    cpfs_handles_put_listing(call->c->handles, job->domain, cps, n);
    job->records = cpfs_checkpoint_records_new();
    job->documents = g_ptr_array_new_with_free_func(g_free);
    call->rc = read_listed(call->c, job, cps, n);
    for (int i = 0; i < n; i++)
        virDomainCheckpointFree(cps[i]);
    free(cps);
}

int
cpfs_driver_list_checkpoints(CpfsDriver *drv, const char *domain, GPtrArray **records,
                             GPtrArray **documents)
{
    Job *job = job_new(list_checkpoints_run, domain, NULL);
    int rc = cpfs_driver_call_results(drv, &job->base, "list checkpoints", FALSE);

    if (rc == 0) {
        *records = g_steal_pointer(&job->records);
        *documents = g_steal_pointer(&job->documents);
        cpfs_driver_call_done(&job->base);
    }
    return rc;
}

static void
domain_xml_run(CpfsCall *call)
{
    Job *job = (Job *)call;
    g_autoptr(virDomain) dom = NULL;
    char *desc;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    /* Flags 0: never VIR_DOMAIN_XML_SECURE, so no passwords leave. */
    desc = CALL(call->c->drv, virDomainGetXMLDesc(dom, 0));
    if (!desc) {
        call->rc = fail_on_domain(call->c, cpfs_driver_fail(call->c, "domain '%s': get XML",
                                                            job->domain),
                                  job->domain, NULL);
        return;
    }
    job->xml = g_strdup(desc);
    free(desc);
}

static void
checkpoint_xml_run(CpfsCall *call)
{
    Job *job = (Job *)call;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    char *desc;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0 ||
        (call->rc = cpfs_driver_lookup_checkpoint(call->c, dom, job->domain, job->name,
                                                     FALSE, &cp)) < 0)
        return;
    /* Flags 0: the embedded domain XML without secrets. */
    desc = CALL(call->c->drv, virDomainCheckpointGetXMLDesc(cp, 0));
    if (!desc) {
        call->rc = fail_on_domain(call->c,
                                  cpfs_driver_fail(call->c, "domain '%s': checkpoint '%s': "
                                                   "get XML", job->domain, job->name),
                                  job->domain, job->name);
        return;
    }
    job->xml = g_strdup(desc);
    free(desc);
}

static int
run_for_xml(CpfsDriver *drv, Job *job, const char *what, char **xml)
{
    int rc = cpfs_driver_call_results(drv, &job->base, what, FALSE);

    if (rc == 0) {
        *xml = g_steal_pointer(&job->xml);
        cpfs_driver_call_done(&job->base);
    }
    return rc;
}

int
cpfs_driver_domain_xml(CpfsDriver *drv, const char *domain, char **xml)
{
    return run_for_xml(drv, job_new(domain_xml_run, domain, NULL), "domain XML", xml);
}

int
cpfs_driver_checkpoint_xml(CpfsDriver *drv, const char *domain, const char *name, char **xml)
{
    return run_for_xml(drv, job_new(checkpoint_xml_run, domain, name), "checkpoint XML", xml);
}

/* CP's record (name, parent, creation time) from its short document. */
static int
describe(CpfsConnection *c, virDomainCheckpointPtr cp, const char *domain,
         CpfsCheckpointRecord **rec)
{
    const char *name = virDomainCheckpointGetName(cp);
    g_autofree char *desc = CALL(c->drv, virDomainCheckpointGetXMLDesc(
                                             cp, VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN));

    if (!desc)
        return cpfs_driver_fail(c, "domain '%s': checkpoint '%s': get XML", domain, name);
    *rec = cpfs_cpxml_parse(desc, strlen(desc));
    if (!*rec) {
        cpfs_error("domain '%s': checkpoint '%s': cannot parse its XML", domain, name);
        return -EIO;
    }
    return 0;
}

static void
lookup_run(CpfsCall *call)
{
    Job *job = (Job *)call;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    call->rc = cpfs_driver_lookup_checkpoint(call->c, dom, job->domain, job->name, TRUE, &cp);
    if (call->rc == -ENOENT) {
        call->rc = 0;
        return;  /* absent is an answer here, not a failure */
    }
    if (call->rc == 0 && (call->rc = describe(call->c, cp, job->domain, &job->rec)) == 0)
        job->found = 1;
}

int
cpfs_driver_checkpoint_lookup(CpfsDriver *drv, const char *domain, const char *name,
                              CpfsCheckpointRecord **found)
{
    Job *job = job_new(lookup_run, domain, name);
    int rc = cpfs_driver_call_results(drv, &job->base, "look up checkpoint", FALSE);

    if (rc < 0)
        return rc;
    rc = job->found;
    if (found)
        *found = g_steal_pointer(&job->rec);
    cpfs_driver_call_done(&job->base);
    return rc;
}

static void
create_run(CpfsCall *call)
{
    Job *job = (Job *)call;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    g_autofree char *request = cpfs_cpxml_build_create(job->name);

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0)
        return;
    cp = CALL(call->c->drv, virDomainCheckpointCreateXML(dom, request, 0));
    if (!cp) {
        call->rc = cpfs_driver_fail(call->c, "domain '%s': create checkpoint '%s'",
                                    job->domain, job->name);
        return;
    }
    cpfs_handles_put_checkpoint(call->c->handles, job->domain, cp);
    call->rc = describe(call->c, cp, job->domain, &job->rec);
    /* It exists, undescribed: whoever asked must look before answering. */
    if (call->rc < 0)
        call->rc = CPFS_DRIVER_CUT_OFF;
}

int
cpfs_driver_checkpoint_create(CpfsDriver *drv, const char *domain, const char *name,
                              CpfsCheckpointRecord **created)
{
    Job *job = job_new(create_run, domain, name);
    int rc = cpfs_driver_call_results(drv, &job->base, "create checkpoint", TRUE);

    if (rc == 0) {
        *created = g_steal_pointer(&job->rec);
        cpfs_driver_call_done(&job->base);
    }
    return rc;
}

static void
delete_run(CpfsCall *call)
{
    Job *job = (Job *)call;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;

    if ((call->rc = cpfs_driver_lookup_domain(call->c, job->domain, &dom)) < 0 ||
        (call->rc = cpfs_driver_lookup_checkpoint(call->c, dom, job->domain, job->name,
                                                     FALSE, &cp)) < 0)
        return;
    if (CALL(call->c->drv, virDomainCheckpointDelete(cp, 0)) == 0) {
        cpfs_handles_drop(call->c->handles, job->domain, job->name);
        return;
    }
    call->rc = fail_on_domain(call->c, cpfs_driver_fail(call->c, "domain '%s': delete "
                                                        "checkpoint '%s'", job->domain,
                                                        job->name),
                              job->domain, job->name);
}

int
cpfs_driver_checkpoint_delete(CpfsDriver *drv, const char *domain, const char *name)
{
    Job *job = job_new(delete_run, domain, name);
    int rc = cpfs_driver_call_results(drv, &job->base, "delete checkpoint", TRUE);

    if (rc == 0)
        cpfs_driver_call_done(&job->base);
    return rc;
}
