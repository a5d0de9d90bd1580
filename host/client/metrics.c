/* mayfly.http's families of /metrics: the upstreams keep their own counters (upstream.c); this
 * collector reads them at each scrape, one pass over the upstreams per family. */
#include "client/http_client.h"

#include "observe/metrics.h"

static void requests(void *ud, const mf_http_client_stats_t *s)
{
    for (int c = 0; c < MF_HTTP_CLASS_COUNT; c++)
        if (s->requests[c])
            mf_metrics_sample(
                ud, "mayfly_http_client_requests_total",
                (const char *[]){"upstream", s->upstream, "class", mf_http_class_name(c), NULL},
                (double)s->requests[c]);
}

static void seconds(void *ud, const mf_http_client_stats_t *s)
{
    for (int c = 0; c < MF_HTTP_CLASS_COUNT; c++)
        if (s->requests[c])
            mf_metrics_sample(
                ud, "mayfly_http_client_request_seconds_total",
                (const char *[]){"upstream", s->upstream, "class", mf_http_class_name(c), NULL},
                s->duration_seconds[c]);
}

static void errors(void *ud, const mf_http_client_stats_t *s)
{
    for (int e = MF_HTTP_ERR_NONE + 1; e < MF_HTTP_ERR_COUNT; e++)
        if (s->errors[e])
            mf_metrics_sample(ud, "mayfly_http_client_errors_total",
                              (const char *[]){"upstream", s->upstream, "kind",
                                               mf_http_err_name((mf_http_err_t)e), NULL},
                              (double)s->errors[e]);
}

static void stream_bytes(void *ud, const mf_http_client_stats_t *s)
{
    if (s->stream_bytes)
        mf_metrics_sample(ud, "mayfly_http_client_stream_bytes_total",
                          (const char *[]){"upstream", s->upstream, NULL}, (double)s->stream_bytes);
}

static void collect(void *ud, mf_metrics_writer_t *w)
{
    (void)ud;
    mf_metrics_family(w, "mayfly_http_client_requests_total", "counter",
                      "Outbound attempts of mayfly.http, by upstream and status class.");
    mf_http_client_stats_each(requests, w);
    mf_metrics_family(w, "mayfly_http_client_request_seconds_total", "counter",
                      "Time spent in outbound attempts, by upstream and status class.");
    mf_http_client_stats_each(seconds, w);
    mf_metrics_family(w, "mayfly_http_client_errors_total", "counter",
                      "Outbound calls or attempts that got no response, by upstream and kind.");
    mf_http_client_stats_each(errors, w);
    mf_metrics_family(w, "mayfly_http_client_stream_bytes_total", "counter",
                      "Body bytes of streamed responses (stream = true) received, by upstream.");
    mf_http_client_stats_each(stream_bytes, w);
}

void mf_http_client_metrics_register(void)
{
    mf_metrics_add_collector(collect, NULL);
}
