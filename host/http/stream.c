#include "http/stream.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "base/alloc.h"
#include "http/conn.h"
#include "observe/metrics.h"

struct mf_stream {
    int refs;
    char *buf; /* NULL while empty: an idle stream holds no buffer */
    size_t head, len, cap;
    int ended, ok; /* the producer's end */
    int gone;      /* the consumer's */
    void (*room_fn)(void *ud);
    void *room_ud;
    void (*gone_fn)(void *ud);
    void *gone_ud;
    void (*data_fn)(void *ud);
    void *data_ud;
    void (*end_fn)(void *ud);
    void *end_ud;
    /* Sent by libmicrohttpd (mf_stream_response). */
    struct MHD_Connection *conn;
    int suspended;
    int watched; /* the peer is watched (http/conn.c) */
};

static atomic_long streams_open;
static atomic_ullong stream_bytes;

mf_stream_t *mf_stream_new(void)
{
    mf_stream_t *s = mf_xcalloc(1, sizeof *s);
    s->refs = 1;
    atomic_fetch_add_explicit(&streams_open, 1, memory_order_relaxed);
    return s;
}

void mf_stream_ref(mf_stream_t *s)
{
    s->refs++;
}

void mf_stream_unref(mf_stream_t *s)
{
    if (--s->refs > 0)
        return;
    free(s->buf);
    free(s);
    atomic_fetch_sub_explicit(&streams_open, 1, memory_order_relaxed);
}

/* ---- the producer ---- */

static void notify_data(mf_stream_t *s)
{
    void (*fn)(void *) = s->data_fn;
    if (fn)
        fn(s->data_ud);
}

static void notify_room(mf_stream_t *s)
{
    void (*fn)(void *) = s->room_fn;
    s->room_fn = NULL; /* once */
    if (fn)
        fn(s->room_ud);
}

size_t mf_stream_write(mf_stream_t *s, const char *p, size_t n)
{
    if (s->gone || s->ended || n == 0)
        return 0;
    size_t take = MF_STREAM_BUFFER - s->len;
    if (take > n)
        take = n;
    if (take == 0)
        return 0;
    if (s->head + s->len + take > s->cap) {
        if (s->head) { /* what was sent leaves room at the front */
            memmove(s->buf, s->buf + s->head, s->len);
            s->head = 0;
        }
        if (s->len + take > s->cap) {
            size_t cap = s->cap ? s->cap : 1024;
            while (cap < s->len + take)
                cap *= 2;
            if (cap > MF_STREAM_BUFFER)
                cap = MF_STREAM_BUFFER;
            s->buf = mf_xrealloc(s->buf, cap);
            s->cap = cap;
        }
    }
    memcpy(s->buf + s->head + s->len, p, take);
    s->len += take;
    notify_data(s);
    return take;
}

int mf_stream_gone(const mf_stream_t *s)
{
    return s->gone;
}

void mf_stream_on_room(mf_stream_t *s, void (*fn)(void *ud), void *ud)
{
    s->room_fn = fn;
    s->room_ud = ud;
}

void mf_stream_on_gone(mf_stream_t *s, void (*fn)(void *ud), void *ud)
{
    s->gone_fn = fn;
    s->gone_ud = ud;
}

void mf_stream_end(mf_stream_t *s, int ok)
{
    if (s->ended)
        return;
    s->ended = 1;
    s->ok = ok;
    s->room_fn = NULL;
    s->gone_fn = NULL;
    notify_data(s);
    void (*fn)(void *) = s->end_fn;
    s->end_fn = NULL;
    if (fn)
        fn(s->end_ud);
}

int mf_stream_ended(const mf_stream_t *s)
{
    return s->ended;
}

void mf_stream_on_end(mf_stream_t *s, void (*fn)(void *ud), void *ud)
{
    s->end_fn = fn;
    s->end_ud = ud;
}

/* ---- the consumer ---- */

mf_stream_state_t mf_stream_state(const mf_stream_t *s)
{
    if (s->len)
        return MF_STREAM_DATA;
    if (s->ended)
        return s->ok ? MF_STREAM_ENDED : MF_STREAM_FAILED;
    return MF_STREAM_EMPTY;
}

size_t mf_stream_read(mf_stream_t *s, char *buf, size_t max)
{
    size_t n = s->len < max ? s->len : max;
    if (!n)
        return 0;
    memcpy(buf, s->buf + s->head, n);
    s->head += n;
    s->len -= n;
    if (!s->len) {
        free(s->buf);
        s->buf = NULL;
        s->head = s->cap = 0;
    }
    atomic_fetch_add_explicit(&stream_bytes, n, memory_order_relaxed);
    if (s->room_fn && s->len <= MF_STREAM_BUFFER / 2)
        notify_room(s);
    return n;
}

void mf_stream_on_data(mf_stream_t *s, void (*fn)(void *ud), void *ud)
{
    s->data_fn = fn;
    s->data_ud = ud;
}

void mf_stream_leave(mf_stream_t *s)
{
    if (s->gone)
        return;
    s->gone = 1;
    s->data_fn = NULL;
    free(s->buf);
    s->buf = NULL;
    s->head = s->len = s->cap = 0;
    s->room_fn = NULL;
    void (*fn)(void *) = s->gone_fn;
    s->gone_fn = NULL;
    if (fn)
        fn(s->gone_ud);
}

/* ---- the stream sent by libmicrohttpd ---- */

static void resume(void *ud)
{
    mf_stream_t *s = ud;
    if (s->suspended) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
}

/* The peer of a suspended stream's connection left: libmicrohttpd, which watches no suspended
 * connection, closes it once resumed (the reader cuts the body). */
static void on_peer_gone(void *ud)
{
    mf_stream_t *s = ud;
    resume(s);
    mf_stream_leave(s);
}

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    mf_stream_t *s = cls;
    (void)pos;
    if (s->gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    switch (mf_stream_state(s)) {
    case MF_STREAM_DATA:
        return (ssize_t)mf_stream_read(s, buf, max);
    case MF_STREAM_ENDED:
        return MHD_CONTENT_READER_END_OF_STREAM;
    case MF_STREAM_FAILED:
        return MHD_CONTENT_READER_END_WITH_ERROR;
    case MF_STREAM_EMPTY:
        break;
    }
    /* Nothing to send: returning 0 alone would have the daemon ask again on every run. */
    s->suspended = 1;
    MHD_suspend_connection(s->conn);
    return 0;
}

static void release_body(void *cls)
{
    mf_stream_unref(cls);
}

struct MHD_Response *mf_stream_response(mf_stream_t *s, struct MHD_Connection *conn)
{
    /* The block is where libmicrohttpd reads an unframed body (an HTTP/1.0 client's); a
     * chunked one is read into the connection's own buffer. Small: every open stream has one. */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 2048, read_body, s, release_body);
    if (!resp)
        return NULL;
    mf_stream_ref(s);
    s->conn = conn;
    mf_stream_on_data(s, resume, s);
    s->watched = mf_http_conn_on_peer_gone(conn, on_peer_gone, s) == 0;
    return resp;
}

void mf_stream_completed(mf_stream_t *s)
{
    if (s->watched) {
        mf_http_conn_on_peer_gone(s->conn, NULL, NULL);
        s->watched = 0;
    }
    s->suspended = 0;
    s->conn = NULL;
    mf_stream_leave(s);
}

/* ---- metrics ---- */

static void collect(void *ud, mf_metrics_writer_t *w)
{
    (void)ud;
    mf_metrics_family(w, "mayfly_streams_open", "gauge",
                      "Streamed responses open now (their runs not ended or their clients not "
                      "yet done).");
    mf_metrics_sample(w, "mayfly_streams_open", NULL,
                      (double)atomic_load_explicit(&streams_open, memory_order_relaxed));
    mf_metrics_family(w, "mayfly_stream_bytes_total", "counter",
                      "Bytes of streamed response bodies handed to connections.");
    mf_metrics_sample(w, "mayfly_stream_bytes_total", NULL,
                      (double)atomic_load_explicit(&stream_bytes, memory_order_relaxed));
}

void mf_stream_metrics_register(void)
{
    mf_metrics_add_collector(collect, NULL);
}
