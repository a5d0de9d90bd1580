/* What the files of client/ share: the client and a call's record (call.c), the upstreams'
 * breakers and counters (upstream.c), the refusal of this process's own listeners (target.c)
 * and the sockets of calls on a loop (multi.c). Nothing outside client/ includes this. */
#ifndef MF_HTTP_CLIENT_PRIVATE_H
#define MF_HTTP_CLIENT_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "client/http_client.h"
#include "event/loop.h"

/* ---- upstreams (upstream.c): a breaker and counters per host:port, for the whole process ---- */

typedef struct mf_http_upstream mf_http_upstream_t;

/* name's entry ("host:port"), made on first use with a breaker set up from o; past the
 * registry's room, one shared entry without a breaker. Any thread; never freed. */
mf_http_upstream_t *mf_http_client__upstream(const char *name, const mf_options_t *o);
/* Whether the upstream's breaker lets an attempt start at now_ns. */
int mf_http_client__allow(mf_http_upstream_t *u, int64_t now_ns);
/* An attempt ended with status or err after duration_ns: counted, and the breaker told (a
 * transient failure counts against the upstream, anything else closes it). */
void mf_http_client__attempt_done(mf_http_upstream_t *u, int status, mf_http_err_t err,
                                  int transient, int64_t duration_ns);
/* A call ended with err outside an attempt: before any, or in a streamed body after its head
 * (which was counted as the attempt's outcome). */
void mf_http_client__call_refused(mf_http_upstream_t *u, mf_http_err_t err);
/* n bytes of a streamed body came from the upstream. */
void mf_http_client__stream_bytes(mf_http_upstream_t *u, size_t n);

/* ---- this process's own listeners (target.c) ---- */

/* 1 when a is a port of mf_http_client_refuse_port on an address of this machine, with
 * "address:port" in out. */
int mf_http_client__own_listener(const struct sockaddr *a, char *out, size_t outlen);

/* ---- the client and its calls (call.c) ---- */

/* One call: its handle, what it was asked and what it got, attempt after attempt. */
typedef struct mf_http_xfer {
    mf_http_client_t *c;
    CURL *easy;
    mf_http_call_t call; /* what it points to stays the caller's until the call ends */
    mf_http_result_t *res;
    mf_http_upstream_t *u;
    int n; /* attempts made */
    int64_t attempt_start;
    int64_t timeout_ms; /* the attempt's */
    int cut;            /* its timeout is what was left of the request's */
    struct curl_slist *headers;
    mf_span_t *span; /* the attempt's, when the call is traced */
    char errbuf[CURL_ERROR_SIZE];
    char refused[96]; /* the attempt would have connected to this process's own listener */
    mf_buf_t body;    /* the attempt's response body, under MAYFLY_HTTP_MAX_BODY */
    int too_large;
    mf_timer_t backoff;            /* between attempts, when the call waits on a loop */
    struct mf_http_stream *stream; /* a streamed call's (stream.c), which owns its handling */
    int discard; /* its handle has options of its own (a stream's): freed, not kept */
    void (*done)(void *ud, int rc);
    void *ud;
    struct mf_http_xfer *next_free;
} mf_http_xfer_t;

struct mf_http_client {
    const mf_options_t *opts;
    mf_loop_t *loop; /* NULL: calls block in curl_easy_perform */
    CURLM *multi;
    CURLSH *share;               /* DNS and TLS sessions; connections too when blocking */
    mf_timer_t timer;            /* curl's own timeouts */
    mf_http_xfer_t *free_xfers;  /* ended calls, their handles kept for the next */
    struct mf_http_sock **socks; /* by descriptor: the sockets curl opened on the loop */
    int nsocks;
};

/* Sets up a record for call. Returns 0 with *out, or -1 with res->err set. */
int mf_http_client__call_begin(mf_http_client_t *c, mf_http_xfer_t **out,
                               const mf_http_call_t *call, mf_http_result_t *res);
/* The call ended: the body becomes the result's and the record goes back to the client.
 * Returns 0, or -1 with res->err set. */
int mf_http_client__call_end(mf_http_xfer_t *x);
/* Readies the next attempt. Returns 1 when one is to be made, 0 when the call ends without it
 * (the request's budget is spent, or the upstream's breaker is open): res says why, unless an
 * earlier attempt's outcome stands. */
int mf_http_client__attempt_begin(mf_http_xfer_t *x);
/* The attempt ended with rc. Returns the milliseconds to wait before the next attempt, or -1
 * when the call ends with this outcome. */
int64_t mf_http_client__attempt_end(mf_http_xfer_t *x, CURLcode rc);
/* attempt_end in two: the attempt's request headers freed (idempotent; never from inside a
 * libcurl callback), and its outcome read, counted, logged and judged (rc CURLE_OK: the
 * response's head is in, which a streamed call reads before the body). */
void mf_http_client__attempt_release(mf_http_xfer_t *x);
int64_t mf_http_client__attempt_outcome(mf_http_xfer_t *x, CURLcode rc);
/* The kind of error rc is. */
mf_http_err_t mf_http_client__classify(CURLcode rc, int too_large);

/* ---- an attempt's span (span.c) ---- */

/* Begins the client span of the attempt x readies, when its call is traced. */
void mf_http_client__span_begin(mf_http_xfer_t *x);
/* The "traceparent: ..." line the attempt sends into line, or 0 when it sends none. */
int mf_http_client__span_header(const mf_http_xfer_t *x, char *line, size_t size);
/* Ends the attempt's span with its outcome in x->res (aborted: the call ended before one). */
void mf_http_client__span_end(mf_http_xfer_t *x, int aborted);

/* ---- calls on a loop (multi.c) ---- */

/* Makes c's multi handle on first use. Returns 0, or -1 with a reason in err. */
int mf_http_client__multi(mf_http_client_t *c, char *err, size_t errlen);

/* Curl opened fd for a call of c, a client with a loop. */
void mf_http_client__socket_opened(mf_http_client_t *c, curl_socket_t fd);
/* CURLOPT_CLOSESOCKETFUNCTION of a client with a loop (ud: the client). */
int mf_http_client__close_socket(void *ud, curl_socket_t fd);
/* Frees what calls on the loop left: the multi handle, its connections and sockets. */
void mf_http_client__loop_free(mf_http_client_t *c);

/* ---- streamed calls (stream.c) ---- */

/* x, a streamed call's record, left the multi handle with rc. */
void mf_http_client__stream_done(mf_http_xfer_t *x, CURLcode rc);

#endif
