/* The Redis families of /metrics: the pool keeps its own counters (redis.c); this collector
 * reads them at each scrape. */
#include "redis/redis.h"

#include <stddef.h>

#include "observe/metrics.h"
#include "redis/pubsub.h"

static void collect(void *ud, mf_metrics_writer_t *w)
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
        {"mayfly_redis_tls_handshake_failures_total",
         "TLS handshakes with Redis that failed, a certificate that did not verify included.",
         offsetof(mf_redis_stats_t, tls_handshake_failures_total)},
        {"mayfly_redis_failovers_total",
         "Primaries the sentinels replaced (redis+sentinel://; the first one found is not one).",
         offsetof(mf_redis_stats_t, failovers_total)},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        mf_metrics_family(w, counters[i].name, "counter", counters[i].help);
        mf_metrics_sample(w, counters[i].name, NULL,
                          (double)*(const uint64_t *)((const char *)&st + counters[i].offset));
    }
    mf_metrics_family(w, "mayfly_redis_reconnects_total", "counter",
                      "Redis connections closed so that the next command opens a new one, by "
                      "reason: readonly, masterdown, loading (the server's refusals), auth, "
                      "timeout, io, failover (made for a replaced primary).");
    for (int i = 0; i < MF_REDIS_RECONNECT_REASONS; i++)
        mf_metrics_sample(w, "mayfly_redis_reconnects_total",
                          (const char *[]){"reason", mf_redis_reconnect_names[i], NULL},
                          (double)st.reconnects_total[i]);
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
    mf_metrics_family(w, "mayfly_redis_node_errors_total", "counter",
                      "Failed connects and round trips, by Redis server (host:port).");
    char node[300];
    uint64_t errors;
    for (int i = 0; mf_redis_server_errors(i, node, sizeof node, &errors) == 0; i++)
        mf_metrics_sample(w, "mayfly_redis_node_errors_total", (const char *[]){"node", node, NULL},
                          (double)errors);
    if (!mf_redis_cluster_mode())
        return;
    static const char *const kinds[] = {"moved", "ask", "tryagain"};
    mf_metrics_family(w, "mayfly_redis_cluster_redirects_total", "counter",
                      "Redis Cluster redirects followed, by kind: moved (the slot has a new "
                      "owner), ask (a slot migrating), tryagain (a multi-key command during a "
                      "migration).");
    for (int i = 0; i < 3; i++)
        mf_metrics_sample(w, "mayfly_redis_cluster_redirects_total",
                          (const char *[]){"kind", kinds[i], NULL},
                          (double)st.cluster_redirects_total[i]);
    mf_metrics_family(w, "mayfly_redis_cluster_refreshes_total", "counter",
                      "Reads of the Redis Cluster slot map (CLUSTER SLOTS), by result.");
    mf_metrics_sample(w, "mayfly_redis_cluster_refreshes_total",
                      (const char *[]){"result", "ok", NULL}, (double)st.cluster_refreshes_ok);
    mf_metrics_sample(w, "mayfly_redis_cluster_refreshes_total",
                      (const char *[]){"result", "failed", NULL},
                      (double)st.cluster_refreshes_failed);
    mf_metrics_family(w, "mayfly_redis_cluster_slots_covered", "gauge",
                      "Slots of the 16384 the slot map in use gives a primary.");
    mf_metrics_sample(w, "mayfly_redis_cluster_slots_covered", NULL, st.cluster_slots_covered);
    mf_metrics_family(w, "mayfly_redis_cluster_primaries", "gauge",
                      "Primaries in the slot map in use.");
    mf_metrics_sample(w, "mayfly_redis_cluster_primaries", NULL, st.cluster_primaries);
}

void mf_redis_metrics_register(void)
{
    mf_metrics_add_collector(collect, NULL);
    mf_redis_pubsub_metrics_register();
}
