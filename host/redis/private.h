/* What redis.c (the process's settings, the topology, the counters), server.c (each server's
 * pool, breaker and backoff), conn.c (each worker's multiplexed connections) and the cluster's
 * files share: where a connection goes, and the accounting. Nothing outside redis/ includes
 * this. */
#ifndef MF_REDIS_PRIVATE_H
#define MF_REDIS_PRIVATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis/link.h"
#include "redis/redis.h"
#include "redis/server.h"
#include "redis/url.h"

/* The process's totals, over every server (redis.c keeps them; metrics read them). */
typedef struct {
    _Atomic uint64_t commands, error_replies, failures, rejected, lat_count, lat_sum_ns;
    _Atomic uint64_t lat_buckets[MF_REDIS_BUCKETS];
    _Atomic uint64_t reconnects[MF_REDIS_RECONNECT_REASONS];
    _Atomic uint64_t tls_handshake_failures;
} mf_redis_totals_t;
extern mf_redis_totals_t mf_redis__totals;

/* 0 when calls may be tried, or -1 with the reason in err (not configured, settings refused by
 * mf_redis_init). */
int mf_redis__usable(char *err, size_t errlen);
int64_t mf_redis__timeout_ms(void);
mf_redis_topology_t mf_redis__topology(void);

/* A link to s (for Sentinel: to the primary known now, waiting for one up to wait_ns, 0: no
 * wait), starting to connect, with the setup of a data connection (AUTH with the password as
 * it is now, SELECT); *epoch is the primary's (mf_redis__stale). NULL with the reason in err
 * when none can be opened: not configured, no primary known (*no_primary set: a switch under
 * way), or the password file cannot be read (counted as a failed connect). */
mf_redis_link_t *mf_redis__link_open(mf_redis_server_t *s, int64_t wait_ns, uint64_t *epoch,
                                     int *no_primary, char *err, size_t errlen);

/* 1 when a connection made in epoch went to a primary the sentinels have since replaced: it is
 * closed rather than used (its server may be a replica now). Always 0 for other topologies. */
int mf_redis__stale(uint64_t epoch);

/* What a connection's failure says about the topology: the sentinels are asked again for the
 * primary of epoch, or the cluster's slot map is read again. */
void mf_redis__suspect(uint64_t epoch, const char *why);

/* A connection to the primary of epoch closed for why so that the next command opens a new one:
 * counted; READONLY, MASTERDOWN, a timeout or a broken connection have the topology looked at
 * again at once (mf_redis__suspect). */
void mf_redis__dropped(mf_redis_reconnect_t why, uint64_t epoch);
/* What n replies say about their connection: the reason to drop it given by the first refusal
 * among them (READONLY, MASTERDOWN, LOADING, NOAUTH: the server refused the command without
 * running it), or -1 when none is one. *all is set when every reply is a refusal: nothing of
 * the call ran, so it may be sent again. */
int mf_redis__refusals(redisReply **replies, int n, int *all);

/* A call that gave up waiting for a primary to be known (a Sentinel switch): counted as failed
 * but not told to the breaker, which would otherwise fail at once the calls made just before
 * the new primary is announced. */
void mf_redis__no_primary(void);
/* A round trip of n commands that got its replies in ns: counted in the totals. */
void mf_redis__observe(redisReply **replies, int n, int64_t ns);

#endif
