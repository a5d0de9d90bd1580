/* The process's way to Redis: a bounded pool of connections (link.h: TCP or TLS) shared by every
 * worker, a connect and command timeout, a circuit breaker, and the numbers metrics and /readyz
 * need.
 * Every call here is thread-safe. What a command may be and how replies look to Lua is
 * lua/api/redis.c's business; this file moves bytes and keeps the connections healthy. */
#ifndef MF_REDIS_H
#define MF_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "base/options.h"

/* Reads MAYFLY_REDIS_URL, the TLS settings and the password file, and sets up the pool and
 * breaker from o. Idempotent: later calls (one per Lua state) do nothing. Returns 0, or -1 with a
 * message in err when the settings are wrong: a malformed URL, a topology not supported, a TLS
 * file that cannot be read or a key that is not the certificate's, a password file that cannot
 * be read (Redis calls then fail with that message). */
int mf_redis_init(const mf_options_t *o, char *err, size_t errlen);

/* 1 when MAYFLY_REDIS_URL is set. */
int mf_redis_configured(void);

/* 1 when it names a Redis Cluster (redis+cluster://): some commands mean nothing there
 * (command_keys.h), and multi-key commands need their keys in one slot. */
int mf_redis_cluster_mode(void);

/* One command: argc words of argv/lens (binary-safe). */
typedef struct {
    int argc;
    const char **argv;
    const size_t *lens;
} mf_redis_cmd_t;

/* Sends n commands on one pooled connection in one round trip and reads their n replies into
 * replies[0..n). Returns 0 (the caller owns the replies: freeReplyObject each), or -1 with
 * replies untouched and a message in err when Redis is not configured, unreachable, too slow,
 * or the breaker is open: the outage case, which the HTTP layer answers with 503. An error
 * reply is a reply (REDIS_REPLY_ERROR), not a failure. Blocks at most about three timeouts (a
 * wait for a free connection, then two for the call, a retry included: redis.c says which). */
int mf_redis_run(const mf_redis_cmd_t *cmds, int n, redisReply **replies, char *err, size_t errlen);

/* Sends cmd to every primary (the one server, Sentinel's primary, or each primary of a cluster's
 * slot map), one after the other: for what is about the whole data set (the test runner's
 * DBSIZE and FLUSHDB). Fills replies[0..k) for the k primaries (at most max; the caller frees
 * each) and returns k, or returns -1 with err set, no reply kept, when one of them failed. */
int mf_redis_run_on_primaries(const mf_redis_cmd_t *cmd, redisReply **replies, int max, char *err,
                              size_t errlen);

/* The readiness check: returns 0 when Redis is not configured, or answers a PING (why then names
 * the topology and the server: "single 10.0.0.7:6379 (TLS)"); -1 with the reason in why
 * otherwise (without a round trip while the breaker is open). */
int mf_redis_check(char *why, size_t n);

/* Latency histogram bounds in seconds (cumulative buckets, Prometheus style; +Inf implied). */
#define MF_REDIS_BUCKETS 10
extern const double mf_redis_bucket_bounds[MF_REDIS_BUCKETS];

/* Why a connection was closed so that the next command opens a new one. */
typedef enum {
    MF_REDIS_RECONNECT_READONLY,   /* -READONLY: a replica (the primary moved) */
    MF_REDIS_RECONNECT_MASTERDOWN, /* -MASTERDOWN: a replica that lost its primary */
    MF_REDIS_RECONNECT_LOADING,    /* -LOADING: a server loading its data */
    MF_REDIS_RECONNECT_AUTH,       /* AUTH refused, or -NOAUTH: the password is read again */
    MF_REDIS_RECONNECT_TIMEOUT,    /* no reply in time */
    MF_REDIS_RECONNECT_IO,         /* closed by the server, reset, or not RESP */
    MF_REDIS_RECONNECT_FAILOVER,   /* made for a primary the sentinels replaced */
    MF_REDIS_RECONNECT_REASONS
} mf_redis_reconnect_t;

/* The reasons' names in metrics: "readonly", "masterdown", ... */
extern const char *const mf_redis_reconnect_names[MF_REDIS_RECONNECT_REASONS];

typedef struct {
    uint64_t commands_total;      /* commands sent (a pipeline of n counts n) */
    uint64_t error_replies_total; /* error replies Redis gave */
    uint64_t failures_total;      /* round trips that failed: connect, I/O, timeout */
    uint64_t rejected_total;      /* calls failed fast: breaker open or pool wait timed out */
    uint64_t reconnects_total[MF_REDIS_RECONNECT_REASONS];
    uint64_t failovers_total; /* primaries the sentinels replaced (0 for one server) */
    uint64_t tls_handshake_failures_total; /* the certificate refused, or the handshake failed */
    uint64_t latency_count; /* round trips timed (one per mf_redis_run that got replies) */
    double latency_sum_seconds;
    uint64_t latency_buckets[MF_REDIS_BUCKETS]; /* cumulative: count <= bound */
    int pool_size;     /* most connections this process opens (summed over a cluster's nodes) */
    int pool_in_use;   /* borrowed right now */
    int pool_open;     /* connected right now */
    int breaker_state; /* mf_breaker_state_t (a cluster: the worst of its nodes') */
    /* A cluster's (zero elsewhere): redirects followed (moved, ask, tryagain), slot-map reads
     * that worked or failed, and the map in use. */
    uint64_t cluster_redirects_total[3];
    uint64_t cluster_refreshes_ok, cluster_refreshes_failed;
    int cluster_slots_covered, cluster_primaries;
} mf_redis_stats_t;

/* Per server: fills name with "host:port" and *errors with its failed connects and round trips
 * for the server of index i; returns 0, or -1 past the last server. */
int mf_redis_server_errors(int i, char *name, size_t n, uint64_t *errors);

/* A snapshot for metrics (each field read atomically; the set is not one instant). */
void mf_redis_stats(mf_redis_stats_t *s);

/* Adds the Redis families to /metrics (metrics.c); they stay empty while Redis is not
 * configured. Once, at start-up. */
void mf_redis_metrics_register(void);

/* Closes every pooled connection (shutdown). Connections borrowed at the time are closed when
 * returned. Later calls to mf_redis_run fail. */
void mf_redis_shutdown(void);

#endif
