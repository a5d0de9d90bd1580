/* One HTTP request as the host holds it from its first byte to the completion callback. */
#ifndef MF_HTTP_REQUEST_H
#define MF_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "http/router.h"
#include "observe/trace.h"

struct MHD_Connection;

#define MF_REQUEST_ID_MAX 64

typedef struct mf_request {
    struct mf_request *next_free; /* the worker's list of requests to reuse */
    struct MHD_Connection *conn;
    /* The header fields when there is no connection (mayfly test's in-process requests):
     * name, value, name, value, ..., NULL. Owned by whoever made the request. */
    const char *const *fields;
    const char *method; /* libmicrohttpd's, valid until completion; method_copy once detached */
    char *target;       /* the raw request target as received: target_buf or owned */
    size_t path_len;    /* the path is target[0, path_len) */
    const char *query;  /* after '?', or NULL */
    size_t query_len;
    char id[MF_REQUEST_ID_MAX + 1]; /* "" until mf_request_id */
    mf_buf_t body;                  /* owned; data is NULL while it is empty */
    int64_t start_ns;
    int headers_done; /* the first access-handler call has been seen */
    int body_too_large;
    mf_route_match_t match;
    /* What the access log reports. */
    int status;
    const char *route; /* the route key (interned: valid after its version), NULL: none matched */
    int metric_route;  /* the route's label in metrics (mf_metrics_route_id) */
    int trace_done;    /* trace is filled (mf_request_trace) */
    mf_trace_t trace;
    struct mf_span *span; /* its server span (mf_request_span), owned; NULL: none yet */
    int span_done;        /* its span was ended: no other is begun */
    char *method_copy;    /* owned, once detached */
    char target_buf[192];
} mf_request_t;

/* Begins r, a request served or reused, on the raw request target as received (NUL-terminated,
 * copied): an absolute-form target keeps only its path, a fragment is dropped, the query is
 * split off. Every other field is reset (no method, header fields or body yet) and r's clock
 * starts. */
void mf_request_begin(mf_request_t *r, const char *target);

/* Begins an in-process request (mayfly test, the fuzzers, the benchmarks) as a served one would
 * be: method and fields (name, value, ..., NULL; NULL for none) are not copied and must outlive
 * r; target (see mf_request_begin) and body are copied, a body past max_body as
 * mf_request_body_add leaves it. */
void mf_request_begin_local(mf_request_t *r, const char *method, const char *target,
                            const char *const *fields, const char *body, size_t body_len,
                            size_t max_body);

/* Adds n bytes to r's body. Past max_body bytes in all, the body is dropped and
 * r->body_too_large set; nothing is kept from then on. */
void mf_request_body_add(mf_request_t *r, const char *data, size_t n, size_t max_body);

/* The connection is over while a run still reads r (a stream whose client left): what r
 * borrowed from it is copied (the method) or let go (the header fields, the peer's address,
 * which then read as absent). */
void mf_request_detach(mf_request_t *r);

/* Frees what r owns (its target's copy, its body); it may begin again. */
void mf_request_end(mf_request_t *r);

/* The request id: X-Request-Id when it is 1-64 characters of [A-Za-z0-9._:-], otherwise 32
 * random hex digits; decided on first use (most requests never need one). */
const char *mf_request_id(mf_request_t *r);

/* The value of header name in r->fields (case-insensitive), or NULL. */
const char *mf_request_field(const mf_request_t *r, const char *name);
/* The value of request header name, from the connection or, in-process (mayfly test), from
 * r->fields; NULL when absent. */
const char *mf_request_header(const mf_request_t *r, const char *name);

/* The peer's IP address as text into buf ("" in-process), returned. */
#define MF_REQUEST_ADDR_MAX 46 /* INET6_ADDRSTRLEN */
const char *mf_request_client_address(const mf_request_t *r, char buf[MF_REQUEST_ADDR_MAX]);

/* The request's trace context: the caller's traceparent when it is valid (W3C), else a new
 * trace; a new span either way. Decided on first use. */
const mf_trace_t *mf_request_trace(mf_request_t *r);

/* ---- its span (request_span.c) ---- */

/* The request's server span, begun on first use (at the request's start) when tracing is on
 * and its trace sampled; else NULL. Scripts' spans and calls go under it. */
struct mf_span *mf_request_span(mf_request_t *r);
/* Ends the request's span at end_ns with what the request was (method, route, path, status,
 * server, client, user agent) and hands it to the exporter. A no-op when it has none and
 * tracing is off or the trace is not sampled. */
void mf_request_span_end(mf_request_t *r, int64_t end_ns);

#endif
