/* What an open image file reads: the job's export, through a qcow2 layout
 * or as a raw disk. */
#include "jobs/job.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>

guint64
cpfs_image_size(CpfsImage *image)
{
    if (image->format == CPFS_IMAGE_QCOW2)
        return cpfs_qcow2_file_size(image->disk->qcow2);
    return cpfs_extent_map_size(image->disk->allocated);
}

int
cpfs_image_read(CpfsImage *image, guint64 offset, gsize length, guint8 *buf)
{
    /* libvirt was lost since the job began: it may have ended the job, and
     * will end it once back; what the export serves can no longer be
     * vouched for. */
    if (cpfs_driver_epoch(image->drv) != image->job->epoch) {
        if (!g_atomic_int_exchange(&image->job->lost_logged, TRUE))
            cpfs_error("domain '%s': the libvirt connection of its backup job was lost: "
                       "its files fail with EIO", image->job->domain);
        return -EIO;
    }
    if (image->stream)
        return cpfs_stream_read(image->stream, offset, length, buf);
    return cpfs_image_read_direct(image, offset, length, buf);
}

int
cpfs_image_read_direct(CpfsImage *image, guint64 offset, gsize length, guint8 *buf)
{
    g_autoptr(GArray) reads = g_array_new(FALSE, FALSE, sizeof(CpfsDiskRead));
    gint64 deadline = g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US;

    memset(buf, 0, length);
    if (image->format == CPFS_IMAGE_QCOW2)
        cpfs_qcow2_read(image->disk->qcow2, offset, length, buf, reads);
    else
        cpfs_extent_map_raw_reads(image->disk->allocated, offset, length, reads);
    if (reads->len == 0)
        return 0;
    return cpfs_nbd_read(image->disk->export, buf, (const CpfsDiskRead *)(void *)reads->data,
                         reads->len, deadline);
}

gint64
cpfs_image_seek(CpfsImage *image, guint64 offset, gboolean data)
{
    guint64 size = cpfs_image_size(image);
    gint64 found;

    if (image->format == CPFS_IMAGE_RAW) {
        found = cpfs_extent_map_seek(image->disk->allocated, offset, data);
        return found < 0 ? -ENXIO : found;
    }
    /* A qcow2 file is data from end to end. */
    if (offset >= size)
        return -ENXIO;
    return data ? (gint64)offset : (gint64)size;
}
