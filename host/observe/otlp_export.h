/* The OTLP/HTTP exporter: a bounded queue of ended spans and one thread that batches them,
 * encodes (otlp_encode.h), compresses (gzip), sends with a timeout and retries with backoff on
 * 429, 502, 503, 504 and transport failures. It never holds a request up: a full queue drops
 * the span and counts it. Its counters are in /metrics (mayfly_otlp_*). */
#ifndef MF_OTLP_EXPORT_H
#define MF_OTLP_EXPORT_H

#include <stdint.h>

#include "observe/otel_config.h"
#include "observe/span.h"

/* Starts the exporter on c (enabled; copied) and turns span recording on (mf_span_setup).
 * Returns 0, or -1 with the reason in err. */
int mf_otlp_start(const mf_otel_config_t *c, char *err, size_t errlen);

/* Takes an ended span (span.c's mf_span_end calls it): queued, or freed and counted as dropped
 * when the queue is full or the exporter stopped. Any thread. */
void mf_otlp_submit(mf_span_t *s);

/* Sends what is queued, retrying until deadline_ns (mf_now_ns's clock) at the latest, then stops
 * the thread; spans submitted later are dropped. Returns the number of spans that could not be
 * sent in time (dropped and counted). A no-op when the exporter never started. */
int mf_otlp_stop(int64_t deadline_ns);

#endif
