/* Reading a backup job's NBD export with libnbd (driver/nbd.h).
 *
 * Thread model.  Many FUSE workers read one export at once.  A libnbd
 * handle is thread-safe, but its state machine must be driven (poll, then
 * notify) by one thread at a time, and once a caller has returned nothing
 * may write into its buffer any more.  So an export is a pool of
 * connections under exp->lock: a reader borrows as many idle connections
 * as it has requests (at least one, waiting for it until its deadline),
 * issues its requests over them, several in flight on each, and drives
 * only those connections with poll() until every request completed or the
 * deadline passed; then it gives them back.  exp->lock is never held while
 * waiting on the network.
 *
 * A connection that failed, or left requests unanswered at a deadline, is
 * never driven again: its requests might still land in a buffer whose
 * owner gave up on it.  The export is then broken, and every later call
 * fails at once with EIO.  What a request's completion callback writes
 * lives in a reference-counted batch that each request holds, so that
 * libnbd may complete or free an abandoned request at any time (at the
 * latest in cpfs_nbd_close) without touching freed memory. */
#include "driver/nbd.h"
#include "util/log.h"

#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <string.h>

/* No read request is larger (FUSE's own reads are at most 1 MiB). */
#define REQUEST_MAX (256 * 1024)
/* Requests in flight on one connection, per reader. */
#define IN_FLIGHT_MAX 8
#define CONNECTIONS_MAX 16
/* Block status asks about at most this much at a time (NBD lengths are
 * 32-bit). */
#define STATUS_SPAN ((guint64)1 << 30)

struct _CpfsNbdExport {
    char *uri;
    char *bitmap_context;       /* "qemu:dirty-bitmap:NAME", or NULL */
    gboolean has_bitmap;        /* the server agreed to it */
    guint64 size;
    guint n;
    struct nbd_handle *handles[CONNECTIONS_MAX];

    GMutex lock;                /* guards busy */
    GCond idle;                 /* a connection came back */
    gboolean busy[CONNECTIONS_MAX];
    gint broken;                /* atomic: a connection failed */
};

/* ---- connecting ---- */

/* Waits for I/O on the N HANDLES (FDS filled here) until DEADLINE, and
 * lets libnbd progress.  0, or -EIO when a handle failed or time ran out
 * (logged with WHAT). */
static int
drive(struct nbd_handle **handles, guint n, gint64 deadline, const char *what)
{
    struct pollfd fds[CONNECTIONS_MAX];
    gint64 left = deadline - g_get_monotonic_time();
    int r;

    if (left <= 0) {
        cpfs_error("%s: no answer from the NBD server in time", what);
        return -EIO;
    }
    for (guint i = 0; i < n; i++) {
        unsigned dir = nbd_aio_get_direction(handles[i]);

        fds[i].fd = nbd_aio_get_fd(handles[i]);
        fds[i].events = ((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
                        ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0);
        fds[i].revents = 0;
        if (fds[i].fd < 0) {
            cpfs_error("%s: NBD connection closed: %s", what, nbd_get_error());
            return -EIO;
        }
    }
    r = poll(fds, n, (int)MIN((left + 999) / 1000, G_MAXINT));
    if (r < 0 && errno != EINTR) {
        cpfs_error("%s: poll: %s", what, g_strerror(errno));
        return -EIO;
    }
    for (guint i = 0; r > 0 && i < n; i++) {
        /* A hang-up is read: libnbd learns of it by reading. */
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
            nbd_aio_notify_read(handles[i]) < 0) {
            cpfs_error("%s: NBD connection failed: %s", what, nbd_get_error());
            return -EIO;
        }
        if ((fds[i].revents & POLLOUT) && nbd_aio_notify_write(handles[i]) < 0) {
            cpfs_error("%s: NBD connection failed: %s", what, nbd_get_error());
            return -EIO;
        }
    }
    return 0;
}

/* One connection to TARGET, negotiated before DEADLINE; NULL with *ERROR. */
static struct nbd_handle *
connect_one(const CpfsNbdTarget *target, const char *bitmap_context, gint64 deadline,
            char **error)
{
    struct nbd_handle *h = nbd_create();
    int rc;

    if (!h) {
        *error = g_strdup_printf("cannot create an NBD handle: %s", nbd_get_error());
        return NULL;
    }
    rc = nbd_set_export_name(h, target->export_name);
    if (rc == 0)
        rc = nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION);
    if (rc == 0 && bitmap_context)
        rc = nbd_add_meta_context(h, bitmap_context);
    if (rc == 0) {
        if (target->socket_path) {
            rc = nbd_aio_connect_unix(h, target->socket_path);
        } else {
            g_autofree char *port = g_strdup_printf("%d", target->tcp_port);

            rc = nbd_aio_connect_tcp(h, target->tcp_host, port);
        }
    }
    while (rc == 0 && !nbd_aio_is_ready(h)) {
        if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h))
            rc = -1;
        else if (drive(&h, 1, deadline, "connect") < 0)
            rc = -1;
    }
    if (rc < 0) {
        const char *why = nbd_get_error();

        *error = g_strdup(why && *why ? why : "no answer before the deadline");
        nbd_close(h);
        return NULL;
    }
    return h;
}

/* TARGET's URI, as nbdinfo and nbdcopy take it. */
static char *
target_uri(const CpfsNbdTarget *target)
{
    g_autofree char *name = g_uri_escape_string(target->export_name, NULL, FALSE);

    if (target->socket_path) {
        g_autofree char *socket = g_uri_escape_string(target->socket_path, "/", FALSE);

        return g_strdup_printf("nbd+unix:///%s?socket=%s", name, socket);
    }
    return g_strdup_printf("nbd://%s:%d/%s", target->tcp_host, target->tcp_port, name);
}

CpfsNbdExport *
cpfs_nbd_open(const CpfsNbdTarget *target, guint connections, gint64 deadline, char **error)
{
    g_autoptr(CpfsNbdExport) exp = g_new0(CpfsNbdExport, 1);
    int64_t size;

    g_mutex_init(&exp->lock);
    g_cond_init(&exp->idle);
    exp->uri = target_uri(target);
    if (target->bitmap)
        exp->bitmap_context = g_strconcat("qemu:dirty-bitmap:", target->bitmap, NULL);
    for (guint i = 0; i < CLAMP(connections, 1, CONNECTIONS_MAX); i++) {
        g_autofree char *why = NULL;

        exp->handles[i] = connect_one(target, exp->bitmap_context, deadline, &why);
        if (!exp->handles[i]) {
            *error = g_strdup_printf("cannot connect to %s: %s", exp->uri, why);
            return NULL;
        }
        exp->n++;
    }
    size = nbd_get_size(exp->handles[0]);
    if (size < 0) {
        *error = g_strdup_printf("%s: cannot get the size: %s", exp->uri, nbd_get_error());
        return NULL;
    }
    exp->size = (guint64)size;
    /* Asking for a context the server lacks is no error: it is just left
     * out of the negotiation. */
    exp->has_bitmap = exp->bitmap_context &&
                      nbd_can_meta_context(exp->handles[0], exp->bitmap_context) == 1;
    return g_steal_pointer(&exp);
}

void
cpfs_nbd_close(CpfsNbdExport *exp)
{
    if (!exp)
        return;
    for (guint i = 0; i < exp->n; i++) {
        /* A polite goodbye where it cannot block; then the socket closes. */
        if (!g_atomic_int_get(&exp->broken) && nbd_aio_is_ready(exp->handles[i]))
            nbd_aio_disconnect(exp->handles[i], 0);
        nbd_close(exp->handles[i]);
    }
    g_mutex_clear(&exp->lock);
    g_cond_clear(&exp->idle);
    g_free(exp->uri);
    g_free(exp->bitmap_context);
    g_free(exp);
}

guint64
cpfs_nbd_size(CpfsNbdExport *exp)
{
    return exp->size;
}

const char *
cpfs_nbd_uri(CpfsNbdExport *exp)
{
    return exp->uri;
}

/* ---- the pool ---- */

/* Borrows up to WANT idle connections (at least one, waiting until
 * DEADLINE) into SLOTS; their number, or 0 (also once EXP is broken). */
static guint
borrow(CpfsNbdExport *exp, guint want, gint64 deadline, guint *slots)
{
    guint got = 0;

    g_mutex_lock(&exp->lock);
    for (;;) {
        /* Checked under the lock: a failed reader marks the export broken
         * before it gives its connections back, so nobody ever drives a
         * connection whose abandoned requests target a freed buffer. */
        if (g_atomic_int_get(&exp->broken))
            break;
        for (guint i = 0; i < exp->n && got < want; i++) {
            if (!exp->busy[i]) {
                exp->busy[i] = TRUE;
                slots[got++] = i;
            }
        }
        if (got > 0 || !g_cond_wait_until(&exp->idle, &exp->lock, deadline))
            break;
    }
    g_mutex_unlock(&exp->lock);
    return got;
}

static void
give_back(CpfsNbdExport *exp, const guint *slots, guint n)
{
    g_mutex_lock(&exp->lock);
    for (guint i = 0; i < n; i++)
        exp->busy[slots[i]] = FALSE;
    g_cond_broadcast(&exp->idle);
    g_mutex_unlock(&exp->lock);
}

/* Marks EXP broken after RC < 0; returns RC. */
static int
mark_failed(CpfsNbdExport *exp, int rc)
{
    if (rc < 0 && !g_atomic_int_exchange(&exp->broken, TRUE))
        cpfs_error("%s: the NBD export is broken; its reads fail from now on", exp->uri);
    return rc;
}

/* ---- a batch of requests ---- */

/* What one reader's requests share; every request in libnbd's hands holds
 * a reference. */
typedef struct {
    guint pending[CONNECTIONS_MAX];   /* requests in flight per borrowed slot */
    guint completed;
    int error;                        /* the first request's errno, or 0 */
    CpfsExtentMap *maps[2];           /* block status: allocated, changed */
    guint64 ends[2];                  /* block status: how far each map got */
    const char *bitmap_context;
} Batch;

/* A request's reference to its batch and the slot it runs on. */
typedef struct {
    Batch *batch;
    guint slot;
} Request;

static void
batch_free(Batch *batch)
{
    cpfs_extent_map_free(batch->maps[0]);
    cpfs_extent_map_free(batch->maps[1]);
}

static void
request_free(void *user_data)
{
    Request *req = user_data;

    g_rc_box_release_full(req->batch, (GDestroyNotify)batch_free);
    g_free(req);
}

/* Runs on the thread driving the connection (or in nbd_close). */
static int
request_done(void *user_data, int *error)
{
    Request *req = user_data;

    if (*error && !req->batch->error)
        req->batch->error = *error;
    req->batch->pending[req->slot]--;
    req->batch->completed++;
    return 1;  /* retire the command: nobody asks for it again */
}

static nbd_completion_callback
completion_of(Batch *batch, guint slot)
{
    Request *req = g_new0(Request, 1);

    req->batch = g_rc_box_acquire(batch);
    req->slot = slot;
    return (nbd_completion_callback){ .callback = request_done, .user_data = req,
                                      .free = request_free };
}

/* ---- reading ---- */

typedef struct {
    guint8 *dst;
    guint64 offset;
    gsize length;
} Chunk;

/* READS cut into chunks of at most REQUEST_MAX; NULL if one lies outside
 * the export. */
static GArray *
chunks_of(CpfsNbdExport *exp, guint8 *buf, const CpfsDiskRead *reads, guint n)
{
    g_autoptr(GArray) chunks = g_array_new(FALSE, FALSE, sizeof(Chunk));

    for (guint i = 0; i < n; i++) {
        const CpfsDiskRead *r = &reads[i];

        if (r->disk_offset > exp->size || r->length > exp->size - r->disk_offset) {
            cpfs_error("%s: read of %zu bytes at %" G_GUINT64_FORMAT " is past the end",
                       exp->uri, r->length, r->disk_offset);
            return NULL;
        }
        for (gsize done = 0; done < r->length; done += REQUEST_MAX) {
            Chunk c = { buf + r->buf_offset + done, r->disk_offset + done,
                        MIN(REQUEST_MAX, r->length - done) };

            g_array_append_val(chunks, c);
        }
    }
    return g_steal_pointer(&chunks);
}

/* Issues CHUNKS over the borrowed SLOTS and drives them to completion
 * before DEADLINE: 0 or -EIO. */
static int
transfer(CpfsNbdExport *exp, const guint *slots, guint n_slots, GArray *chunks,
         gint64 deadline)
{
    Batch *batch = g_rc_box_new0(Batch);
    struct nbd_handle *handles[CONNECTIONS_MAX];
    guint next = 0;
    int rc = 0;

    for (guint s = 0; s < n_slots; s++)
        handles[s] = exp->handles[slots[s]];
    while (rc == 0 && batch->completed < chunks->len && !batch->error) {
        for (guint s = 0; s < n_slots && rc == 0; s++) {
            while (next < chunks->len && batch->pending[s] < IN_FLIGHT_MAX) {
                const Chunk *c = &g_array_index(chunks, Chunk, next);
                nbd_completion_callback cb = completion_of(batch, s);

                /* libnbd frees the callback's data even when this fails. */
                if (nbd_aio_pread(handles[s], c->dst, c->length, c->offset, cb, 0) < 0) {
                    cpfs_error("%s: read: %s", exp->uri, nbd_get_error());
                    rc = -EIO;
                    break;
                }
                batch->pending[s]++;
                next++;
            }
        }
        if (rc == 0 && batch->completed < chunks->len)
            rc = drive(handles, n_slots, deadline, exp->uri);
    }
    if (rc == 0 && batch->error) {
        cpfs_error("%s: read: %s", exp->uri, g_strerror(batch->error));
        rc = -EIO;
    }
    g_rc_box_release_full(batch, (GDestroyNotify)batch_free);
    return rc;
}

int
cpfs_nbd_read(CpfsNbdExport *exp, guint8 *buf, const CpfsDiskRead *reads, guint n,
              gint64 deadline)
{
    g_autoptr(GArray) chunks = NULL;
    guint slots[CONNECTIONS_MAX];
    guint n_slots;
    int rc;

    if (g_atomic_int_get(&exp->broken))
        return -EIO;
    chunks = chunks_of(exp, buf, reads, n);
    if (!chunks)
        return -EIO;
    if (chunks->len == 0)
        return 0;
    n_slots = borrow(exp, MIN(chunks->len, CONNECTIONS_MAX), deadline, slots);
    if (n_slots == 0) {
        if (!g_atomic_int_get(&exp->broken))
            cpfs_error("%s: no NBD connection came free in time", exp->uri);
        return -EIO;
    }
    rc = mark_failed(exp, transfer(exp, slots, n_slots, chunks, deadline));
    give_back(exp, slots, n_slots);
    return rc;
}

/* ---- block status ---- */

/* Marks what one context's extents say into the batch's map for it. */
static int
extents_seen(void *user_data, const char *context, uint64_t offset, uint32_t *entries,
             size_t n_entries, int *error)
{
    Request *req = user_data;
    Batch *batch = req->batch;
    int which = strcmp(context, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0 ? 0
                : g_strcmp0(context, batch->bitmap_context) == 0 ? 1 : -1;

    if (which < 0 || *error || !batch->maps[which])
        return 0;
    for (size_t i = 0; i + 1 < n_entries; i += 2) {
        guint32 length = entries[i];
        guint32 flags = entries[i + 1];

        /* base:allocation flags a hole with bit 0; a bitmap marks dirty
         * with bit 0.  Data is what is not a hole. */
        if (which == 0 ? !(flags & LIBNBD_STATE_HOLE) : (flags & 1))
            cpfs_extent_map_mark(batch->maps[which], offset, length);
        offset += length;
    }
    batch->ends[which] = MAX(batch->ends[which], offset);
    return 0;
}

/* One block status request at OFFSET on SLOT, driven to its end. */
static int
status_step(CpfsNbdExport *exp, guint slot, Batch *batch, guint64 offset, gint64 deadline)
{
    struct nbd_handle *h = exp->handles[slot];
    Request *ext = g_new0(Request, 1);
    nbd_extent_callback extent_cb;
    guint target = batch->completed + 1;
    int rc = 0;

    ext->batch = g_rc_box_acquire(batch);
    extent_cb = (nbd_extent_callback){ .callback = extents_seen, .user_data = ext,
                                       .free = request_free };
    /* Slot 0 of the batch counts this connection's requests. */
    if (nbd_aio_block_status(h, MIN(STATUS_SPAN, exp->size - offset), offset, extent_cb,
                             completion_of(batch, 0), 0) < 0) {
        cpfs_error("%s: block status: %s", exp->uri, nbd_get_error());
        return -EIO;
    }
    batch->pending[0]++;
    while (rc == 0 && batch->completed < target)
        rc = drive(&h, 1, deadline, exp->uri);
    if (rc == 0 && batch->error) {
        cpfs_error("%s: block status: %s", exp->uri, g_strerror(batch->error));
        rc = -EIO;
    }
    return rc;
}

/* Walks the whole export's block status on SLOT into BATCH's maps. */
static int
status_walk(CpfsNbdExport *exp, guint slot, Batch *batch, gint64 deadline)
{
    guint64 offset = 0;

    while (offset < exp->size) {
        guint64 reached;
        int rc = status_step(exp, slot, batch, offset, deadline);

        if (rc < 0)
            return rc;
        /* Both contexts come in one reply, but each may stop short: go on
         * from the one that got less far. */
        reached = batch->ends[0];
        if (batch->maps[1])
            reached = MIN(reached, batch->ends[1]);
        if (reached <= offset) {
            cpfs_error("%s: block status at %" G_GUINT64_FORMAT " made no progress", exp->uri,
                       offset);
            return -EIO;
        }
        offset = reached;
    }
    return 0;
}

int
cpfs_nbd_extents(CpfsNbdExport *exp, gint64 deadline, CpfsExtentMap **allocated,
                 CpfsExtentMap **changed)
{
    Batch *batch;
    guint slot;
    int rc;

    if (changed && !exp->has_bitmap) {
        cpfs_error("%s: the export has no dirty bitmap %s", exp->uri,
                   exp->bitmap_context ? exp->bitmap_context : "(none asked for)");
        return -ESTALE;
    }
    if (g_atomic_int_get(&exp->broken))
        return -EIO;
    if (borrow(exp, 1, deadline, &slot) == 0) {
        if (!g_atomic_int_get(&exp->broken))
            cpfs_error("%s: no NBD connection came free in time", exp->uri);
        return -EIO;
    }
    batch = g_rc_box_new0(Batch);
    batch->bitmap_context = exp->bitmap_context;
    batch->maps[0] = cpfs_extent_map_new(exp->size);
    if (changed)
        batch->maps[1] = cpfs_extent_map_new(exp->size);
    rc = mark_failed(exp, status_walk(exp, slot, batch, deadline));
    give_back(exp, &slot, 1);
    if (rc == 0) {
        *allocated = g_steal_pointer(&batch->maps[0]);
        if (changed)
            *changed = g_steal_pointer(&batch->maps[1]);
    }
    g_rc_box_release_full(batch, (GDestroyNotify)batch_free);
    return rc;
}
