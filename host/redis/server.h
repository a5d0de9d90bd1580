/* One Redis server's share of the process: at most MAYFLY_REDIS_POOL_SIZE connections to it
 * (the pool lends them for one blocking call at a time; each worker's own connection takes one
 * for good, leaving at least one to the pool), the circuit breaker that fails its calls fast
 * while it is down, the backoff between failed connects, and its error count. The bound is per
 * server because Redis's maxclients is: every server sees at most that many connections from
 * one mayfly process, whatever the worker count and the topology.
 *
 * One server (redis://): the URL's. Sentinel: "the primary", wherever the sentinels say it is
 * now. A cluster: one per node seen, made on first sight and kept until shutdown, so a pointer
 * to one stays valid. Nothing outside redis/ includes this. */
#ifndef MF_REDIS_SERVER_H
#define MF_REDIS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis/link.h"
#include "redis/redis.h"

typedef struct mf_redis_server mf_redis_server_t;

/* Most servers one process keeps (a cluster's nodes, seen over its life). */
#define MF_REDIS_MAX_SERVERS 256

/* The settings every server shares, set once by mf_redis_init before any server is made. */
void mf_redis_servers_init(int pool_size, int64_t timeout_ms);

/* The server at host:port, made when first asked for (thread-safe). NULL once
 * MF_REDIS_MAX_SERVERS are known. */
mf_redis_server_t *mf_redis_server_at(const char *host, int port);

/* The one server of redis:// and redis+sentinel:// (its address unused for Sentinel). */
mf_redis_server_t *mf_redis_server_main(void);

/* Its index among the servers made (0 up), for per-server tables. */
int mf_redis_server_id(const mf_redis_server_t *s);
const char *mf_redis_server_host(const mf_redis_server_t *s);
int mf_redis_server_port(const mf_redis_server_t *s);
/* "host:port" ("[host]:port" for IPv6), as messages and metrics name it. */
const char *mf_redis_server_name(const mf_redis_server_t *s);
/* How many servers were made so far, and the one of index id (< that count). */
int mf_redis_servers_count(void);
mf_redis_server_t *mf_redis_server_of_id(int id);

/* Sends n commands on one of s's pooled connections and reads their replies (the rules at the
 * top of redis.c), within two timeouts of the borrow and by deadline_ns (0: no other bound).
 * Returns 0 with replies filled (the caller frees each), or -1 with err set: the outage case. */
int mf_redis_server_run(mf_redis_server_t *s, const mf_redis_cmd_t *cmds, int n,
                        redisReply **replies, int64_t deadline_ns, char *err, size_t errlen);

/* Takes one connection of s's budget for a worker's own connection, leaving at least one for the
 * pool. Returns the slot to give back, or -1 when the budget is spent. */
int mf_redis_server_reserve(mf_redis_server_t *s);
void mf_redis_server_unreserve(mf_redis_server_t *s, int slot);

/* The breaker's word on a call to s starting now: 0, or -1 with the reason (counted as
 * rejected). *probe is set when this call is the half-open probe. */
int mf_redis_server_allow(mf_redis_server_t *s, int *probe, char *err, size_t errlen);
/* Whether a new connection to s may be tried now (backoff after failed connects); -1 with the
 * failure that started the backoff. */
int mf_redis_server_may_connect(mf_redis_server_t *s, int probe, char *err, size_t errlen);
/* A connect to s (to the primary of epoch) that failed with kind (mf_redis_link_error_t) and
 * why: counted, the backoff started, logged when it starts a run of failures or says something
 * new; then mf_redis__dropped's consequences where they apply (a refused AUTH has the password
 * read again; a refused or lost connection has the topology looked at again). */
void mf_redis_server_connect_failed(mf_redis_server_t *s, int kind, const char *why,
                                    uint64_t epoch);
void mf_redis_server_opened(mf_redis_server_t *s, int delta); /* connections open: +1, -1 */
/* A round trip to s that failed (I/O, timeout): counted, the breaker told, why kept for later
 * rejections. */
void mf_redis_server_failed(mf_redis_server_t *s, const char *why);
/* A round trip to s of n commands that got its replies in ns. */
void mf_redis_server_succeeded(mf_redis_server_t *s, redisReply **replies, int n, int64_t ns);

/* The breaker and backoff start afresh (a new primary was named: they were about the server
 * that was replaced). */
void mf_redis_server_reset(mf_redis_server_t *s);

typedef struct {
    int pool_size, in_use, open;
    int breaker_state; /* the worst of them: open over half-open over closed */
    uint64_t errors;   /* connects and round trips that failed */
} mf_redis_server_stats_t;

/* s's numbers (s NULL: summed over every server). */
void mf_redis_server_stats(const mf_redis_server_t *s, mf_redis_server_stats_t *out);

/* Closes every pooled connection of every server; later calls fail (shutdown). */
void mf_redis_servers_shutdown(void);

#endif
