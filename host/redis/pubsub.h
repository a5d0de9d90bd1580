/* Redis pub/sub for a worker: one subscriber connection per loop (link.h: TCP or TLS, AUTH as
 * the URL says) serves every subscription the loop's runs hold. A channel (or pattern) is
 * subscribed when its first local subscription names it and unsubscribed when its last one goes,
 * so one Redis connection per worker carries any number of subscribers; each message is handed
 * to every subscription that names its channel (or pattern), into a bounded queue of its own.
 *
 * Where the connection goes: the URL's server; for Sentinel, the primary the follower knows now
 * (a new one is followed within MF_REDIS_PUBSUB_TICK_MS); for a cluster, a primary of the slot
 * map (classic pub/sub is broadcast to every node), else a seed. A connection that is lost, or
 * cannot be made, is made again with backoff, and every channel and pattern still wanted is
 * subscribed again: messages published meanwhile are lost (pub/sub's contract), and nobody
 * waiting is told of the outage. So subscribing while Redis is down succeeds: the channel is
 * wanted, and subscribed once the connection is back.
 *
 * No Lua: the binding (lua/api/subscribe.c) takes messages and is told when one arrives. One
 * loop's thread only, but the metrics. */
#ifndef MF_REDIS_PUBSUB_H
#define MF_REDIS_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "base/options.h"
#include "event/loop.h"

/* Messages a subscription keeps for its reader. A reader that falls this far behind (a stream
 * to a slow client, a loop that does other work between reads) loses the oldest, counted: the
 * bound keeps one stalled reader from holding a publisher's whole output in memory. */
#define MF_REDIS_SUB_QUEUE_MAX 1024
/* Channels (or patterns) one subscription may name. */
#define MF_REDIS_SUB_MAX_NAMES 64
/* How often the connection is looked after: a Sentinel's new primary followed, a PING sent. */
#define MF_REDIS_PUBSUB_TICK_MS 1000

typedef struct mf_redis_sub mf_redis_sub_t;

/* One message; its bytes are binary-safe and stay valid until it is released. */
typedef struct {
    const char *payload, *channel, *pattern; /* pattern NULL: a channel subscription's */
    size_t payload_len, channel_len, pattern_len;
    /* private */
    int refs;
} mf_redis_msg_t;

void mf_redis_msg_release(mf_redis_msg_t *m);

/* A subscription of loop's worker to n channels (patterns when patterns is set: PSUBSCRIBE's
 * glob syntax), names[i] of lens[i] bytes (copied; a name given twice counts once), 1 <= n <=
 * MF_REDIS_SUB_MAX_NAMES. The options give the URL's seeds to a cluster's subscriber. Returns
 * it (the caller closes it), or NULL with err set when Redis is not configured or its settings
 * were refused. Never fails for Redis being down. */
mf_redis_sub_t *mf_redis_subscribe(mf_loop_t *loop, const mf_options_t *o, int patterns,
                                   const char *const *names, const size_t *lens, int n, char *err,
                                   size_t errlen);

/* Whether Redis has confirmed every channel (or pattern) of s, so that a message published from
 * now on reaches it: returns 1 when it has, or when it will not be told soon (Redis cannot be
 * reached now: the channels are subscribed once a connection is back); else 0, and fn(ud) is
 * called once when it has, or when the link failed. fn NULL forgets an earlier fn. */
int mf_redis_sub_when_ready(mf_redis_sub_t *s, void (*fn)(void *ud), void *ud);

/* The oldest message queued (the caller releases it), or NULL when none is. */
mf_redis_msg_t *mf_redis_sub_take(mf_redis_sub_t *s);

/* fn(ud) is called, once, when a message is queued for s (from the loop, never from within a
 * call of this file's); fn NULL forgets it. fn may take messages, and must not close a
 * subscription. */
void mf_redis_sub_notify(mf_redis_sub_t *s, void (*fn)(void *ud), void *ud);

/* Messages s lost to MF_REDIS_SUB_QUEUE_MAX. */
uint64_t mf_redis_sub_dropped(const mf_redis_sub_t *s);

/* Ends s and frees it with the messages it still held; its channels nobody else on the loop
 * names are unsubscribed. */
void mf_redis_sub_close(mf_redis_sub_t *s);

/* Adds the pub/sub families to /metrics (registered by mf_redis_metrics_register). */
void mf_redis_pubsub_metrics_register(void);

#endif
