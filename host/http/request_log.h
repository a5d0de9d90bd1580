/* Log lines about a request: they carry its request_id, trace_id and span_id (observe/log.h
 * writes the line; this file knows the request). */
#ifndef MF_HTTP_REQUEST_LOG_H
#define MF_HTTP_REQUEST_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/jsonbuf.h"
#include "http/request.h"

/* mf_log_begin for a line about request r (may be NULL: a line of no request). */
void mf_request_log_begin(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                          mf_request_t *r);

/* The access log's line for request r, which has a response: msg "request", method, path
 * (without the query), route (absent when none matched), status and duration_ms; buffered. */
void mf_request_log_access(mf_request_t *r, int64_t duration_ns);

#endif
