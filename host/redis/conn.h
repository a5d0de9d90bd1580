/* A worker's own Redis connection: one multiplexed connection (link.h, TCP or TLS) on the
 * worker's loop, so a command suspends only its run. It takes one connection of
 * MAYFLY_REDIS_POOL_SIZE's budget and shares the breaker, backoff, retry rules and counters of
 * redis.c; commands that would change the connection are refused before they get here
 * (lua/api/redis.c). */
#ifndef MF_REDIS_CONN_H
#define MF_REDIS_CONN_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "event/loop.h"
#include "redis/redis.h"

typedef struct mf_redis_conn mf_redis_conn_t;

/* The loop's connection, made on first use. NULL when Redis is not configured or the pool's
 * budget leaves none for this worker (its calls then block on the pool). */
mf_redis_conn_t *mf_redis_conn_of(mf_loop_t *loop);

/* Called once with the n replies (owned by the callee: freeReplyObject each), or with err when
 * Redis could not be reached in time: the outage case. */
typedef void (*mf_redis_done_fn)(void *ud, redisReply **replies, int n, const char *err);

/* Sends n commands in one write (cmds is copied: it may go once this returns). Returns 0 with
 * done to be called from a later turn of the loop, never from within this call, by deadline_ns at
 * the latest (with the timeout error when no reply came), or -1 with err set when the call fails
 * fast (breaker open, backing off after failed connects, a connect that failed at once). */
int mf_redis_conn_send(mf_redis_conn_t *c, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                       mf_redis_done_fn done, void *ud, char *err, size_t errlen);

#endif
