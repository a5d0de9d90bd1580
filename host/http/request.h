/* One HTTP request as the host holds it from its first byte to the completion callback. */
#ifndef MF_REQUEST_H
#define MF_REQUEST_H

#include <stddef.h>
#include <stdint.h>

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
    const char *method; /* owned by libmicrohttpd, valid until completion */
    char *target;       /* the raw request target as received: target_buf or owned */
    size_t path_len;    /* the path is target[0, path_len) */
    const char *query;  /* after '?', or NULL */
    size_t query_len;
    char id[MF_REQUEST_ID_MAX + 1]; /* "" until mf_request_id */
    char *body;                     /* owned; NULL when empty */
    size_t body_len, body_cap;
    int64_t start_ns;
    int headers_done; /* the first access-handler call has been seen */
    int body_too_large;
    mf_route_match_t match;
    /* What the access log reports. */
    int status;
    const char *route; /* pattern, or NULL when no route matched */
    int metric_route;  /* the route's label in metrics (mf_metrics_route_id) */
    int trace_done;    /* trace is filled (mf_request_trace) */
    mf_trace_t trace;
    char target_buf[192];
} mf_request_t;

/* The request id: X-Request-Id when it is 1-64 characters of [A-Za-z0-9._:-], otherwise 32
 * random hex digits; decided on first use (most requests never need one). */
const char *mf_request_id(mf_request_t *r);

/* The value of header name in r->fields (case-insensitive), or NULL. */
const char *mf_request_field(const mf_request_t *r, const char *name);
/* The value of request header name, from the connection or, in-process (mayfly test), from
 * r->fields; NULL when absent. */
const char *mf_request_header(const mf_request_t *r, const char *name);

/* The request's trace context: the caller's traceparent when it is valid (W3C), else a new
 * trace; a new span either way. Decided on first use. */
const mf_trace_t *mf_request_trace(mf_request_t *r);

#endif
