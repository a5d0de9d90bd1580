/* Between redis.c (the process's settings, its pool, the breaker and the counters) and conn.c
 * (each worker's own multiplexed connection): where a connection goes, the connection budget,
 * and the accounting both share. Nothing outside redis/ includes this. */
#ifndef MF_REDIS_PRIVATE_H
#define MF_REDIS_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis/link.h"
#include "redis/redis.h"

/* 0 when calls may be tried, or -1 with the reason in err (not configured, settings refused by
 * mf_redis_init). */
int mf_redis__usable(char *err, size_t errlen);
int64_t mf_redis__timeout_ms(void);

/* A link to the server (for Sentinel: the primary known now, waiting for one up to wait_ns, 0:
 * no wait), starting to connect, with the setup of a data connection (AUTH with the password as
 * it is now, SELECT); *epoch is the primary's (mf_redis__stale). NULL with the reason in err
 * when none can be opened: not configured, no primary known (*no_primary set: a switch under
 * way), or the password file cannot be read (counted as a failed connect). */
mf_redis_link_t *mf_redis__link_open(int64_t wait_ns, uint64_t *epoch, int *no_primary, char *err,
                                     size_t errlen);

/* 1 when a connection made in epoch went to a primary the sentinels have since replaced: it is
 * closed rather than used (its server may be a replica now). Always 0 for one server. */
int mf_redis__stale(uint64_t epoch);

/* Takes one connection of the pool's budget for a worker's own connection, leaving at least one
 * for the pool. Returns the slot to give back, or -1 when the budget is spent. */
int mf_redis__reserve(void);
void mf_redis__unreserve(int slot);

/* The breaker's word on a call starting now: 0, or -1 with the reason (counted as rejected).
 * *probe is set when this call is the half-open probe. */
int mf_redis__allow(int *probe, char *err, size_t errlen);
/* Whether a new connection may be tried now (backoff after failed connects); -1 with the
 * failure that started the backoff. */
int mf_redis__may_connect(int probe, char *err, size_t errlen);
/* A connect to the primary of epoch that failed with kind (mf_redis_link_error_t) and why:
 * counted, the backoff started, logged when it starts a run of failures or says something new.
 * A refused AUTH has the password file read again by the next connect; a refused or lost
 * connection has the sentinels asked again (the primary may have moved). */
void mf_redis__connect_failed(int kind, const char *why, uint64_t epoch);
void mf_redis__opened(int delta); /* connections open: +1, -1 */

/* A connection to the primary of epoch closed for why so that the next command opens a new one:
 * counted; READONLY, MASTERDOWN, a timeout or a broken connection have the sentinels asked
 * again at once (the primary may have moved). */
void mf_redis__dropped(mf_redis_reconnect_t why, uint64_t epoch);
/* What n replies say about their connection: the reason to drop it given by the first refusal
 * among them (READONLY, MASTERDOWN, LOADING, NOAUTH: the server refused the command without
 * running it), or -1 when none is one. *all is set when every reply is a refusal: nothing of
 * the call ran, so it may be sent again. */
int mf_redis__refusals(redisReply **replies, int n, int *all);

/* A round trip that failed (I/O, timeout): counted, the breaker told, why kept for later
 * rejections. */
void mf_redis__failed(const char *why);
/* A call that gave up waiting for a primary to be known (a Sentinel switch): counted as failed
 * but not told to the breaker, which would otherwise fail at once the calls made just before
 * the new primary is announced. */
void mf_redis__no_primary(const char *why);
/* A round trip of n commands that got its replies in ns. */
void mf_redis__succeeded(redisReply **replies, int n, int64_t ns);

#endif
