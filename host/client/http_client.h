/* Outbound HTTP calls, the client/ folder's one header: one client per worker with its own
 * pooled keep-alive connections and DNS cache; deadlines, retries with backoff, and a circuit
 * breaker and counters per upstream host:port shared by the whole process. A handler's call
 * waits on its worker's loop and suspends only its run. Two engines make calls: the native one
 * (plain http:// on a loop: native.c, native_conn.c, resolve.c, response.c) and libcurl (the
 * rest); what a call is (attempts, retries, the breaker, spans) is call.c's for both.
 *
 * call.c makes a call and blocks on it, multi.c waits on a loop instead, stream.c hands a
 * response's body over as it arrives, target.c checks where a call goes, upstream.c keeps the
 * breakers and counters, metrics.c shows them in /metrics. */
#ifndef MF_HTTP_CLIENT_H
#define MF_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/options.h"
#include "event/loop.h"
#include "observe/span.h"

/* Why a call got no response. The names are what scripts see. */
typedef enum {
    MF_HTTP_ERR_NONE = 0,
    MF_HTTP_ERR_TIMEOUT,      /* the attempt's timeout or the request's remaining budget */
    MF_HTTP_ERR_RESOLVE,      /* the host name did not resolve */
    MF_HTTP_ERR_CONNECT,      /* refused, unreachable */
    MF_HTTP_ERR_TLS,          /* handshake or certificate verification */
    MF_HTTP_ERR_CIRCUIT_OPEN, /* the upstream's breaker is open: no attempt was made */
    MF_HTTP_ERR_TOO_LARGE,    /* the response body passed MAYFLY_HTTP_MAX_BODY */
    MF_HTTP_ERR_REDIRECT,     /* too many redirects, or one to a scheme not allowed */
    MF_HTTP_ERR_PROTOCOL,     /* not a valid HTTP response */
    MF_HTTP_ERR_IO,           /* the connection broke during the exchange */
    MF_HTTP_ERR_COUNT
} mf_http_err_t;

const char *mf_http_err_name(mf_http_err_t e);

/* Status classes for the counters: 1xx..5xx, and no response at all. */
enum {
    MF_HTTP_CLASS_1XX,
    MF_HTTP_CLASS_2XX,
    MF_HTTP_CLASS_3XX,
    MF_HTTP_CLASS_4XX,
    MF_HTTP_CLASS_5XX,
    MF_HTTP_CLASS_ERROR,
    MF_HTTP_CLASS_COUNT
};

const char *mf_http_class_name(int cls); /* "1xx" .. "5xx", "error" */

typedef struct mf_http_client mf_http_client_t;

/* A client for one thread. With a loop its calls may wait on it (mf_http_client_start); without,
 * they block (mf_http_client_request). Never fails: libcurl handles are made on the first
 * call. */
mf_http_client_t *mf_http_client_new(const mf_options_t *opts, mf_loop_t *loop);
void mf_http_client_free(mf_http_client_t *c);
/* The loop's client, made on first use with opts and freed with the loop. */
mf_http_client_t *mf_http_client_of(mf_loop_t *loop, const mf_options_t *opts);

/* A URL a call may go to: http or https, with a host. Parsed once, for the check, the upstream's
 * name and the engines; the common form without libcurl, which gets its own copy only when it
 * needs one. */
typedef struct {
    void *parsed;       /* libcurl's CURLU, or NULL until needed (mf_http_url_curl, private) */
    char upstream[128]; /* "host:port", lower-case: the breaker's and the counters' key */
    int https;
    int port;
    int host_len;    /* of upstream's host, brackets of an IPv6 address included */
    char *text;      /* the URL as libcurl would give it back, when read without it; or NULL */
    char *target;    /* the request target: path and query ("/" at least) */
    char *authority; /* the Host header's value: host, and the port when not the scheme's */
    char *strings;   /* the block text, target and authority are in */
} mf_http_url_t;

/* Fills target from url. Returns 0, or -1 with a reason in err (target then holds nothing). */
int mf_http_url_parse(mf_http_url_t *target, const char *url, char *err, size_t errlen);
void mf_http_url_free(mf_http_url_t *target); /* idempotent */

typedef struct {
    const char *method;         /* upper-case token */
    const mf_http_url_t *url;   /* from mf_http_url_parse */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; checked by the caller */
    const char *body;           /* NULL: none */
    size_t body_len;
    int64_t timeout_ms;  /* per attempt, > 0 */
    int64_t deadline_ns; /* the incoming request's deadline on mf_now_ns's clock; 0: none */
    int retries;         /* extra attempts on transient failures (the caller decides safety) */
    int max_redirects;   /* 0: a 3xx is the response */
    const char *budget_header; /* when set, the attempt's timeout in ms goes in this header */
    const char *request_id;    /* for the debug log of attempts; may be NULL */
    /* Tracing: with traced set, each attempt is a client span under trace_parent, and with
     * propagate its traceparent header names that span (the caller then adds none). */
    int traced, propagate;
    mf_span_context_t trace_parent;
} mf_http_call_t;

typedef struct {
    int status; /* 0 when err is set */
    mf_http_err_t err;
    char message[256]; /* what went wrong, for people */
    int attempts;
    /* Response headers as "name: value" lines of the last response, names lower-cased, and the
     * body: both owned by the result (mf_http_result_free). */
    char *headers;
    size_t headers_len;
    char *body;
    size_t body_len;
} mf_http_result_t;

/* Makes the call, with retries and the upstream's breaker. Fills *res (always: free it with
 * mf_http_result_free). Returns 0 with a response (any status), or -1 with res->err set. */
int mf_http_client_request(mf_http_client_t *c, const mf_http_call_t *call, mf_http_result_t *res);
/* The same call on a client with a loop: returns 0 when it is under way (done(ud, rc) is called
 * from a later turn of the loop, rc as mf_http_client_request returns), or 1 when it ended at
 * once with *rc set. What call points to must stay valid until then. */
int mf_http_client_start(mf_http_client_t *c, const mf_http_call_t *call, mf_http_result_t *res,
                         void (*done)(void *ud, int rc), void *ud, int *rc);
void mf_http_result_free(mf_http_result_t *res);

/* ---- streamed responses (stream.c) ---- */

/* A call on a client with a loop whose body is handed over as it arrives. Its attempts are a
 * call's (retries, redirects, the breaker), the attempt's timeout bounding its connect and its
 * head; a final head ends them (a 502, 503 or 504 head is retried as a call's would be, its body
 * unread). From then on the body waits in a buffer of at most MF_HTTP_STREAM_BUFFER bytes (on
 * libcurl, plus one of its writes), the transfer paused while it is full, so that an upstream
 * faster than its reader waits in TCP, not in memory. MAYFLY_HTTP_MAX_BODY does not apply. */
typedef struct mf_http_stream mf_http_stream_t;

#define MF_HTTP_STREAM_BUFFER (64 * 1024)

typedef enum {
    MF_HTTP_STREAM_WAITING, /* no head yet */
    MF_HTTP_STREAM_BODY,    /* the head is in, the body comes */
    MF_HTTP_STREAM_ENDED,   /* the body is complete: what is buffered is the last of it */
    MF_HTTP_STREAM_FAILED,  /* no head came, or the body broke off: the result's err says why */
} mf_http_stream_state_t;

/* Starts call on c, a client with a loop; the stream keeps copies of what call points to.
 * notify(ud) is called when the head comes, body arrives, the body ends or the call fails: from
 * the loop (also from inside libcurl's callbacks, so it must not call this API), never from
 * inside a function of this API. A call that cannot start is FAILED at once. Never NULL. */
mf_http_stream_t *mf_http_stream_start(mf_http_client_t *c, const mf_http_call_t *call,
                                       void (*notify)(void *ud), void *ud);
mf_http_stream_state_t mf_http_stream_state(const mf_http_stream_t *s);
/* The head (status, headers, attempts) once BODY, ENDED or FAILED after it; err and message
 * when FAILED. Its body field is unused. */
const mf_http_result_t *mf_http_stream_result(const mf_http_stream_t *s);
/* The body received and not taken yet: *len bytes, valid until the next call on s. */
const char *mf_http_stream_peek(const mf_http_stream_t *s, size_t *len);
/* What peek showed is taken: the buffer empties and a paused transfer goes on. */
void mf_http_stream_consume(mf_http_stream_t *s);
/* Ends a stream in BODY now with err and message (a reader's timeout): FAILED, the transfer
 * aborted. Anything else stays as it is. */
void mf_http_stream_fail(mf_http_stream_t *s, mf_http_err_t err, const char *message);
/* Aborts the transfer if it still runs (the upstream sees its connection close) and frees s. */
void mf_http_stream_free(mf_http_stream_t *s);

/* ---- counters, for /metrics ---- */

typedef struct {
    const char *upstream;                         /* "host:port" */
    uint64_t requests[MF_HTTP_CLASS_COUNT];       /* attempts, by status class */
    double duration_seconds[MF_HTTP_CLASS_COUNT]; /* their summed duration */
    uint64_t errors[MF_HTTP_ERR_COUNT];           /* calls or attempts failed, by kind */
    uint64_t stream_bytes;                        /* body bytes of streamed responses */
    int breaker_state;                            /* mf_breaker_state_t */
} mf_http_client_stats_t;

/* Calls fn with a snapshot of each upstream called so far by any worker. Safe from any thread. */
void mf_http_client_stats_each(void (*fn)(void *ud, const mf_http_client_stats_t *s), void *ud);

/* Adds mayfly.http's families to /metrics. Once, at start-up. */
void mf_http_client_metrics_register(void);

/* Calls to port on an address of this machine are refused from now on: this process's own
 * listeners (the main port, the admin port), which no handler may read back. */
void mf_http_client_refuse_port(int port);

#endif
