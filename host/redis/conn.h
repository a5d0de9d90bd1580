/* A worker's own Redis connections: one multiplexed connection (link.h, TCP or TLS) per server
 * on the worker's loop, so a command suspends only its run. Each takes one connection of its
 * server's MAYFLY_REDIS_POOL_SIZE budget and shares the server's breaker, backoff and retry
 * rules (server.c); commands that would change the connection are refused before they get here
 * (lua/api/redis.c). */
#ifndef MF_REDIS_CONN_H
#define MF_REDIS_CONN_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "event/loop.h"
#include "redis/redis.h"

/* Called once with the n replies (owned by the callee: freeReplyObject each), or with err when
 * Redis could not be reached in time: the outage case. */
typedef void (*mf_redis_done_fn)(void *ud, redisReply **replies, int n, const char *err);

/* Sends n commands from the worker whose loop this is, on its own connections, whatever the
 * topology. Returns 0 with done to be called from a later turn of the loop (by deadline_ns at
 * the latest), -1 with err set when the call fails fast (the outage case), or 1 when the worker
 * has no connection of its own for them (the server's budget is spent): the caller blocks on
 * mf_redis_run instead. */
int mf_redis_send(mf_loop_t *loop, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                  mf_redis_done_fn done, void *ud, char *err, size_t errlen);

/* ---- for redis/ itself ---- */

typedef struct mf_redis_conn mf_redis_conn_t;
struct mf_redis_server;

/* The loop's connection to server, made on first use. NULL when Redis is not configured or the
 * server's budget leaves none for this worker. */
mf_redis_conn_t *mf_redis_conn_of(mf_loop_t *loop, struct mf_redis_server *server);

/* Sends n commands in one write (cmds is copied: it may go once this returns). Returns 0 with
 * done to be called from a later turn of the loop, never from within this call, by deadline_ns at
 * the latest (with the timeout error when no reply came), or -1 with err set when the call fails
 * fast (breaker open, backing off after failed connects, a connect that failed at once). */
int mf_redis_conn_send(mf_redis_conn_t *c, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                       mf_redis_done_fn done, void *ud, char *err, size_t errlen);

/* The same for n commands already in RESP form, gathered from iov[0..iovcnt) (copied). */
struct iovec;
int mf_redis_conn_send_iov(mf_redis_conn_t *c, const struct iovec *iov, int iovcnt, int n,
                           int64_t deadline_ns, mf_redis_done_fn done, void *ud, char *err,
                           size_t errlen);

#endif
