/* A streamed response body: a bounded buffer between the run that writes it (the producer) and
 * the connection that sends it (the consumer), both on one worker thread. The producer waits
 * when the buffer is full and learns when the client has gone; the consumer waits when it is
 * empty. Memory per stream: at most MF_STREAM_BUFFER bytes while the client lags, none while
 * the stream is idle (the buffer is freed whenever it empties). */
#ifndef MF_HTTP_STREAM_H
#define MF_HTTP_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Response;

/* What a stream buffers before its writer waits. */
#define MF_STREAM_BUFFER (64 * 1024)

typedef struct mf_stream mf_stream_t;

typedef enum {
    MF_STREAM_EMPTY,  /* nothing to send yet; the producer goes on */
    MF_STREAM_DATA,   /* bytes to send */
    MF_STREAM_ENDED,  /* the producer ended and everything was read: end the body */
    MF_STREAM_FAILED, /* the producer failed: cut the response (no terminating chunk) */
} mf_stream_state_t;

/* A new stream with one reference, the producer's. */
mf_stream_t *mf_stream_new(void);
void mf_stream_ref(mf_stream_t *s);
void mf_stream_unref(mf_stream_t *s); /* the last one frees it */

/* ---- the producer ---- */

/* Buffers what fits of p (n bytes) below MF_STREAM_BUFFER. Returns how many bytes it took: 0
 * when the buffer is full or the consumer has gone. */
size_t mf_stream_write(mf_stream_t *s, const char *p, size_t n);
/* 1 once the consumer has gone (the client left): nothing written is sent any more. */
int mf_stream_gone(const mf_stream_t *s);
/* fn(ud) is called once, when the buffer has room again (half of it free). fn NULL: no call.
 * Replaces an earlier one. */
void mf_stream_on_room(mf_stream_t *s, void (*fn)(void *ud), void *ud);
/* fn(ud) is called once, when the consumer goes (mf_stream_leave) before the producer ended. */
void mf_stream_on_gone(mf_stream_t *s, void (*fn)(void *ud), void *ud);
/* The producer is done: ok ends the body once it is sent; !ok cuts it. */
void mf_stream_end(mf_stream_t *s, int ok);
/* 1 once the producer ended. */
int mf_stream_ended(const mf_stream_t *s);
/* fn(ud) is called once, when the producer ends (last in mf_stream_end): for what must outlive
 * the producer's use of it (the request a run still reads after its client left). */
void mf_stream_on_end(mf_stream_t *s, void (*fn)(void *ud), void *ud);

/* ---- the consumer ---- */

mf_stream_state_t mf_stream_state(const mf_stream_t *s);
/* Takes up to max bytes into buf; returns how many. */
size_t mf_stream_read(mf_stream_t *s, char *buf, size_t max);
/* fn(ud) is called when data arrives or the producer ends. fn NULL: no call. */
void mf_stream_on_data(mf_stream_t *s, void (*fn)(void *ud), void *ud);
/* The consumer has gone: the producer's writes take nothing from now on, and its gone callback
 * runs. */
void mf_stream_leave(mf_stream_t *s);

/* ---- the stream sent by libmicrohttpd ---- */

/* The libmicrohttpd response that sends s to conn as it is written: chunked (or, to an
 * HTTP/1.0 client, until the connection closes). While s is empty the connection is suspended
 * and its peer watched (http/conn.c): a client that leaves makes s gone at once. The response
 * holds a reference to s. */
struct MHD_Response *mf_stream_response(mf_stream_t *s, struct MHD_Connection *conn);
/* The request s was the body of is over (libmicrohttpd's completion): the consumer leaves. */
void mf_stream_completed(mf_stream_t *s);

/* Registers /metrics' families of streams: those open, the bytes sent. At start-up. */
void mf_stream_metrics_register(void);

#endif
