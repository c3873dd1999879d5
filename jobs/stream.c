/* Read-ahead for an image read from start to end.  Tools read a file one
 * piece after the other (cp of a sparse file 128 KiB at a time) and wait
 * for each, so without it every piece waits for a round trip to QEMU.  A
 * sequential reader has the next chunks of the file fetched by a worker
 * while it consumes the current one.
 *
 * Thread model: FUSE workers call cpfs_stream_read; the jobs' pool of
 * fill workers fills chunks.  A chunk being filled is owned by its worker
 * (only it writes the data); everything else is under the stream's lock,
 * which is never held across an NBD read.  A stream is freed only when no
 * fill is in flight. */
#include "jobs/job.h"

#include <errno.h>
#include <string.h>

#define CHUNK_SIZE (1024 * 1024)
/* Chunks fetched ahead of the one being read. */
#define AHEAD 2
/* The chunks a read may span (2), and those ahead of it. */
#define SLOTS (2 + AHEAD)

typedef struct {
    gboolean used;
    gboolean busy;          /* a worker fills it */
    guint64 index;          /* the file's chunk INDEX */
    gsize len;              /* bytes of the file it holds */
    int rc;                 /* of its fill */
    guint8 *data;           /* CHUNK_SIZE bytes */
} Chunk;

struct _CpfsStream {
    CpfsImage *image;
    GThreadPool *pool;
    GMutex lock;
    GCond filled;
    Chunk chunks[SLOTS];
    guint64 next;           /* where the last read ended */
    guint pending;          /* fills in flight */
};

typedef struct {
    CpfsStream *stream;
    Chunk *chunk;
} Fill;

CpfsStream *
cpfs_stream_new(CpfsImage *image, GThreadPool *pool)
{
    CpfsStream *s = g_new0(CpfsStream, 1);

    s->image = image;
    s->pool = pool;
    g_mutex_init(&s->lock);
    g_cond_init(&s->filled);
    return s;
}

void
cpfs_stream_free(CpfsStream *s)
{
    if (!s)
        return;
    /* Fills in flight write into the chunks: wait for them (each read has
     * its own deadline, so this ends). */
    g_mutex_lock(&s->lock);
    while (s->pending)
        g_cond_wait(&s->filled, &s->lock);
    g_mutex_unlock(&s->lock);
    for (guint i = 0; i < SLOTS; i++)
        g_free(s->chunks[i].data);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->filled);
    g_free(s);
}

/* The pool's worker: fills one chunk. */
void
cpfs_stream_fill(gpointer data, gpointer user_data G_GNUC_UNUSED)
{
    Fill *fill = data;
    CpfsStream *s = fill->stream;
    Chunk *c = fill->chunk;
    int rc = cpfs_image_read_direct(s->image, c->index * CHUNK_SIZE, c->len, c->data);

    g_mutex_lock(&s->lock);
    c->rc = rc;
    c->busy = FALSE;
    s->pending--;
    g_cond_broadcast(&s->filled);
    g_mutex_unlock(&s->lock);
    g_free(fill);
}

/* The slot holding chunk INDEX, or NULL; the lock is held. */
static Chunk *
find_chunk(CpfsStream *s, guint64 index)
{
    for (guint i = 0; i < SLOTS; i++) {
        if (s->chunks[i].used && s->chunks[i].index == index)
            return &s->chunks[i];
    }
    return NULL;
}

/* Starts filling chunk INDEX into a slot that holds none of the chunks
 * FIRST..LAST (this read's and those ahead of it); the lock is held.  NULL
 * when no slot is free. */
static Chunk *
start_chunk(CpfsStream *s, guint64 index, guint64 first, guint64 last)
{
    guint64 size = cpfs_image_size(s->image);
    Chunk *c = NULL;
    Fill *fill;

    for (guint i = 0; i < SLOTS && !c; i++) {
        Chunk *slot = &s->chunks[i];

        if (!slot->used || (!slot->busy && (slot->index < first || slot->index > last)))
            c = slot;
    }
    if (!c)
        return NULL;
    if (!c->data)
        c->data = g_malloc(CHUNK_SIZE);
    c->used = TRUE;
    c->busy = TRUE;
    c->index = index;
    c->len = (gsize)MIN((guint64)CHUNK_SIZE, size - index * CHUNK_SIZE);
    s->pending++;
    fill = g_new0(Fill, 1);
    fill->stream = s;
    fill->chunk = c;
    g_thread_pool_push(s->pool, fill, NULL);
    return c;
}

/* Copies [OFFSET, OFFSET + LENGTH) from the chunks FIRST..LAST, waiting
 * for their fills until DEADLINE; the lock is held.  0, a fill's error,
 * or 1 when a chunk is missing, or was taken for another while this waited
 * (concurrent readers of one file, as qemu-img's): the caller reads
 * directly. */
static int
copy_from_chunks(CpfsStream *s, guint64 offset, gsize length, guint8 *buf, guint64 first,
                 guint64 last, gint64 deadline)
{
    for (guint64 index = first; index <= last; index++) {
        Chunk *c = find_chunk(s, index);
        guint64 start = MAX(offset, index * CHUNK_SIZE);
        guint64 end = MIN(offset + length, index * CHUNK_SIZE + CHUNK_SIZE);

        if (!c)
            return 1;
        while (c->used && c->index == index && c->busy) {
            if (!g_cond_wait_until(&s->filled, &s->lock, deadline))
                break;
        }
        if (!c->used || c->index != index)
            return 1;
        if (c->busy)
            return -EIO;  /* QEMU did not answer in time */
        if (c->rc < 0)
            return c->rc;
        memcpy(buf + (start - offset), c->data + (start - index * CHUNK_SIZE), end - start);
    }
    return 0;
}

int
cpfs_stream_read(CpfsStream *s, guint64 offset, gsize length, guint8 *buf)
{
    gint64 deadline = g_get_monotonic_time() + CPFS_DRIVER_BUDGET_US;
    guint64 size = cpfs_image_size(s->image);
    guint64 first = offset / CHUNK_SIZE;
    guint64 last = (offset + length - 1) / CHUNK_SIZE;
    gboolean sequential;
    int rc = 1;

    g_mutex_lock(&s->lock);
    sequential = offset == s->next || find_chunk(s, first);
    s->next = offset + length;
    if (sequential && last - first < 2) {
        /* The chunks of this read, then those after it. */
        for (guint64 index = first; index <= last + AHEAD; index++) {
            if (index * CHUNK_SIZE < size && !find_chunk(s, index))
                start_chunk(s, index, first, last + AHEAD);
        }
        rc = copy_from_chunks(s, offset, length, buf, first, last, deadline);
    }
    g_mutex_unlock(&s->lock);
    if (rc == 1)
        rc = cpfs_image_read_direct(s->image, offset, length, buf);
    return rc;
}
