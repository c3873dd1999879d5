/* libvirt's errors as errno values: one table, by error code only (the
 * message is translated, so its text means nothing to a program). */
#include "driver/connection.h"
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>

static const struct {
    int code;
    int errnum;
} errno_of_code[] = {
    { VIR_ERR_OK, 0 },
    { VIR_ERR_NO_DOMAIN, ENOENT },
    { VIR_ERR_NO_DOMAIN_CHECKPOINT, ENOENT },
    { VIR_ERR_NO_DOMAIN_BACKUP, ENOENT },
    { VIR_ERR_OPERATION_UNSUPPORTED, ENOTSUP },
    { VIR_ERR_CONFIG_UNSUPPORTED, ENOTSUP },
    { VIR_ERR_NO_SUPPORT, ENOTSUP },
    { VIR_ERR_ARGUMENT_UNSUPPORTED, ENOTSUP },
    { VIR_ERR_OPERATION_DENIED, EACCES },
    { VIR_ERR_ACCESS_DENIED, EACCES },
    { VIR_ERR_AUTH_FAILED, EACCES },
    { VIR_ERR_AUTH_CANCELLED, EACCES },
    { VIR_ERR_AUTH_UNAVAILABLE, EACCES },
    { VIR_ERR_XML_INVALID_SCHEMA, EINVAL },
    { VIR_ERR_INVALID_ARG, EINVAL },
};

/* Codes that mean something else in one call than in general. */
static const struct {
    CpfsErrorContext ctx;
    int code;
    int errnum;
} errno_in_context[] = {
    /* libvirt 9.0: "another backup job is already running" */
    { CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_OPERATION_INVALID, EBUSY },
    /* Another job holds the domain: "cannot acquire state change lock". */
    { CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_OPERATION_TIMEOUT, EBUSY },
    /* "Checkpoint 'X' for incremental backup of disk 'vda' not found": the
     * directory the backup was asked for has gone stale. */
    { CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_NO_DOMAIN_CHECKPOINT, ESTALE },
    /* The checkpoint's bitmap is missing or broken in the image. */
    { CPFS_ERRCTX_BACKUP_BEGIN, VIR_ERR_CHECKPOINT_INCONSISTENT, ESTALE },
};

int
cpfs_driver_errno_in(CpfsErrorContext ctx, int code)
{
    for (gsize i = 0; i < G_N_ELEMENTS(errno_in_context); i++) {
        if (errno_in_context[i].ctx == ctx && errno_in_context[i].code == code)
            return errno_in_context[i].errnum;
    }
    return cpfs_driver_errno(code);
}

int
cpfs_driver_errno(int code)
{
    for (gsize i = 0; i < G_N_ELEMENTS(errno_of_code); i++) {
        if (errno_of_code[i].code == code)
            return errno_of_code[i].errnum;
    }
    return EIO;
}

static int fail_va(CpfsConnection *c, CpfsErrorContext ctx, const char *fmt, va_list ap)
    G_GNUC_PRINTF(3, 0);

int
cpfs_driver_fail(CpfsConnection *c, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = fail_va(c, CPFS_ERRCTX_GENERAL, fmt, ap);
    va_end(ap);
    return rc;
}

int
cpfs_driver_fail_in(CpfsConnection *c, CpfsErrorContext ctx, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = fail_va(c, ctx, fmt, ap);
    va_end(ap);
    return rc;
}

static int
fail_va(CpfsConnection *c, CpfsErrorContext ctx, const char *fmt, va_list ap)
{
    virErrorPtr err = virGetLastError();
    int code = err ? err->code : VIR_ERR_INTERNAL_ERROR;
    g_autofree char *message = g_strdup(err && err->message ? err->message
                                                            : "unknown libvirt error");
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    int errnum;

    virResetLastError();
    cpfs_driver_set_error(c->drv, message);

    if (!c->drv->in_process && virConnectIsAlive(c->conn) == 0) {
        cpfs_error("%s: %s (libvirt connection lost)", what, message);
        cpfs_driver_connection_lost(c->drv, c, message);
        return CPFS_DRIVER_CUT_OFF;
    }
    errnum = cpfs_driver_errno_in(ctx, code);
    /* Something vanished under us: worth a line, not an error. */
    if (errnum == ENOENT)
        cpfs_info("%s: %s", what, message);
    else
        cpfs_error("%s: %s", what, message);
    return -errnum;
}
