/* OTLP's ExportTraceServiceRequest for a batch of ended spans, in the two encodings of
 * OTLP/HTTP: protobuf (the wire format, written by hand for the few messages OTLP needs) and
 * JSON (OTLP's JSON mapping: ids as hex, enums as numbers, 64-bit integers as strings). */
#ifndef MF_OTLP_ENCODE_H
#define MF_OTLP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "observe/otel_config.h"
#include "observe/span.h"

/* What every batch says about where its spans come from. */
typedef struct {
    const mf_otel_attr_t *resource;
    size_t nresource;
    const char *scope_name;    /* the instrumentation scope: "mayfly" */
    const char *scope_version; /* mayfly's version */
} mf_otlp_source_t;

/* Appends the request for the spans of the list (linked by next, n of them) to out.
 * wall_offset_ns is added to the spans' mf_now_ns() times to make them Unix-epoch
 * nanoseconds. */
void mf_otlp_encode_protobuf(mf_buf_t *out, const mf_otlp_source_t *src, const mf_span_t *spans,
                             int64_t wall_offset_ns);
void mf_otlp_encode_json(mf_buf_t *out, const mf_otlp_source_t *src, const mf_span_t *spans,
                         int64_t wall_offset_ns);

#endif
