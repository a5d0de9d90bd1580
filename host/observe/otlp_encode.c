#include "observe/otlp_encode.h"

void mf_otlp_encode_protobuf(mf_buf_t *out, const mf_otlp_source_t *src, const mf_span_t *spans,
                             int64_t wall_offset_ns)
{
    (void)out, (void)src, (void)spans, (void)wall_offset_ns;
}

void mf_otlp_encode_json(mf_buf_t *out, const mf_otlp_source_t *src, const mf_span_t *spans,
                         int64_t wall_offset_ns)
{
    (void)out, (void)src, (void)spans, (void)wall_offset_ns;
}
