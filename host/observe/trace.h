/* W3C Trace Context (traceparent, tracestate): the trace a request belongs to and the span the
 * host gives it. The ids go into log lines, scripts, outbound calls and, when asked, the
 * response; with tracing on (observe/span.h) the span is recorded and exported. */
#ifndef MF_TRACE_H
#define MF_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define MF_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define MF_TRACESTATE_MAX 512 /* longer values are dropped, as the spec allows */

typedef struct {
    char trace_id[33];  /* 32 lowercase hex digits */
    char span_id[17];   /* this request's span: new for every request */
    char parent_id[17]; /* the caller's span, "" when the request started the trace */
    int sampled; /* with tracing on, the sampler's decision (mf_span_sample); else the caller's
                    sampled flag, 0 for a trace started here */
    char traceparent[MF_TRACEPARENT_LEN + 1]; /* for downstream calls: version 00, our span */
    /* The same ids as bytes, for spans (parent all zero: none). */
    uint8_t trace_bytes[16], span_bytes[8], parent_bytes[8];
} mf_trace_t;

/* Parses a traceparent header value (len bytes) by the W3C rules: two lowercase hex digits of
 * version, not ff; for version 00 exactly 55 characters, for a later version at least 55 with
 * '-' after them; a 32-hex trace id and 16-hex parent id, neither all zeros; two hex digits of
 * flags. Returns 0 and fills trace_id, parent_id and sampled, or -1 (t untouched). */
int mf_trace_parse(const char *value, size_t len, mf_trace_t *t);

/* Fills t for one request: continues the trace of traceparent when it parses (value may be
 * NULL), otherwise starts a new one; a new span id either way; the sampled flag decided;
 * traceparent formatted. */
void mf_trace_begin(mf_trace_t *t, const char *traceparent);

/* 1 when a tracestate value may be passed on: at most MF_TRACESTATE_MAX printable ASCII
 * characters (the list members themselves are the vendors' business). */
int mf_trace_state_ok(const char *value);

#endif
