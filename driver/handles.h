/* The handles of domains and checkpoints met before on one connection, so
 * that a call needs no lookup round trip first.  A handle only names its
 * object: using one whose object is gone fails as a lookup would.
 * Thread-safe; every getter returns a new reference or NULL. */
#pragma once
#include <glib.h>
#include <libvirt/libvirt.h>

typedef struct _CpfsHandles CpfsHandles;

CpfsHandles *cpfs_handles_new(void);
void cpfs_handles_free(CpfsHandles *h);

virDomainPtr cpfs_handles_domain(CpfsHandles *h, const char *domain);
/* Keeps DOM (referenced) as DOMAIN's handle, replacing one met before. */
void cpfs_handles_put_domain(CpfsHandles *h, const char *domain, virDomainPtr dom);

virDomainCheckpointPtr cpfs_handles_checkpoint(CpfsHandles *h, const char *domain,
                                               const char *name);
void cpfs_handles_put_checkpoint(CpfsHandles *h, const char *domain,
                                 virDomainCheckpointPtr cp);
/* A listing's handles replace all those met before for DOMAIN. */
void cpfs_handles_put_listing(CpfsHandles *h, const char *domain,
                              virDomainCheckpointPtr *cps, int n);

/* Forgets checkpoint NAME of DOMAIN, or when NAME is NULL all of DOMAIN. */
void cpfs_handles_drop(CpfsHandles *h, const char *domain, const char *name);
/* Domains with handles (for tests of boundedness). */
guint cpfs_handles_domains(CpfsHandles *h);
/* A listing of every domain: their handles replace those met before, and
 * domains absent from it are forgotten. */
void cpfs_handles_put_domains(CpfsHandles *h, virDomainPtr *doms, int n);
