/* A loop's pub/sub (pubsub.h): its subscriptions, the names they want (a hash by name, each
 * name with the list of subscriptions naming it) and their queues; the connection that holds
 * the names subscribed is pubsub_link.c's. A message is copied once, however many subscriptions
 * it reaches: each queue holds a reference. */
#include "redis/pubsub.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "observe/metrics.h"
#include "redis/private.h"
#include "redis/pubsub_private.h"

typedef mf_redis_pubsub_t pubsub_t;
typedef mf_redis_pubsub_name_t name_t;
typedef mf_redis_pubsub_member_t member_t;

mf_redis_pubsub_totals_t mf_redis__pubsub_totals;

/* One name of one subscription. */
struct mf_redis_pubsub_member {
    mf_redis_sub_t *sub;
    name_t *name;
    member_t *prev, *next;
};

struct mf_redis_sub {
    pubsub_t *ps;                /* NULL once the loop went */
    mf_redis_sub_t *prev, *next; /* the loop's subscriptions */
    void (*notify)(void *ud);
    void *notify_ud;
    mf_redis_msg_t **ring; /* cap (a power of two) slots, count from head */
    unsigned cap, head, count;
    uint64_t dropped;
    void (*ready)(void *ud); /* mf_redis_sub_when_ready's, while it waits */
    void *ready_ud;
    uint64_t ready_at; /* the confirmations that put it in place; UINT64_MAX: not sent yet */
    int nmembers;
    member_t members[];
};

/* ---- messages and queues ---- */

void mf_redis_msg_release(mf_redis_msg_t *m)
{
    if (m && --m->refs == 0)
        free(m);
}

static char *copy_in(char **at, const redisReply *r)
{
    char *p = *at;
    memcpy(p, r->str, r->len);
    p[r->len] = '\0';
    *at += r->len + 1;
    return p;
}

/* A message held once, for its delivery. */
static mf_redis_msg_t *msg_new(const redisReply *pattern, const redisReply *channel,
                               const redisReply *payload)
{
    size_t n = payload->len + channel->len + (pattern ? pattern->len : 0) + 3;
    mf_redis_msg_t *m = mf_xmalloc(sizeof *m + n);
    char *at = (char *)(m + 1);
    m->refs = 1;
    m->payload_len = payload->len;
    m->payload = copy_in(&at, payload);
    m->channel_len = channel->len;
    m->channel = copy_in(&at, channel);
    m->pattern_len = pattern ? pattern->len : 0;
    m->pattern = pattern ? copy_in(&at, pattern) : NULL;
    return m;
}

static void queue(mf_redis_sub_t *s, mf_redis_msg_t *m)
{
    if (s->count == MF_REDIS_SUB_QUEUE_MAX) {
        mf_redis_msg_release(s->ring[s->head]);
        s->head = (s->head + 1) & (s->cap - 1);
        s->count--;
        s->dropped++;
        atomic_fetch_add_explicit(&mf_redis__pubsub_totals.dropped, 1, memory_order_relaxed);
    }
    if (s->count == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 4;
        mf_redis_msg_t **ring = mf_xmalloc(cap * sizeof *ring);
        for (unsigned i = 0; i < s->count; i++)
            ring[i] = s->ring[(s->head + i) & (s->cap - 1)];
        free(s->ring);
        s->ring = ring;
        s->cap = cap;
        s->head = 0;
    }
    s->ring[(s->head + s->count) & (s->cap - 1)] = m;
    s->count++;
    m->refs++;
    atomic_fetch_add_explicit(&mf_redis__pubsub_totals.messages, 1, memory_order_relaxed);
    if (s->notify) {
        void (*fn)(void *) = s->notify;
        s->notify = NULL;
        fn(s->notify_ud);
    }
}

mf_redis_msg_t *mf_redis_sub_take(mf_redis_sub_t *s)
{
    if (!s->count)
        return NULL;
    mf_redis_msg_t *m = s->ring[s->head];
    s->head = (s->head + 1) & (s->cap - 1);
    if (--s->count == 0 && s->cap > 64) {
        /* A burst's ring goes with it: an idle subscription stays small. */
        free(s->ring);
        s->ring = NULL;
        s->cap = s->head = 0;
    }
    return m;
}

void mf_redis_sub_notify(mf_redis_sub_t *s, void (*fn)(void *ud), void *ud)
{
    s->notify = fn;
    s->notify_ud = ud;
}

uint64_t mf_redis_sub_dropped(const mf_redis_sub_t *s)
{
    return s->dropped;
}

/* ---- the names wanted, and their messages ---- */

static name_t **find(pubsub_t *ps, int pattern, const char *name, size_t len)
{
    uint64_t h = mf_hash(pattern ? ~MF_HASH_INIT : MF_HASH_INIT, name, len);
    name_t **p = &ps->buckets[h & (ps->nbuckets - 1)];
    while (*p && ((*p)->pattern != pattern || (*p)->len != len || memcmp((*p)->name, name, len)))
        p = &(*p)->next_in_bucket;
    return p;
}

static void grow(pubsub_t *ps)
{
    name_t **old = ps->buckets;
    size_t count = ps->nbuckets;
    ps->nbuckets *= 2;
    ps->buckets = mf_xcalloc(ps->nbuckets, sizeof *ps->buckets);
    for (size_t i = 0; i < count; i++) {
        for (name_t *n = old[i], *next; n; n = next) {
            next = n->next_in_bucket;
            name_t **slot = find(ps, n->pattern, n->name, n->len);
            n->next_in_bucket = NULL;
            *slot = n;
        }
    }
    free(old);
}

void mf_redis__pubsub_deliver(pubsub_t *ps, const redisReply *pattern, const redisReply *channel,
                              const redisReply *payload)
{
    const redisReply *key = pattern ? pattern : channel;
    name_t *n = *find(ps, pattern != NULL, key->str, key->len);
    if (!n)
        return; /* unsubscribed since it was sent */
    mf_redis_msg_t *m = msg_new(pattern, channel, payload);
    for (member_t *mb = n->members; mb; mb = mb->next)
        queue(mb->sub, m);
    mf_redis_msg_release(m);
}

/* ---- subscriptions ---- */

static const mf_loop_key_t pubsub_key;
static _Atomic unsigned next_rotor; /* spreads the workers over a cluster's nodes */

static void pubsub_free(void *p)
{
    pubsub_t *ps = p;
    mf_redis__pubsub_link_free(ps);
    for (mf_redis_sub_t *s = ps->subs; s; s = s->next) {
        s->ps = NULL; /* its run outlived the loop: it holds nothing more */
        s->nmembers = 0;
    }
    for (size_t i = 0; i < ps->nbuckets; i++) {
        for (name_t *n = ps->buckets[i], *next; n; n = next) {
            next = n->next_in_bucket;
            free(n);
        }
    }
    free(ps->buckets);
    free(ps->seeds);
    free(ps);
}

static pubsub_t *pubsub_of(mf_loop_t *loop, const mf_options_t *o)
{
    pubsub_t *ps = mf_loop_service(loop, &pubsub_key);
    if (ps)
        return ps;
    ps = mf_xcalloc(1, sizeof *ps);
    ps->loop = loop;
    ps->nbuckets = 16;
    ps->buckets = mf_xcalloc(ps->nbuckets, sizeof *ps->buckets);
    ps->rotor = atomic_fetch_add(&next_rotor, 1);
    mf_redis__pubsub_link_init(ps);
    if (mf_redis__topology() == MF_REDIS_CLUSTER && o->redis_url) {
        mf_redis_url_t *u = mf_xmalloc(sizeof *u);
        char err[256];
        if (!mf_redis_url_parse(o->redis_url, u, err, sizeof err)) {
            ps->nseeds = u->nnodes;
            ps->seeds = mf_xmalloc((size_t)u->nnodes * sizeof *ps->seeds);
            memcpy(ps->seeds, u->nodes, (size_t)u->nnodes * sizeof *ps->seeds);
        }
        explicit_bzero(u, sizeof *u); /* the URL's password */
        free(u);
    }
    mf_loop_set_service(loop, &pubsub_key, ps, pubsub_free);
    return ps;
}

/* The name wanted, made when it is new. */
static name_t *name_of(pubsub_t *ps, int pattern, const char *text, size_t len)
{
    name_t **slot = find(ps, pattern, text, len);
    if (*slot)
        return *slot;
    name_t *n = mf_xcalloc(1, sizeof *n + len + 1);
    n->pattern = pattern;
    n->len = len;
    memcpy(n->name, text, len);
    *slot = n;
    if (++ps->nnames > ps->nbuckets)
        grow(ps);
    return n;
}

mf_redis_sub_t *mf_redis_subscribe(mf_loop_t *loop, const mf_options_t *o, int patterns,
                                   const char *const *names, const size_t *lens, int count,
                                   char *err, size_t errlen)
{
    if (mf_redis__usable(err, errlen))
        return NULL;
    pubsub_t *ps = pubsub_of(loop, o);
    mf_redis_sub_t *s = mf_xcalloc(1, sizeof *s + (size_t)count * sizeof(member_t));
    s->ps = ps;
    s->next = ps->subs;
    if (ps->subs)
        ps->subs->prev = s;
    ps->subs = s;
    for (int i = 0; i < count; i++) {
        name_t *n = name_of(ps, patterns, names[i], lens[i]);
        int again = 0;
        for (int j = 0; j < s->nmembers; j++)
            again |= s->members[j].name == n;
        if (again)
            continue;
        member_t *mb = &s->members[s->nmembers++];
        mb->sub = s;
        mb->name = n;
        mb->next = n->members;
        if (n->members)
            n->members->prev = mb;
        n->members = mb;
        if (!mb->next)
            mf_redis__pubsub_want(ps, n, 1);
    }
    atomic_fetch_add(&mf_redis__pubsub_totals.subscriptions, 1);
    return s;
}

/* The link's first connection is under way (a failed one is retried after a backoff, which
 * nobody waits for). */
static int first_connect(const pubsub_t *ps)
{
    return ps->failures == 0 &&
           (ps->state == MF_PUBSUB_CONNECTING || ps->state == MF_PUBSUB_BACKING_OFF);
}

int mf_redis_sub_when_ready(mf_redis_sub_t *s, void (*fn)(void *ud), void *ud)
{
    pubsub_t *ps = s->ps;
    s->ready = NULL;
    if (!fn || !ps)
        return 1;
    if (ps->state == MF_PUBSUB_OPEN)
        s->ready_at = ps->acks_sent;
    else if (first_connect(ps))
        s->ready_at = UINT64_MAX; /* sent once the link opens */
    else
        return 1;
    if (ps->acks_got >= s->ready_at)
        return 1;
    s->ready = fn;
    s->ready_ud = ud;
    return 0;
}

void mf_redis__pubsub_settle(pubsub_t *ps)
{
    for (mf_redis_sub_t *s = ps->subs, *next; s; s = next) {
        next = s->next;
        if (!s->ready)
            continue;
        if (s->ready_at == UINT64_MAX && ps->state == MF_PUBSUB_OPEN)
            s->ready_at = ps->acks_sent; /* the link just opened and sent every name */
        if (ps->acks_got < s->ready_at && (ps->state == MF_PUBSUB_OPEN || first_connect(ps)))
            continue;
        void (*fn)(void *) = s->ready;
        s->ready = NULL;
        fn(s->ready_ud);
    }
}

void mf_redis_sub_close(mf_redis_sub_t *s)
{
    pubsub_t *ps = s->ps;
    for (int i = 0; i < s->nmembers; i++) {
        member_t *mb = &s->members[i];
        name_t *n = mb->name;
        if (mb->prev)
            mb->prev->next = mb->next;
        else
            n->members = mb->next;
        if (mb->next)
            mb->next->prev = mb->prev;
        if (!n->members) { /* its last subscription: unsubscribed, forgotten */
            mf_redis__pubsub_want(ps, n, 0);
            *find(ps, n->pattern, n->name, n->len) = n->next_in_bucket;
            ps->nnames--;
            free(n);
        }
    }
    if (ps) {
        if (s->prev)
            s->prev->next = s->next;
        else
            ps->subs = s->next;
        if (s->next)
            s->next->prev = s->prev;
    }
    mf_redis_msg_t *m;
    while ((m = mf_redis_sub_take(s)))
        mf_redis_msg_release(m);
    free(s->ring);
    atomic_fetch_sub(&mf_redis__pubsub_totals.subscriptions, 1);
    free(s);
}

/* ---- metrics ---- */

static void collect(void *ud, mf_metrics_writer_t *w)
{
    (void)ud;
    if (!mf_redis_configured())
        return;
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"mayfly_redis_subscriptions", "gauge",
         "Pub/sub subscriptions held by runs now (mayfly.subscribe, mayfly.psubscribe)."},
        {"mayfly_redis_pubsub_channels", "gauge",
         "Channels and patterns the workers' subscriber connections hold, as Redis confirmed "
         "them."},
        {"mayfly_redis_pubsub_messages_total", "counter",
         "Pub/sub messages handed to subscriptions (one per subscription reached)."},
        {"mayfly_redis_pubsub_dropped_total", "counter",
         "Pub/sub messages a subscription lost: its queue was full (the oldest goes)."},
        {"mayfly_redis_pubsub_reconnects_total", "counter",
         "Subscriber connections lost (or left for a new primary) and made again, every "
         "channel and pattern subscribed anew."},
    };
    mf_redis_pubsub_totals_t *t = &mf_redis__pubsub_totals;
    const double values[] = {
        (double)atomic_load(&t->subscriptions), (double)atomic_load(&t->channels),
        (double)atomic_load(&t->messages),      (double)atomic_load(&t->dropped),
        (double)atomic_load(&t->reconnects),
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        mf_metrics_family(w, families[i].name, families[i].type, families[i].help);
        mf_metrics_sample(w, families[i].name, NULL, values[i]);
    }
}

void mf_redis_pubsub_metrics_register(void)
{
    mf_metrics_add_collector(collect, NULL);
}
