/* Between the two halves of a loop's pub/sub (pubsub.h): pubsub.c keeps the subscriptions, the
 * names they want (a hash by name, each name with the list of subscriptions naming it) and their
 * queues; pubsub_link.c keeps the one connection that holds every name subscribed. Nothing else
 * includes this. */
#ifndef MF_REDIS_PUBSUB_PRIVATE_H
#define MF_REDIS_PUBSUB_PRIVATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "event/loop.h"
#include "redis/link.h"
#include "redis/pubsub.h"
#include "redis/server.h"
#include "redis/url.h"

/* The process's numbers, for metrics. */
typedef struct {
    _Atomic int64_t subscriptions, channels;
    _Atomic uint64_t messages, dropped, reconnects;
} mf_redis_pubsub_totals_t;
extern mf_redis_pubsub_totals_t mf_redis__pubsub_totals;

typedef struct mf_redis_pubsub_member mf_redis_pubsub_member_t;

/* A channel or pattern some subscription of the loop names. */
typedef struct mf_redis_pubsub_name {
    struct mf_redis_pubsub_name *next_in_bucket;
    mf_redis_pubsub_member_t *members; /* the subscriptions naming it; never none */
    int pattern;
    size_t len;
    char name[];
} mf_redis_pubsub_name_t;

/* The link's states: no link and nothing wanted; no link, the timer starts the next; the
 * timer is the connect's deadline; the timer is the tick (pubsub_link.c). */
typedef enum {
    MF_PUBSUB_IDLE,
    MF_PUBSUB_BACKING_OFF,
    MF_PUBSUB_CONNECTING,
    MF_PUBSUB_OPEN
} mf_redis_pubsub_state_t;

/* A loop's pub/sub: its service. */
typedef struct {
    mf_loop_t *loop;
    mf_redis_pubsub_name_t **buckets;
    size_t nbuckets, nnames;
    mf_redis_sub_t *subs;

    /* The link (pubsub_link.c). */
    mf_redis_pubsub_state_t state;
    mf_redis_link_t *link;
    mf_watcher_t *watch;
    mf_redis_server_t *server; /* where the link went */
    uint64_t epoch;            /* of the primary it went to (Sentinel) */
    mf_timer_t timer;          /* by state, above */
    mf_timer_t flush;          /* armed while commands wait in the output for the turn's end */
    int failures;              /* connects in a row that came to nothing */
    int64_t started_ns;        /* of the connect */
    int64_t ping_ns;           /* when the PING not yet answered went; 0: none is */
    int64_t last_ping_ns;
    int64_t idle_since_ns; /* holding nothing since; 0: holds something */
    int64_t confirmed;     /* channels and patterns Redis says the link holds */
    /* Confirmations of (un)subscribing: one per name sent, answered in order. A subscription
     * is in place once the answers reach the count its names were sent at. */
    uint64_t acks_sent, acks_got;
    unsigned rotor;        /* a cluster's node to try next */
    char last_refusal[256];
    mf_redis_node_t *seeds; /* a cluster's, from the URL */
    int nseeds;
} mf_redis_pubsub_t;

/* pubsub.c: a message to every subscription of its channel (pattern NULL) or pattern. */
void mf_redis__pubsub_deliver(mf_redis_pubsub_t *ps, const redisReply *pattern,
                              const redisReply *channel, const redisReply *payload);

/* pubsub_link.c: the link's timers (at the service's birth); n just got its first subscription
 * (on set: subscribed now, or by the next link) or lost its last (unsubscribed now, if a link
 * is open; n goes after the call); the link closed (with the service). */
void mf_redis__pubsub_link_init(mf_redis_pubsub_t *ps);
/* pubsub.c: Redis answered, the link opened or was lost: subscriptions waiting to be in place
 * (mf_redis_sub_when_ready) learn whether they are. */
void mf_redis__pubsub_settle(mf_redis_pubsub_t *ps);
void mf_redis__pubsub_want(mf_redis_pubsub_t *ps, const mf_redis_pubsub_name_t *n, int on);
void mf_redis__pubsub_link_free(mf_redis_pubsub_t *ps);

#endif
