/* Redis for the whole process: the settings, the topology (one server, a Sentinel-managed
 * primary, a cluster), the totals, and the calls that block (mf_redis_run). Each server's pool
 * of at most pool_size links (link.h) is server.c's, lent for one call (or one pipeline) at a
 * time, so the connection count stays bounded whatever the worker count and replicas cannot
 * exhaust Redis's maxclients; a cluster's calls are split by node in cluster_route.c.
 *
 * Failure handling, in order: a connection that timed out, broke or answered with a refusal
 * (below) is closed, never reused; failed connects back off exponentially (per server, capped
 * at the breaker's cool-down); and after BREAKER_THRESHOLD failures in a row the breaker fails
 * calls to that server fast until one probe succeeds. A stopped or vanished Redis therefore costs a
 * request at most about three timeouts (a wait for a free connection, then the call's two: the
 * connect and the exchange, a retry included), and only while the breaker is still closed.
 *
 * Which calls are sent again on a new connection, here and on the workers' (conn.c), always
 * within the call's deadline (here two timeouts from the borrow; there the command timeout or
 * the run's deadline, whichever comes first):
 *   - a call none of whose bytes left: its connection was found closed before use (the pool
 *     checks a connection that sat idle before writing to it; a worker's watches its own), or
 *     broke before the call's first byte was written, or was still connecting. Here once; on a
 *     worker's connection the call simply waits for the next connection.
 *   - a call every reply of which is a refusal (READONLY from a replica the primary became,
 *     MASTERDOWN from a replica without its primary, LOADING from a server loading its data,
 *     NOAUTH): nothing of it ran. Once. The connection is closed (a worker's once the calls
 *     already written on it are answered) and the new one resolves the name again.
 * Never sent again: a call whose bytes went, even in part, before its connection broke or timed
 * out (it may have run: the caller gets the outage error, a 503); a pipeline some of whose
 * replies are refusals and some not (those ran: the caller gets every reply, the refusals as
 * error replies, and the connection is still closed); a call whose connect failed (the backoff
 * and the breaker decide when to try again). */
#include "redis/redis.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "redis/auth.h"
#include "redis/cluster.h"
#include "redis/private.h"
#include "redis/sentinel.h"
#include "redis/server.h"
#include "redis/tls.h"
#include "redis/url.h"

const char *const mf_redis_reconnect_names[MF_REDIS_RECONNECT_REASONS] = {
    "readonly", "masterdown", "loading", "auth", "timeout", "io", "failover"};

const double mf_redis_bucket_bounds[MF_REDIS_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                         0.005,  0.01,    0.05,   0.25,  1.0};

mf_redis_totals_t mf_redis__totals;

static struct {
    pthread_mutex_t mu;
    int ready;                /* mf_redis_init ran */
    int configured;           /* a URL was given */
    char settings_error[512]; /* why the settings were refused; every call reports it */
    mf_redis_topology_t topology;
    int tls;
    int64_t timeout_ms;
} redis = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- setup ---- */

/* Reads MAYFLY_REDIS_URL and the TLS and password settings, and starts following the
 * topology. Returns 0, or -1 with the reason in err. */
static int configure(const mf_options_t *o, char *err, size_t errlen)
{
    mf_redis_url_t url;
    mf_redis_setup_set_t setup;
    int rc = -1;
    if (mf_redis_url_parse(o->redis_url, &url, err, errlen))
        goto done;
    if (!url.tls && (o->redis_ca_file || o->redis_cert_file || o->redis_key_file)) {
        /* Most likely a rediss:// written without its s: never plaintext for a TLS setting. */
        snprintf(err, errlen,
                 "MAYFLY_REDIS_CA_FILE, MAYFLY_REDIS_CERT_FILE and "
                 "MAYFLY_REDIS_KEY_FILE are for TLS: MAYFLY_REDIS_URL must be "
                 "rediss://");
        goto done;
    }
    if (url.tls && mf_redis_tls_init(o, err, errlen))
        goto done;
    mf_redis_auth_init(&url, o->redis_password_file);
    /* A password file that cannot be read now is a setting to fix before serving. */
    if (mf_redis_auth_setup(&setup, err, errlen))
        goto done;
    redis.topology = url.topology;
    redis.tls = url.tls;
    if (url.topology != MF_REDIS_CLUSTER)
        mf_redis_server_at(url.nodes[0].host, url.nodes[0].port); /* mf_redis_server_main */
    if (url.topology == MF_REDIS_SENTINEL &&
        mf_redis_sentinel_start(&url, o->redis_sentinel_password, redis.timeout_ms, err, errlen))
        goto done;
    if (url.topology == MF_REDIS_CLUSTER && mf_redis_cluster_start(&url, err, errlen))
        goto done;
    rc = 0;
done:
    explicit_bzero(&url, sizeof url);
    explicit_bzero(&setup, sizeof setup);
    return rc;
}

int mf_redis_init(const mf_options_t *o, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&redis.mu);
    if (!redis.ready) {
        redis.ready = 1;
        redis.configured = o->redis_url != NULL;
        redis.timeout_ms = o->redis_timeout_ms > 0 ? o->redis_timeout_ms : 250;
        mf_redis_servers_init(o->redis_pool_size > 0 ? o->redis_pool_size : 8, redis.timeout_ms);
        if (redis.configured)
            configure(o, redis.settings_error, sizeof redis.settings_error);
    }
    if (redis.settings_error[0]) {
        snprintf(err, errlen, "%s", redis.settings_error);
        rc = -1;
    }
    pthread_mutex_unlock(&redis.mu);
    return rc;
}

int mf_redis_configured(void)
{
    return redis.configured;
}

/* ---- what servers, workers' connections and the cluster share (private.h) ---- */

int mf_redis__usable(char *err, size_t errlen)
{
    if (!redis.configured) {
        snprintf(err, errlen, "Redis is not configured (set MAYFLY_REDIS_URL)");
        return -1;
    }
    if (redis.settings_error[0]) {
        snprintf(err, errlen, "%s", redis.settings_error);
        return -1;
    }
    return 0;
}

int64_t mf_redis__timeout_ms(void)
{
    return redis.timeout_ms;
}

mf_redis_topology_t mf_redis__topology(void)
{
    return redis.topology;
}

int mf_redis_cluster_mode(void)
{
    return redis.configured && redis.topology == MF_REDIS_CLUSTER;
}

mf_redis_link_t *mf_redis__link_open(mf_redis_server_t *s, int64_t wait_ns, uint64_t *epoch,
                                     int *no_primary, char *err, size_t errlen)
{
    const char *host = mf_redis_server_host(s);
    int port = mf_redis_server_port(s);
    mf_redis_node_t primary;
    mf_redis_setup_set_t setup;
    mf_redis_link_t *l = NULL;
    *epoch = 0;
    *no_primary = 0;
    if (mf_redis__usable(err, errlen))
        return NULL;
    if (redis.topology == MF_REDIS_SENTINEL) {
        if (mf_redis_sentinel_primary(&primary, epoch, wait_ns ? wait_ns : mf_now_ns(), err,
                                      errlen)) {
            *no_primary = 1;
            return NULL;
        }
        host = primary.host;
        port = primary.port;
    }
    if (mf_redis_auth_setup(&setup, err, errlen))
        mf_redis_server_connect_failed(s, MF_REDIS_LINK_ESETUP, err, *epoch);
    else
        l = mf_redis_link_open(host, port, redis.tls, &setup);
    explicit_bzero(&setup, sizeof setup);
    return l;
}

int mf_redis__stale(uint64_t epoch)
{
    return redis.topology == MF_REDIS_SENTINEL && epoch != mf_redis_sentinel_epoch();
}

void mf_redis__suspect(uint64_t epoch, const char *why)
{
    if (redis.topology == MF_REDIS_SENTINEL)
        mf_redis_sentinel_suspect(epoch, why);
    else if (redis.topology == MF_REDIS_CLUSTER)
        mf_redis_cluster_refresh();
}

void mf_redis__dropped(mf_redis_reconnect_t why, uint64_t epoch)
{
    atomic_fetch_add_explicit(&mf_redis__totals.reconnects[why], 1, memory_order_relaxed);
    if (why == MF_REDIS_RECONNECT_READONLY || why == MF_REDIS_RECONNECT_MASTERDOWN ||
        why == MF_REDIS_RECONNECT_TIMEOUT || why == MF_REDIS_RECONNECT_IO)
        mf_redis__suspect(epoch, mf_redis_reconnect_names[why]);
    if (why == MF_REDIS_RECONNECT_AUTH)
        mf_redis_auth_recheck(); /* the Secret may have been rotated since it was read */
}

/* The reason an error reply gives to drop its connection, or -1. */
static int refusal(const redisReply *r)
{
    static const struct {
        const char *code;
        size_t len;
        mf_redis_reconnect_t why;
    } codes[] = {{"READONLY", 8, MF_REDIS_RECONNECT_READONLY},
                 {"MASTERDOWN", 10, MF_REDIS_RECONNECT_MASTERDOWN},
                 {"LOADING", 7, MF_REDIS_RECONNECT_LOADING},
                 {"NOAUTH", 6, MF_REDIS_RECONNECT_AUTH}};
    if (r->type != REDIS_REPLY_ERROR)
        return -1;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (r->len >= codes[i].len && memcmp(r->str, codes[i].code, codes[i].len) == 0 &&
            (r->len == codes[i].len || r->str[codes[i].len] == ' '))
            return (int)codes[i].why;
    return -1;
}

int mf_redis__refusals(redisReply **replies, int n, int *all)
{
    int first = -1;
    *all = 1;
    for (int i = 0; i < n; i++) {
        int why = refusal(replies[i]);
        if (why < 0)
            *all = 0;
        else if (first < 0)
            first = why;
    }
    if (first < 0)
        *all = 0;
    return first;
}

void mf_redis__no_primary(void)
{
    atomic_fetch_add(&mf_redis__totals.failures, 1);
}

void mf_redis__observe(redisReply **replies, int n, int64_t ns)
{
    double secs = (double)ns / 1e9;
    atomic_fetch_add_explicit(&mf_redis__totals.commands, (uint64_t)n, memory_order_relaxed);
    atomic_fetch_add_explicit(&mf_redis__totals.lat_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mf_redis__totals.lat_sum_ns, (uint64_t)ns, memory_order_relaxed);
    /* One bucket counts it (the first whose bound it is under): summed into Prometheus's
     * cumulative ones at a scrape, not here on every call. */
    for (int i = 0; i < MF_REDIS_BUCKETS; i++) {
        if (secs <= mf_redis_bucket_bounds[i]) {
            atomic_fetch_add_explicit(&mf_redis__totals.lat_buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    for (int i = 0; i < n; i++)
        if (replies[i]->type == REDIS_REPLY_ERROR)
            atomic_fetch_add_explicit(&mf_redis__totals.error_replies, 1, memory_order_relaxed);
}

/* ---- calls that block ---- */

int mf_redis_run(const mf_redis_cmd_t *cmds, int n, redisReply **replies, char *err, size_t errlen)
{
    if (mf_redis__usable(err, errlen))
        return -1;
    if (redis.topology == MF_REDIS_CLUSTER)
        return mf_redis_cluster_run(cmds, n, replies, err, errlen);
    return mf_redis_server_run(mf_redis_server_main(), cmds, n, replies, 0, err, errlen);
}

int mf_redis_run_on_primaries(const mf_redis_cmd_t *cmd, redisReply **replies, int max, char *err,
                              size_t errlen)
{
    if (mf_redis__usable(err, errlen))
        return -1;
    if (redis.topology == MF_REDIS_CLUSTER)
        return mf_redis_cluster_run_on_primaries(cmd, replies, max, err, errlen);
    if (max < 1 || mf_redis_run(cmd, 1, replies, err, errlen))
        return -1;
    return 1;
}

/* ---- readiness, metrics, shutdown ---- */

int mf_redis_check(char *why, size_t n)
{
    static const char *ping[] = {"PING"};
    static const size_t ping_len[] = {4};
    mf_redis_cmd_t cmd = {1, ping, ping_len};
    redisReply *r;

    if (!redis.configured)
        return 0;
    if (redis.topology == MF_REDIS_CLUSTER && !redis.settings_error[0])
        return mf_redis_cluster_check(why, n);
    /* No primary known: say why at once rather than wait for one (a probe has its own
     * timeout, often shorter than a call's). */
    if (redis.topology == MF_REDIS_SENTINEL && !redis.settings_error[0] &&
        !mf_redis_sentinel_describe(why, n))
        return -1;
    if (mf_redis_run(&cmd, 1, &r, why, n))
        return -1;
    int ok = r->type == REDIS_REPLY_STATUS;
    if (!ok)
        snprintf(why, n, "Redis answered PING with: %.*s", (int)r->len, r->str ? r->str : "");
    else if (redis.topology == MF_REDIS_SENTINEL)
        mf_redis_sentinel_describe(why, n);
    else
        snprintf(why, n, "%s %s%s", mf_redis_topology_name(redis.topology),
                 mf_redis_server_name(mf_redis_server_main()), redis.tls ? " (TLS)" : "");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

void mf_redis_stats(mf_redis_stats_t *s)
{
    mf_redis_server_stats_t all;
    memset(s, 0, sizeof *s);
    s->commands_total = atomic_load(&mf_redis__totals.commands);
    s->error_replies_total = atomic_load(&mf_redis__totals.error_replies);
    s->failures_total = atomic_load(&mf_redis__totals.failures);
    s->rejected_total = atomic_load(&mf_redis__totals.rejected);
    for (int i = 0; i < MF_REDIS_RECONNECT_REASONS; i++)
        s->reconnects_total[i] = atomic_load(&mf_redis__totals.reconnects[i]);
    s->failovers_total = redis.topology == MF_REDIS_SENTINEL ? mf_redis_sentinel_failovers() : 0;
    s->tls_handshake_failures_total = atomic_load(&mf_redis__totals.tls_handshake_failures);
    s->latency_count = atomic_load(&mf_redis__totals.lat_count);
    s->latency_sum_seconds = (double)atomic_load(&mf_redis__totals.lat_sum_ns) / 1e9;
    for (int i = 0; i < MF_REDIS_BUCKETS; i++)
        s->latency_buckets[i] =
            atomic_load(&mf_redis__totals.lat_buckets[i]) + (i ? s->latency_buckets[i - 1] : 0);
    mf_redis_server_stats(NULL, &all);
    s->pool_size = all.pool_size;
    s->pool_in_use = all.in_use;
    s->pool_open = all.open;
    s->breaker_state = all.breaker_state;
    if (redis.topology == MF_REDIS_CLUSTER) {
        mf_redis_cluster_stats_t c;
        mf_redis_cluster_stats(&c);
        memcpy(s->cluster_redirects_total, c.redirects, sizeof s->cluster_redirects_total);
        s->cluster_refreshes_ok = c.refreshes_ok;
        s->cluster_refreshes_failed = c.refreshes_failed;
        s->cluster_slots_covered = c.slots_covered;
        s->cluster_primaries = c.primaries;
    }
}

int mf_redis_server_errors(int i, char *name, size_t n, uint64_t *errors)
{
    mf_redis_server_t *s = mf_redis_server_of_id(i);
    mf_redis_server_stats_t st;
    if (!s)
        return -1;
    mf_redis_server_stats(s, &st);
    snprintf(name, n, "%s", mf_redis_server_name(s));
    *errors = st.errors;
    return 0;
}

void mf_redis_shutdown(void)
{
    if (redis.topology == MF_REDIS_SENTINEL)
        mf_redis_sentinel_stop();
    if (redis.topology == MF_REDIS_CLUSTER)
        mf_redis_cluster_stop();
    mf_redis_servers_shutdown();
}
