/* A loop's subscriber connection (pubsub_private.h): one link that holds every name the loop's
 * subscriptions want, driven as a worker's connection is (conn.c): commands appended during a
 * turn leave together at its end, replies are read as they come. Replies are RESP2 push arrays:
 * ["message", channel, payload], ["pmessage", pattern, channel, payload], and the confirmations
 * ["subscribe", name, count] (and its three siblings), whose count is what the link holds. A
 * link that is lost, or cannot be made, is made again after a backoff and subscribes to every
 * name still wanted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "observe/log.h"
#include "redis/cluster.h"
#include "redis/private.h"
#include "redis/pubsub_private.h"

/* Between connects that came to nothing: doubling from the least to the most. */
#define BACKOFF_MIN_MS 25
#define BACKOFF_MAX_MS 1000
/* A PING goes this long after the last; unanswered this long after, the connection is taken
 * for dead (a server gone without a word: a partition, a host that vanished). */
#define PING_EVERY_MS 5000
/* A connection with nothing to hold for this long is closed: a worker that used pub/sub once
 * does not keep a connection for good. */
#define IDLE_CLOSE_MS 60000
/* Names per command when a new connection subscribes to everything again. */
#define NAMES_PER_COMMAND 256

typedef mf_redis_pubsub_t pubsub_t;
typedef mf_redis_pubsub_name_t name_t;

/* ---- commands ---- */

static void arm_flush(pubsub_t *ps)
{
    if (!mf_timer_armed(&ps->flush))
        mf_loop_timer_start(ps->loop, &ps->flush, 0);
}

/* Appends verb with n names (at most NAMES_PER_COMMAND) to the link's output, for the turn's
 * end. */
static void send_names(pubsub_t *ps, const char *verb, const char *const *names, const size_t *lens,
                       int n)
{
    const char *argv[NAMES_PER_COMMAND + 1];
    size_t argl[NAMES_PER_COMMAND + 1];
    argv[0] = verb;
    argl[0] = strlen(verb);
    memcpy(argv + 1, names, (size_t)n * sizeof *names);
    memcpy(argl + 1, lens, (size_t)n * sizeof *lens);
    mf_redis_cmd_t cmd = {n + 1, argv, argl};
    size_t len = mf_redis_format_len(&cmd, 1);
    char *bytes = mf_xmalloc(len);
    mf_redis_format(bytes, &cmd, 1);
    mf_redis_link_append(ps->link, bytes, len);
    free(bytes);
    ps->acks_sent += (uint64_t)n;
    arm_flush(ps);
}

static void send_name(pubsub_t *ps, const name_t *n, int subscribe)
{
    const char *verb = subscribe ? (n->pattern ? "PSUBSCRIBE" : "SUBSCRIBE")
                                 : (n->pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE");
    const char *text = n->name;
    send_names(ps, verb, &text, &n->len, 1);
}

/* A new link subscribes to every name wanted. */
static void subscribe_all(pubsub_t *ps)
{
    const char *names[NAMES_PER_COMMAND];
    size_t lens[NAMES_PER_COMMAND];
    for (int pattern = 0; pattern < 2; pattern++) {
        const char *verb = pattern ? "PSUBSCRIBE" : "SUBSCRIBE";
        int count = 0;
        for (size_t i = 0; i < ps->nbuckets; i++) {
            for (name_t *n = ps->buckets[i]; n; n = n->next_in_bucket) {
                if (n->pattern != pattern)
                    continue;
                names[count] = n->name;
                lens[count++] = n->len;
                if (count == NAMES_PER_COMMAND) {
                    send_names(ps, verb, names, lens, count);
                    count = 0;
                }
            }
        }
        if (count)
            send_names(ps, verb, names, lens, count);
    }
}

/* ---- the link ---- */

static void on_io(void *ud, uint32_t events);

static void watch(pubsub_t *ps)
{
    uint32_t events = mf_redis_link_events(ps->link);
    if (mf_timer_armed(&ps->flush))
        events &= ~(uint32_t)EPOLLOUT; /* the turn's end writes it */
    mf_loop_watch_set(ps->watch, events);
}

static void close_link(pubsub_t *ps)
{
    if (!ps->link)
        return;
    if (ps->watch)
        mf_loop_watch_free(ps->watch);
    mf_redis_link_close(ps->link);
    ps->watch = NULL;
    ps->link = NULL;
    mf_loop_timer_stop(ps->loop, &ps->flush);
    atomic_fetch_sub(&mf_redis__pubsub_totals.channels, ps->confirmed);
    ps->confirmed = 0;
    ps->ping_ns = 0;
    ps->acks_got = ps->acks_sent; /* nothing sent on it will be answered */
}

/* No link now: the next is tried after the backoff, if anything is still wanted. */
static void back_off(pubsub_t *ps)
{
    close_link(ps);
    if (!ps->nnames) {
        ps->state = MF_PUBSUB_IDLE;
        mf_loop_timer_stop(ps->loop, &ps->timer);
        return;
    }
    int64_t ms = (int64_t)BACKOFF_MIN_MS << (ps->failures < 10 ? ps->failures : 10);
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    ps->failures++;
    ps->rotor++; /* a cluster's next node */
    ps->state = MF_PUBSUB_BACKING_OFF;
    mf_loop_timer_start(ps->loop, &ps->timer, mf_now_ns() + ms * 1000000);
    mf_redis__pubsub_settle(ps);
}

static void connect_failed(pubsub_t *ps)
{
    char why[768];
    snprintf(why, sizeof why, "%s", mf_redis_link_errstr(ps->link));
    mf_redis_server_connect_failed(ps->server, mf_redis_link_error(ps->link), why, ps->epoch);
    back_off(ps);
}

/* The open link failed (its error says why), or was left for a new primary (why given). */
static void lost(pubsub_t *ps, const char *why)
{
    char msg[768];
    snprintf(msg, sizeof msg, "%s", why ? why : mf_redis_link_errstr(ps->link));
    atomic_fetch_add(&mf_redis__pubsub_totals.reconnects, 1);
    mf_log_msg(MF_LOG_WARN,
               "redis pub/sub: %s; %zu channels and patterns are subscribed again "
               "once a connection is back",
               msg, ps->nnames);
    if (!why)
        mf_redis__suspect(ps->epoch, msg);
    back_off(ps);
}

static void opened(pubsub_t *ps)
{
    int64_t now = mf_now_ns();
    ps->state = MF_PUBSUB_OPEN;
    ps->last_ping_ns = now;
    ps->idle_since_ns = 0;
    subscribe_all(ps);
    mf_redis__pubsub_settle(ps);
    mf_loop_timer_start(ps->loop, &ps->timer, now + MF_REDIS_PUBSUB_TICK_MS * 1000000LL);
}

/* Where the next link goes: the server, Sentinel's primary (asked by the link's open), or a
 * cluster's node, a primary of the map when one is known. */
static mf_redis_server_t *next_server(pubsub_t *ps)
{
    if (mf_redis__topology() != MF_REDIS_CLUSTER)
        return mf_redis_server_main();
    char err[512];
    mf_redis_server_t *s = NULL;
    mf_redis_cluster_map_t *m = mf_redis_cluster_map(mf_now_ns(), err, sizeof err);
    if (m && m->nprimaries)
        s = m->primaries[ps->rotor % (unsigned)m->nprimaries];
    mf_redis_cluster_map_release(m);
    if (!s && ps->nseeds) {
        const mf_redis_node_t *seed = &ps->seeds[ps->rotor % (unsigned)ps->nseeds];
        s = mf_redis_server_at(seed->host, seed->port);
    }
    return s;
}

static void start(pubsub_t *ps)
{
    char err[512];
    int no_primary;
    ps->server = next_server(ps);
    if (ps->server)
        ps->link = mf_redis__link_open(ps->server, 0, &ps->epoch, &no_primary, err, sizeof err);
    if (!ps->link) { /* no primary known yet (a switch), or the password file unreadable */
        back_off(ps);
        return;
    }
    int rc = mf_redis_link_connect(ps->link);
    if (rc < 0) {
        connect_failed(ps);
        return;
    }
    ps->watch = mf_loop_watch_new(ps->loop, mf_redis_link_fd(ps->link), on_io, ps);
    ps->started_ns = mf_now_ns();
    ps->state = MF_PUBSUB_CONNECTING;
    mf_loop_timer_start(ps->loop, &ps->timer, ps->started_ns + mf_redis__timeout_ms() * 1000000);
    if (rc == 0)
        opened(ps);
    watch(ps);
}

/* ---- replies ---- */

static int is_text(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

static void confirmed(pubsub_t *ps, long long count)
{
    atomic_fetch_add(&mf_redis__pubsub_totals.channels, count - ps->confirmed);
    ps->confirmed = count;
    ps->failures = 0; /* the link works: the next loss starts the backoff afresh */
}

static void refused(pubsub_t *ps, const char *why)
{
    /* Once per new reason (an ACL that forbids a channel), not once per subscription. */
    if (!strncmp(ps->last_refusal, why, sizeof ps->last_refusal - 1))
        return;
    snprintf(ps->last_refusal, sizeof ps->last_refusal, "%s", why);
    mf_log_msg(MF_LOG_ERROR, "redis pub/sub: Redis refused a subscription: %s", why);
}

static void handle(pubsub_t *ps, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR) {
        refused(ps, r->str);
        return;
    }
    if (r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG")) {
        ps->ping_ns = 0; /* a PING sent before the first SUBSCRIBE was answered */
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_text(r->element[0]))
        return;
    const char *kind = r->element[0]->str;
    redisReply **e = r->element;
    if (!strcmp(kind, "message") && r->elements == 3 && is_text(e[1]) && is_text(e[2]))
        mf_redis__pubsub_deliver(ps, NULL, e[1], e[2]);
    else if (!strcmp(kind, "pmessage") && r->elements == 4 && is_text(e[1]) && is_text(e[2]) &&
             is_text(e[3]))
        mf_redis__pubsub_deliver(ps, e[1], e[2], e[3]);
    else if (!strcmp(kind, "pong"))
        ps->ping_ns = 0;
    else if (strstr(kind, "subscribe") && r->elements == 3 && e[2]->type == REDIS_REPLY_INTEGER) {
        confirmed(ps, e[2]->integer);
        ps->acks_got++;
        mf_redis__pubsub_settle(ps);
    }
}

/* Returns 1 when the link was lost. */
static int take_replies(pubsub_t *ps)
{
    redisReply *r;
    int rc;
    while ((rc = mf_redis_link_reply(ps->link, &r)) > 0) {
        handle(ps, r);
        freeReplyObject(r);
    }
    if (rc < 0) {
        lost(ps, NULL);
        return 1;
    }
    return 0;
}

static void on_io(void *ud, uint32_t events)
{
    pubsub_t *ps = ud;
    (void)events; /* each step does what the socket allows now */
    if (ps->state == MF_PUBSUB_CONNECTING) {
        int rc = mf_redis_link_connect(ps->link);
        if (rc < 0) {
            connect_failed(ps);
            return;
        }
        if (rc == 0)
            opened(ps);
    } else if (mf_redis_link_flush(ps->link) < 0 || mf_redis_link_read(ps->link) < 0) {
        lost(ps, NULL);
        return;
    } else if (take_replies(ps)) {
        return;
    }
    watch(ps);
}

static void on_flush(void *ud)
{
    pubsub_t *ps = ud;
    if (ps->state != MF_PUBSUB_OPEN)
        return;
    if (mf_redis_link_flush(ps->link) < 0) {
        lost(ps, NULL);
        return;
    }
    watch(ps);
}

/* The open link's upkeep: a new Sentinel primary followed, a silent server found out, a link
 * that holds nothing let go. */
static void tick(pubsub_t *ps)
{
    int64_t now = mf_now_ns();
    if (mf_redis__stale(ps->epoch)) {
        ps->failures = 0;
        lost(ps, "the sentinels named a new primary");
        return;
    }
    if (ps->ping_ns && now - ps->ping_ns >= PING_EVERY_MS * 1000000LL) {
        mf_redis_link_time_out(ps->link, now - ps->ping_ns);
        lost(ps, NULL);
        return;
    }
    if (ps->nnames) {
        ps->idle_since_ns = 0;
    } else if (!ps->idle_since_ns) {
        ps->idle_since_ns = now;
    } else if (now - ps->idle_since_ns >= IDLE_CLOSE_MS * 1000000LL) {
        back_off(ps); /* nothing wanted: MF_PUBSUB_IDLE */
        return;
    }
    if (!ps->ping_ns && now - ps->last_ping_ns >= PING_EVERY_MS * 1000000LL) {
        const char *ping = "PING";
        size_t len = 4;
        mf_redis_cmd_t cmd = {1, &ping, &len};
        char bytes[16];
        mf_redis_format(bytes, &cmd, 1);
        mf_redis_link_append(ps->link, bytes, mf_redis_format_len(&cmd, 1));
        arm_flush(ps);
        ps->ping_ns = ps->last_ping_ns = now;
    }
    mf_loop_timer_start(ps->loop, &ps->timer, now + MF_REDIS_PUBSUB_TICK_MS * 1000000LL);
}

static void on_timer(void *ud)
{
    pubsub_t *ps = ud;
    switch (ps->state) {
    case MF_PUBSUB_IDLE:
        break;
    case MF_PUBSUB_BACKING_OFF:
        if (ps->nnames)
            start(ps);
        else
            ps->state = MF_PUBSUB_IDLE;
        break;
    case MF_PUBSUB_CONNECTING:
        mf_redis_link_time_out(ps->link, mf_now_ns() - ps->started_ns);
        connect_failed(ps);
        break;
    case MF_PUBSUB_OPEN:
        tick(ps);
        break;
    }
}

/* ---- what pubsub.c asks ---- */

void mf_redis__pubsub_link_init(pubsub_t *ps)
{
    mf_timer_init(&ps->timer, on_timer, ps);
    mf_timer_init(&ps->flush, on_flush, ps);
}

void mf_redis__pubsub_want(pubsub_t *ps, const name_t *n, int on)
{
    if (ps->state == MF_PUBSUB_OPEN) {
        send_name(ps, n, on);
    } else if (on && ps->state == MF_PUBSUB_IDLE) {
        ps->failures = 0;
        ps->state = MF_PUBSUB_BACKING_OFF;
        mf_loop_timer_start(ps->loop, &ps->timer, 0); /* at the turn's end, not inside a call */
    }
}

void mf_redis__pubsub_link_free(pubsub_t *ps)
{
    close_link(ps);
    mf_loop_timer_stop(ps->loop, &ps->timer);
}
