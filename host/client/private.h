/* What the files of client/ share: the client and a call's record (call.c), the upstreams'
 * breakers and counters (upstream.c), the refusal of this process's own listeners (target.c),
 * the sockets of calls on a loop (multi.c), and the native engine (native.c, native_conn.c,
 * resolve.c, response.c). Nothing outside client/ includes this but the fuzzer of the response
 * reader (tests/fuzz/fuzz_http_reader.c). */
#ifndef MF_HTTP_CLIENT_PRIVATE_H
#define MF_HTTP_CLIENT_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <http_parser.h>

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

/* ---- URLs (target.c) ---- */

/* target as location read against base (a redirect's Location). Returns 0, or -1 with a reason
 * in err. */
int mf_http_url_resolve(mf_http_url_t *target, const mf_http_url_t *base, const char *location,
                        char *err, size_t errlen);
/* url's libcurl copy (a CURLU), made from its text on first use; NULL when libcurl fails. */
void *mf_http_url_curl(const mf_http_url_t *url);
/* dst as a copy of src that owns its own memory. Returns 0, or -1 when libcurl cannot copy. */
int mf_http_url_copy(mf_http_url_t *dst, const mf_http_url_t *src);

/* ---- names to addresses for the native engine (resolve.c) ---- */

#define MF_HTTP_MAX_ADDRS 8

typedef struct {
    int n;
    struct sockaddr_storage addr[MF_HTTP_MAX_ADDRS]; /* port 0: the caller sets it */
    socklen_t len[MF_HTTP_MAX_ADDRS];
} mf_http_addrs_t;

/* A client's names and their addresses, cached. */
typedef struct mf_http_names mf_http_names_t;

/* A call waiting for a name: done(w, addrs, NULL) or done(w, NULL, reason) runs on the loop. */
typedef struct mf_http_name_wait {
    void (*done)(struct mf_http_name_wait *w, const mf_http_addrs_t *addrs, const char *err);
    struct mf_http_name_wait *next;
    void *entry; /* the name's, while waiting */
} mf_http_name_wait_t;

mf_http_names_t *mf_http_client__names_new(mf_loop_t *loop);
void mf_http_client__names_free(mf_http_names_t *n);
/* host's addresses (a name, or a numeric address without brackets): 1 with *out filled at once,
 * or 0 when w->done will tell. */
int mf_http_client__resolve(mf_http_names_t *n, const char *host, mf_http_addrs_t *out,
                            mf_http_name_wait_t *w);
/* w no longer waits (its done is not called). Idempotent. */
void mf_http_client__resolve_cancel(mf_http_name_wait_t *w);

/* ---- a response read from its bytes (response.c) ---- */

/* One HTTP/1.1 response as the native engine reads it, with http-parser: interim 1xx heads
 * skipped, the final head's lines as libcurl hands them over ("name: value\n", names
 * lower-cased, values without trailing blanks), its body into the caller's buffer within a
 * bound. */
typedef struct {
    http_parser parser;
    int head_only;    /* the request was a HEAD: no body follows */
    size_t max_body;  /* a larger body (or declared Content-Length) is too large */
    mf_buf_t head;    /* the final head's lines */
    mf_buf_t *body;   /* the caller's */
    int in_line;      /* where in a header line the last piece was */
    size_t value_at;  /* where in head the line's value begins */
    int switched;     /* a 101: another protocol follows */
    int status;       /* the last head's */
    int complete;     /* the final response is in */
    int too_large;
    int stop_at_head; /* a streamed call's: feed stops after the final head (READ_HEAD) */
    int head_complete; /* the final head's lines are all in */
    int head_done, in_body;
} mf_http_reader_t;

typedef enum {
    MF_HTTP_READ_MORE,      /* the response goes on */
    MF_HTTP_READ_DONE,      /* it is complete */
    MF_HTTP_READ_TOO_LARGE, /* its body passed max_body */
    MF_HTTP_READ_CUT,       /* the stream ended inside it */
    MF_HTTP_READ_BAD,       /* not HTTP */
    MF_HTTP_READ_HEAD,      /* with stop_at_head: the final head is in, *used bytes read */
} mf_http_read_t;

/* Readies r for a response; body gets its body (emptied). r->head keeps its memory. */
void mf_http_reader_start(mf_http_reader_t *r, int head_only, size_t max_body, mf_buf_t *body);
/* Reads n bytes of the stream (n 0: it ended there). DONE sets *keep when the connection may
 * carry another exchange (keep-alive, no byte after the response, not ended by closing); BAD
 * sets *why. */
mf_http_read_t mf_http_reader_feed(mf_http_reader_t *r, const char *data, size_t n, int *keep,
                                   const char **why, size_t *used);
/* After READ_HEAD: the body is read on, into body, unbounded (the caller bounds what it reads). */
void mf_http_reader_body(mf_http_reader_t *r, mf_buf_t *body);
/* The value of the head's first header name (lower-case), *len bytes; NULL when it has none. */
const char *mf_http_reader_header(const mf_http_reader_t *r, const char *name, size_t *len);
void mf_http_reader_free(mf_http_reader_t *r);

/* ---- the native engine's connections (native_conn.c) ---- */

typedef struct mf_http_conn mf_http_conn_t;
typedef struct mf_http_pool mf_http_pool_t;
struct mf_http_xfer;

/* One keep-alive connection to an upstream, with its response parser. */
struct mf_http_conn {
    mf_http_client_t *c;
    mf_http_pool_t *pool;
    int fd;
    mf_watcher_t *watch;
    uint32_t events;        /* what watch waits for */
    int connected;          /* its connect completed */
    int last_errno;         /* why the last address failed */
    int exchanges;          /* completed on it: one more is a reuse */
    int64_t idle_since;     /* mf_now_ns when it went back to its pool */
    struct mf_http_xfer *x; /* the call it serves; NULL: idle */
    mf_http_conn_t *next_idle;
};

/* A connection for x's current hop: an idle one of its upstream (1), or a new one it is
 * opening (0): mf_http_client__native_connected(x) or mf_http_client__native_failed(x, ...)
 * follows, from the loop. x waits when the worker's connections are all busy. */
void mf_http_client__conn_get(struct mf_http_xfer *x);
/* x gives its connection back: kept for the next call of its upstream, or closed. */
void mf_http_client__conn_put(struct mf_http_xfer *x, int keep);
/* x stops waiting for a connection or a name (its attempt ends). */
void mf_http_client__conn_forget(struct mf_http_xfer *x);
/* Sets what conn's watcher waits for (a watcher made again after conn_unwatch). */
void mf_http_client__conn_watch(mf_http_conn_t *conn, uint32_t events);
/* conn is not watched at all: not even the hang-ups epoll reports whatever it is asked. */
void mf_http_client__conn_unwatch(mf_http_conn_t *conn);
/* Closes the connections and frees the pools of c. */
void mf_http_client__conns_free(mf_http_client_t *c);

/* ---- the native engine's exchange (native.c) ---- */

/* An attempt's state in the native engine: its current hop (redirects are followed within the
 * attempt), its connection, the request's bytes and the response's head. */
typedef struct {
    const mf_http_url_t *url; /* the hop's: the call's, or hop_url */
    mf_http_url_t hop_url;    /* a redirect's target, owned */
    const char *method;       /* the hop's (a redirect may turn it into GET) */
    int with_body;            /* the hop sends the call's body */
    int redirects;            /* followed in this attempt */
    int strip_auth;           /* a redirect left the first host:port */
    mf_http_conn_t *conn;
    mf_http_name_wait_t name_wait;
    mf_http_addrs_t addrs;
    int next_addr;             /* the address to try after the current one */
    struct mf_http_xfer *next_waiting; /* in the client's queue for a connection */
    int waiting_conn;
    mf_timer_t timer;  /* the attempt's timeout */
    mf_buf_t out;      /* the request's head */
    size_t out_sent;   /* of the head, then of the body */
    mf_http_reader_t reader; /* the response */
    int got_bytes;     /* the upstream answered something on this connection */
    int fresh_retry;   /* the hop went again on a new connection after a reused one died */
    int in_body;       /* a streamed call's head stands: its body is read */
    int paused;        /* ... and waits: the stream's buffer is full */
    int close_after;   /* the request asked for Connection: close */
} mf_http_native_t;

/* Whether call goes through the native engine on c. */
int mf_http_client__native_wants(const mf_http_client_t *c, const mf_http_call_t *call);
/* Makes the attempt x readied, on the native engine. */
void mf_http_client__native_attempt(struct mf_http_xfer *x);
/* x's connection is open (or an idle one reused): the request goes out. */
void mf_http_client__native_connected(struct mf_http_xfer *x);
/* x's connection could not be had: the attempt fails with err (message: what happened). */
void mf_http_client__native_failed(struct mf_http_xfer *x, mf_http_err_t err, const char *message);
/* Readiness of x's connection while the exchange runs. */
void mf_http_client__native_ready(struct mf_http_xfer *x, uint32_t events);
/* A streamed call's buffer was emptied: a paused body is read on. */
void mf_http_client__native_resume(struct mf_http_xfer *x);
/* x's exchange stops where it is: its connection closed, its waits ended. */
void mf_http_client__native_abort(struct mf_http_xfer *x);

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
    int starting;                  /* inside mf_http_client_start */
    int end_pending;               /* it ended there: backoff's turn ends it */
    struct mf_http_stream *stream; /* a streamed call's (stream.c), which owns its handling */
    int discard; /* its handle has options of its own (a stream's): freed, not kept */
    int native;  /* its attempts go through the native engine (native.c) */
    int on_curl; /* this attempt went on in libcurl (a redirect to https) */
    mf_http_native_t nat;
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
    /* The native engine's (native_conn.c, resolve.c): */
    mf_http_names_t *names;
    mf_http_pool_t **pools; /* POOL_BUCKETS chains, by upstream */
    int open_conns;
    mf_http_xfer_t *conn_queue, *conn_queue_tail; /* calls waiting for a connection */
    mf_timer_t queue_timer;                       /* their turn comes on the loop */
    char *scratch;                                /* where responses are read into */
};

/* Sets up a record for call (on the native engine when may_native and it takes the call).
 * Returns 0 with *out, or -1 with res->err set. */
int mf_http_client__call_begin(mf_http_client_t *c, mf_http_xfer_t **out,
                               const mf_http_call_t *call, mf_http_result_t *res, int may_native);
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
/* The attempt's libcurl options (the call's url, or a native attempt's redirect to https that
 * libcurl goes on with) and its timeout. */
void mf_http_client__attempt_curl(mf_http_xfer_t *x, const mf_http_url_t *url, int64_t timeout_ms);
/* The attempt failed with err: res says so, with the message of its kind (timeout, too large,
 * this process's listener) or detail. */
void mf_http_client__attempt_error(mf_http_xfer_t *x, mf_http_err_t err, const char *detail);
/* The attempt's outcome in res is in, whichever engine made it: the span ends, the breaker and
 * the counters are told, the attempt is logged. Returns the milliseconds to wait before the next
 * attempt, or -1 when the call ends with this outcome. */
int64_t mf_http_client__attempt_judge(mf_http_xfer_t *x);
/* A request header line that carries credentials (Authorization, Cookie): never sent to another
 * host a redirect leads to. */
int mf_http_client__credential(const char *line);
/* Whether a request with method and body sends a body (perhaps empty). */
int mf_http_client__sends_body(const char *method, const char *body);
/* The kind of error rc is, on e's transfer. */
mf_http_err_t mf_http_client__classify(CURL *e, CURLcode rc, int too_large);

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
/* A call on a loop after an attempt: the next one after wait_ms, or (-1) the end. */
void mf_http_client__attempt_over(mf_http_xfer_t *x, int64_t wait_ms);
/* The attempt x readied goes on in libcurl's multi handle. */
void mf_http_client__curl_go(mf_http_xfer_t *x);
/* Frees what calls on the loop left: the multi handle, its connections and sockets. */
void mf_http_client__loop_free(mf_http_client_t *c);

/* ---- streamed calls (stream.c) ---- */

/* x, a streamed call's record, left the multi handle with rc. */
void mf_http_client__stream_done(mf_http_xfer_t *x, CURLcode rc);
/* The native engine's streamed call x: an attempt ended before a head that stands (wait_ms as
 * attempt_judge returns); its head stands (its body follows into the buffer that
 * mf_http_client__stream_buffer gives); n body bytes came; its body ended (err NONE) or broke. */
void mf_http_client__stream_attempt_over(mf_http_xfer_t *x, int64_t wait_ms);
void mf_http_client__stream_head(mf_http_xfer_t *x);
mf_buf_t *mf_http_client__stream_buffer(mf_http_xfer_t *x);
void mf_http_client__stream_body(mf_http_xfer_t *x, size_t n);
void mf_http_client__stream_end(mf_http_xfer_t *x, mf_http_err_t err, const char *message);
/* A native streamed call's redirect to https goes on in libcurl, its head within timeout_ms. */
void mf_http_client__stream_curl_go(mf_http_xfer_t *x, int64_t timeout_ms);

#endif
