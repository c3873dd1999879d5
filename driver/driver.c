#include "driver/driver.h"
#include "driver/cpxml.h"
#include "model/log.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomainCheckpoint, virDomainCheckpointFree)

struct _CpfsDriver {
    virConnectPtr conn;
    char *uri;
    gboolean readonly;
    guint64 calls;
    /* The event loop thread and its lifecycle callback. */
    GThread *event_thread;
    gint event_quit;
    int lifecycle_id;
    CpfsDomainEventFunc event_func;
    void *event_opaque;
};

/* Every libvirt API call goes through this, so the count is complete. */
#define CALL(drv, expr) (__atomic_add_fetch(&(drv)->calls, 1, __ATOMIC_RELAXED), (expr))

static void
silent_error_handler(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
    /* libvirt prints every error to stderr by default; we log our own. */
}

int
cpfs_driver_errno(int code)
{
    switch (code) {
    case VIR_ERR_OK:
        return 0;
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_CHECKPOINT:
        return ENOENT;
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return ENOTSUP;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_AUTH_UNAVAILABLE:
        return EACCES;
    case VIR_ERR_XML_INVALID_SCHEMA:
    case VIR_ERR_INVALID_ARG:
        return EINVAL;
    default:
        return EIO;
    }
}

/* Logs what failed with libvirt's message and returns the negative errno. */
static int G_GNUC_PRINTF(1, 2)
fail(const char *fmt, ...)
{
    virErrorPtr err = virGetLastError();
    int code = err ? err->code : VIR_ERR_INTERNAL_ERROR;
    const char *message = err && err->message ? err->message : "unknown libvirt error";
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* "Not found" is the normal answer to a lookup of a vanished object. */
    if (cpfs_driver_errno(code) == ENOENT)
        cpfs_debug("%s: %s", what, message);
    else
        cpfs_error("%s: %s", what, message);
    virResetLastError();
    return -cpfs_driver_errno(code);
}

CpfsDriver *
cpfs_driver_open(const char *uri, gboolean readonly, char **error)
{
    g_autoptr(CpfsDriver) drv = g_new0(CpfsDriver, 1);
    char *actual;

    drv->lifecycle_id = -1;
    virSetErrorFunc(NULL, silent_error_handler);
    /* The event implementation must exist before the connection opens, or
     * the connection never delivers events. */
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
        *error = g_strdup("cannot initialize libvirt");
        return NULL;
    }
    drv->readonly = readonly;
    drv->conn = readonly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri);
    if (!drv->conn) {
        const char *msg = virGetLastErrorMessage();
        g_autofree char *line = g_strdup(msg ? msg : "unknown error");

        g_strdelimit(line, "\n", ' ');
        *error = g_strdup_printf("cannot connect to '%s': %s",
                                 uri ? uri : "libvirt's default URI", g_strstrip(line));
        virResetLastError();
        return NULL;
    }
    actual = virConnectGetURI(drv->conn);
    drv->uri = g_strdup(actual ? actual : uri);
    free(actual);
    return g_steal_pointer(&drv);
}

static gpointer
event_loop(gpointer data)
{
    CpfsDriver *drv = data;

    while (!g_atomic_int_get(&drv->event_quit)) {
        if (virEventRunDefaultImpl() < 0) {
            cpfs_error("libvirt event loop: %s", virGetLastErrorMessage());
            break;
        }
    }
    return NULL;
}

static int
lifecycle_cb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, int event,
             int detail G_GNUC_UNUSED, void *opaque)
{
    CpfsDriver *drv = opaque;
    const char *name = virDomainGetName(dom);
    CpfsDomainEvent what;

    switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
        what = CPFS_DOMAIN_DEFINED;
        break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        what = CPFS_DOMAIN_UNDEFINED;
        break;
    default:
        what = CPFS_DOMAIN_CHANGED;
        break;
    }
    cpfs_debug("domain '%s': lifecycle event %d", name, event);
    drv->event_func(name, what, drv->event_opaque);
    return 0;
}

int
cpfs_driver_watch_domains(CpfsDriver *drv, CpfsDomainEventFunc func, void *opaque)
{
    drv->event_func = func;
    drv->event_opaque = opaque;
    drv->lifecycle_id = CALL(drv, virConnectDomainEventRegisterAny(
                                 drv->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                 VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), drv, NULL));
    if (drv->lifecycle_id < 0)
        return fail("register for domain events");
    drv->event_thread = g_thread_new("libvirt-events", event_loop, drv);
    return 0;
}

static void
wake_event_loop(int timer, void *opaque G_GNUC_UNUSED)
{
    virEventRemoveTimeout(timer);
}

void
cpfs_driver_unwatch(CpfsDriver *drv)
{
    if (!drv->event_thread)
        return;
    if (drv->lifecycle_id >= 0)
        virConnectDomainEventDeregisterAny(drv->conn, drv->lifecycle_id);
    g_atomic_int_set(&drv->event_quit, 1);
    /* A timer that fires at once makes the loop return and see the flag. */
    virEventAddTimeout(0, wake_event_loop, NULL, NULL);
    g_thread_join(g_steal_pointer(&drv->event_thread));
}

void
cpfs_driver_free(CpfsDriver *drv)
{
    if (!drv)
        return;
    cpfs_driver_unwatch(drv);
    if (drv->conn)
        virConnectClose(drv->conn);
    g_free(drv->uri);
    g_free(drv);
}

const char *
cpfs_driver_uri(CpfsDriver *drv)
{
    return drv->uri;
}

guint64
cpfs_driver_calls(CpfsDriver *drv)
{
    return __atomic_load_n(&drv->calls, __ATOMIC_RELAXED);
}

static int
lookup_domain(CpfsDriver *drv, const char *name, virDomainPtr *dom)
{
    *dom = CALL(drv, virDomainLookupByName(drv->conn, name));
    if (!*dom)
        return fail("domain '%s': lookup", name);
    return 0;
}

int
cpfs_driver_list_domains(CpfsDriver *drv, GPtrArray **names)
{
    virDomainPtr *doms = NULL;
    int n = CALL(drv, virConnectListAllDomains(drv->conn, &doms, 0));
    GPtrArray *result;

    if (n < 0)
        return fail("list domains");
    result = g_ptr_array_new_full(n, g_free);
    for (int i = 0; i < n; i++) {
        g_ptr_array_add(result, g_strdup(virDomainGetName(doms[i])));
        virDomainFree(doms[i]);
    }
    free(doms);
    *names = result;
    return 0;
}

int
cpfs_driver_list_checkpoints(CpfsDriver *drv, const char *domain, GPtrArray **records)
{
    g_autoptr(virDomain) dom = NULL;
    virDomainCheckpointPtr *cps = NULL;
    g_autoptr(GPtrArray) result = cpfs_checkpoint_records_new();
    int n, rc = 0;

    if ((rc = lookup_domain(drv, domain, &dom)) < 0)
        return rc;
    n = CALL(drv, virDomainListAllCheckpoints(dom, &cps, 0));
    if (n < 0)
        return fail("domain '%s': list checkpoints", domain);

    for (int i = 0; i < n; i++) {
        const char *name = virDomainCheckpointGetName(cps[i]);
        /* One call per checkpoint gives both its parent and its age. */
        g_autofree char *xml = CALL(drv, virDomainCheckpointGetXMLDesc(
                                        cps[i], VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN));
        CpfsCheckpointRecord *rec;

        if (!xml) {
            int err = fail("domain '%s': checkpoint '%s': get XML", domain, name);

            /* Deleted since the listing: leave it out, as a later list would. */
            if (err == -ENOENT)
                continue;
            rc = err;
            break;
        }
        rec = cpfs_cpxml_parse(xml, strlen(xml));
        if (!rec) {
            cpfs_error("domain '%s': checkpoint '%s': cannot parse its XML", domain, name);
            rc = -EIO;
            break;
        }
        g_ptr_array_add(result, rec);
    }
    for (int i = 0; i < n; i++)
        virDomainCheckpointFree(cps[i]);
    free(cps);
    if (rc == 0)
        *records = g_steal_pointer(&result);
    return rc;
}

int
cpfs_driver_domain_xml(CpfsDriver *drv, const char *domain, char **xml)
{
    g_autoptr(virDomain) dom = NULL;
    char *desc;
    int rc;

    if ((rc = lookup_domain(drv, domain, &dom)) < 0)
        return rc;
    /* Flags 0: never VIR_DOMAIN_XML_SECURE, so no passwords leave. */
    desc = CALL(drv, virDomainGetXMLDesc(dom, 0));
    if (!desc)
        return fail("domain '%s': get XML", domain);
    *xml = g_strdup(desc);
    free(desc);
    return 0;
}

static int
lookup_checkpoint(CpfsDriver *drv, virDomainPtr dom, const char *domain, const char *name,
                  virDomainCheckpointPtr *cp)
{
    *cp = CALL(drv, virDomainCheckpointLookupByName(dom, name, 0));
    if (!*cp)
        return fail("domain '%s': checkpoint '%s': lookup", domain, name);
    return 0;
}

int
cpfs_driver_checkpoint_xml(CpfsDriver *drv, const char *domain, const char *name, char **xml)
{
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    char *desc;
    int rc;

    if ((rc = lookup_domain(drv, domain, &dom)) < 0 ||
        (rc = lookup_checkpoint(drv, dom, domain, name, &cp)) < 0)
        return rc;
    desc = CALL(drv, virDomainCheckpointGetXMLDesc(cp, 0));
    if (!desc)
        return fail("domain '%s': checkpoint '%s': get XML", domain, name);
    *xml = g_strdup(desc);
    free(desc);
    return 0;
}

int
cpfs_driver_checkpoint_exists(CpfsDriver *drv, const char *domain, const char *name)
{
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    int rc;

    if ((rc = lookup_domain(drv, domain, &dom)) < 0)
        return rc;
    rc = lookup_checkpoint(drv, dom, domain, name, &cp);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? rc : 1;
}

int
cpfs_driver_checkpoint_create(CpfsDriver *drv, const char *domain, const char *name,
                              const char *expected_parent, CpfsCheckpointRecord **created)
{
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    g_autofree char *request = cpfs_cpxml_build_create(name);
    g_autofree char *desc = NULL;
    g_autoptr(CpfsCheckpointRecord) rec = NULL;
    int rc;

    if ((rc = lookup_domain(drv, domain, &dom)) < 0)
        return rc;
    cp = CALL(drv, virDomainCheckpointCreateXML(dom, request, 0));
    if (!cp) {
        virErrorPtr err = virGetLastError();

        /* libvirt reports a duplicate name as a generic failure. */
        if (err && err->code == VIR_ERR_OPERATION_FAILED &&
            err->message && strstr(err->message, "already exists")) {
            cpfs_info("domain '%s': create checkpoint '%s': %s", domain, name, err->message);
            virResetLastError();
            return -EEXIST;
        }
        return fail("domain '%s': create checkpoint '%s'", domain, name);
    }

    desc = CALL(drv, virDomainCheckpointGetXMLDesc(cp, VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN));
    if (desc)
        rec = cpfs_cpxml_parse(desc, strlen(desc));
    if (!rec) {
        if (desc)
            cpfs_error("domain '%s': checkpoint '%s': cannot parse its XML", domain, name);
        else
            fail("domain '%s': checkpoint '%s': get XML", domain, name);
        /* The checkpoint exists: report success rather than lose track of
         * it; the caller refreshes its listing, which shows its real place. */
        *created = NULL;
        return 0;
    }

    if (g_strcmp0(rec->parent, expected_parent) != 0) {
        /* libvirt made its hidden "current" checkpoint the parent, which is
         * not the directory mkdir ran in: undo, leaving nothing behind. */
        cpfs_error("domain '%s': checkpoint '%s' got parent '%s', not '%s' as its "
                   "directory asks; deleting it again", domain, name,
                   rec->parent ? rec->parent : "(none)",
                   expected_parent ? expected_parent : "(none)");
        if (CALL(drv, virDomainCheckpointDelete(cp, 0)) < 0)
            return fail("domain '%s': delete misplaced checkpoint '%s'", domain, name);
        return -EPERM;
    }
    *created = g_steal_pointer(&rec);
    return 0;
}

int
cpfs_driver_checkpoint_delete(CpfsDriver *drv, const char *domain, const char *name)
{
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomainCheckpoint) cp = NULL;
    int rc;

    if ((rc = lookup_domain(drv, domain, &dom)) < 0 ||
        (rc = lookup_checkpoint(drv, dom, domain, name, &cp)) < 0)
        return rc;
    if (CALL(drv, virDomainCheckpointDelete(cp, 0)) < 0)
        return fail("domain '%s': delete checkpoint '%s'", domain, name);
    return 0;
}
