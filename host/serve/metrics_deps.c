/* Metrics of what the host calls out to: the Redis pool and the upstreams of mayfly.http. Both
 * keep their own counters; these collectors read them at each scrape. */
#include "serve/metrics_deps.h"

#include <stddef.h>

#include "client/http_client.h"
#include "observe/metrics.h"
#include "redis/redis.h"

static void redis_collect(void *ud, mf_metrics_writer_t *w)
{
    mf_redis_stats_t st;
    (void)ud;
    if (!mf_redis_configured())
        return;
    mf_redis_stats(&st);
    static const struct {
        const char *name, *help;
        size_t offset;
    } counters[] = {
        {"mayfly_redis_commands_total", "Redis commands sent (a pipeline of n counts n).",
         offsetof(mf_redis_stats_t, commands_total)},
        {"mayfly_redis_error_replies_total", "Error replies Redis gave.",
         offsetof(mf_redis_stats_t, error_replies_total)},
        {"mayfly_redis_failures_total", "Round trips that failed: connect, I/O or timeout.",
         offsetof(mf_redis_stats_t, failures_total)},
        {"mayfly_redis_rejected_total",
         "Calls failed fast: the breaker open, or no pooled connection within the timeout.",
         offsetof(mf_redis_stats_t, rejected_total)},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        mf_metrics_family(w, counters[i].name, "counter", counters[i].help);
        mf_metrics_sample(w, counters[i].name, NULL,
                          (double)*(const uint64_t *)((const char *)&st + counters[i].offset));
    }
    mf_metrics_family(w, "mayfly_redis_round_trip_seconds", "histogram",
                      "Time of a Redis round trip (a command or a pipeline).");
    mf_metrics_histogram(w, "mayfly_redis_round_trip_seconds", NULL, MF_REDIS_BUCKETS,
                         mf_redis_bucket_bounds, st.latency_buckets, st.latency_count,
                         st.latency_sum_seconds);
    mf_metrics_family(w, "mayfly_redis_pool_connections", "gauge",
                      "Redis connections: the pool's bound, open ones, borrowed ones.");
    mf_metrics_sample(w, "mayfly_redis_pool_connections", (const char *[]){"state", "max", NULL},
                      st.pool_size);
    mf_metrics_sample(w, "mayfly_redis_pool_connections", (const char *[]){"state", "open", NULL},
                      st.pool_open);
    mf_metrics_sample(w, "mayfly_redis_pool_connections", (const char *[]){"state", "in_use", NULL},
                      st.pool_in_use);
}

/* ---- mayfly.http: one pass over the upstreams per family ---- */

static void http_requests(void *ud, const mf_http_client_stats_t *s)
{
    for (int c = 0; c < MF_HTTP_CLASS_COUNT; c++)
        if (s->requests[c])
            mf_metrics_sample(
                ud, "mayfly_http_client_requests_total",
                (const char *[]){"upstream", s->upstream, "class", mf_http_class_name(c), NULL},
                (double)s->requests[c]);
}

static void http_seconds(void *ud, const mf_http_client_stats_t *s)
{
    for (int c = 0; c < MF_HTTP_CLASS_COUNT; c++)
        if (s->requests[c])
            mf_metrics_sample(
                ud, "mayfly_http_client_request_seconds_total",
                (const char *[]){"upstream", s->upstream, "class", mf_http_class_name(c), NULL},
                s->duration_seconds[c]);
}

static void http_errors(void *ud, const mf_http_client_stats_t *s)
{
    for (int e = MF_HTTP_ERR_NONE + 1; e < MF_HTTP_ERR_COUNT; e++)
        if (s->errors[e])
            mf_metrics_sample(ud, "mayfly_http_client_errors_total",
                              (const char *[]){"upstream", s->upstream, "kind",
                                               mf_http_err_name((mf_http_err_t)e), NULL},
                              (double)s->errors[e]);
}

static void http_collect(void *ud, mf_metrics_writer_t *w)
{
    (void)ud;
    mf_metrics_family(w, "mayfly_http_client_requests_total", "counter",
                      "Outbound attempts of mayfly.http, by upstream and status class.");
    mf_http_client_stats_each(http_requests, w);
    mf_metrics_family(w, "mayfly_http_client_request_seconds_total", "counter",
                      "Time spent in outbound attempts, by upstream and status class.");
    mf_http_client_stats_each(http_seconds, w);
    mf_metrics_family(w, "mayfly_http_client_errors_total", "counter",
                      "Outbound calls or attempts that got no response, by upstream and kind.");
    mf_http_client_stats_each(http_errors, w);
}

void mf_metrics_deps_register(void)
{
    mf_metrics_add_collector(redis_collect, NULL);
    mf_metrics_add_collector(http_collect, NULL);
}
