#define _GNU_SOURCE /* pipe2 */
#include "redis/sentinel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "observe/log.h"
#include "redis/auth.h"
#include "redis/link.h"

/* After a round in which no sentinel named a primary that confirmed its role: the wait before
 * the next, doubling to the cap. */
#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 1000

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a primary became known, or the follower stopped */
    int started, stopping;
    mf_redis_url_t url;
    char password[512]; /* the sentinels' */
    int has_password;
    int64_t timeout_ms;
    mf_redis_node_t primary;
    int known;
    _Atomic uint64_t epoch; /* 0 until the first primary; written under mu, read without */
    uint64_t failovers;
    char why[512]; /* why no primary is known */
    int last_good; /* the sentinel that answered last */
    int wake[2];   /* a pipe: a suspicion or the stop wakes the follower */
    pthread_t thread;
} st = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = {-1, -1}};

/* ---- what callers see ---- */

static void publish(const mf_redis_node_t *p)
{
    pthread_mutex_lock(&st.mu);
    int changed = !st.epoch || strcmp(st.primary.host, p->host) || st.primary.port != p->port;
    if (changed) {
        if (st.epoch)
            st.failovers++;
        st.epoch++;
        st.primary = *p;
    }
    st.known = 1;
    pthread_cond_broadcast(&st.cv);
    pthread_mutex_unlock(&st.mu);
    if (changed)
        mf_log_msg(MF_LOG_INFO, "redis: sentinel master %s is %s:%d", st.url.master, p->host,
                   p->port);
}

/* The primary is not (or no longer) known to be one: callers wait for the next answer. */
static void unknown(const char *why)
{
    pthread_mutex_lock(&st.mu);
    st.known = 0;
    snprintf(st.why, sizeof st.why, "%s", why);
    pthread_mutex_unlock(&st.mu);
}

/* No sentinel answered: a primary known before stays in use (its connections tell when it
 * fails them); otherwise why is what callers are told. */
static void unanswered(const char *why)
{
    pthread_mutex_lock(&st.mu);
    int known = st.known, news = strcmp(st.why, why) != 0;
    if (!known)
        snprintf(st.why, sizeof st.why, "%s", why);
    pthread_mutex_unlock(&st.mu);
    if (known)
        mf_log_msg(MF_LOG_WARN, "redis: no sentinel of master %s answered (%s); keeping %s:%d",
                   st.url.master, why, st.primary.host, st.primary.port);
    else if (news) /* once per reason, not once per round */
        mf_log_msg(MF_LOG_ERROR, "redis: no primary for sentinel master %s: %s", st.url.master,
                   why);
}

int mf_redis_sentinel_primary(mf_redis_node_t *out, uint64_t *epoch, int64_t deadline_ns,
                              char *err, size_t errlen)
{
    pthread_mutex_lock(&st.mu);
    while (!st.known && !st.stopping) {
        int64_t now = mf_now_ns();
        if (now >= deadline_ns)
            break;
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        int64_t t = (int64_t)at.tv_sec * 1000000000 + at.tv_nsec + (deadline_ns - now);
        at.tv_sec = t / 1000000000;
        at.tv_nsec = t % 1000000000;
        pthread_cond_timedwait(&st.cv, &st.mu, &at);
    }
    int rc = st.known && !st.stopping ? 0 : -1;
    if (rc == 0) {
        *out = st.primary;
        *epoch = st.epoch;
    } else {
        snprintf(err, errlen, "no primary for sentinel master %s: %s", st.url.master,
                 st.stopping ? "shutting down" : st.why);
    }
    pthread_mutex_unlock(&st.mu);
    return rc;
}

uint64_t mf_redis_sentinel_epoch(void)
{
    return atomic_load_explicit(&st.epoch, memory_order_acquire);
}

static void wake_follower(void)
{
    char b = 1;
    if (st.wake[1] >= 0 && write(st.wake[1], &b, 1) < 0 && errno != EAGAIN) {
        /* a full pipe already holds a wake-up */
    }
}

void mf_redis_sentinel_suspect(uint64_t epoch, const char *why)
{
    pthread_mutex_lock(&st.mu);
    int now = st.known && epoch == st.epoch;
    if (now) {
        st.known = 0;
        snprintf(st.why, sizeof st.why, "asking the sentinels again: %s", why);
    }
    pthread_mutex_unlock(&st.mu);
    if (now)
        wake_follower();
}

int mf_redis_sentinel_describe(char *out, size_t n)
{
    pthread_mutex_lock(&st.mu);
    int known = st.known;
    if (known)
        snprintf(out, n, "sentinel %s: %s:%d%s", st.url.master, st.primary.host, st.primary.port,
                 st.url.tls ? " (TLS)" : "");
    else
        snprintf(out, n, "sentinel %s: no primary: %s", st.url.master, st.why);
    pthread_mutex_unlock(&st.mu);
    return known;
}

uint64_t mf_redis_sentinel_failovers(void)
{
    pthread_mutex_lock(&st.mu);
    uint64_t f = st.failovers;
    pthread_mutex_unlock(&st.mu);
    return f;
}

/* ---- the follower ---- */

static int stopping(void)
{
    pthread_mutex_lock(&st.mu);
    int s = st.stopping;
    pthread_mutex_unlock(&st.mu);
    return s;
}

static int64_t deadline(void)
{
    return mf_now_ns() + st.timeout_ms * 1000000;
}

/* A link to sentinel i, set up (AUTH with the sentinels' password), or NULL with err set. */
static mf_redis_link_t *open_sentinel(int i, char *err, size_t errlen)
{
    mf_redis_setup_set_t setup;
    mf_redis_auth_sentinel_setup(&setup, st.has_password ? st.password : NULL);
    const mf_redis_node_t *s = &st.url.nodes[i];
    mf_redis_link_t *l = mf_redis_link_open(s->host, s->port, st.url.tls, &setup);
    if (mf_redis_link_connect_wait(l, deadline())) {
        snprintf(err, errlen, "sentinel: %s", mf_redis_link_errstr(l));
        mf_redis_link_close(l);
        return NULL;
    }
    return l;
}

static int command(mf_redis_link_t *l, redisReply **reply, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    mf_redis_cmd_t cmd = {argc, argv, lens};
    return mf_redis_link_exchange(l, &cmd, 1, reply, deadline());
}

/* The sentinels' announcements a follower listens to: the switch itself, the start of a
 * failover (from then on the old primary must take no write: a write it acknowledges after the
 * replica's promotion is lost when it becomes the new primary's replica), and its aborts. */
static const char *const channels[] = {"SUBSCRIBE",
                                       "+switch-master",
                                       "+try-failover",
                                       "-failover-abort-not-elected",
                                       "-failover-abort-no-good-slave",
                                       "-failover-abort-slave-timeout"};
#define NCHANNELS ((int)(sizeof channels / sizeof channels[0]))

/* SUBSCRIBE on l: 0, or -1 with err set. The confirmations of all but the first channel come
 * with the messages; the listener passes over them. */
static int subscribe(mf_redis_link_t *l, int i, char *err, size_t errlen)
{
    redisReply *r;
    if (command(l, &r, NCHANNELS, (const char **)channels)) {
        snprintf(err, errlen, "sentinel: %s", mf_redis_link_errstr(l));
        return -1;
    }
    int rc = r->type == REDIS_REPLY_ARRAY ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "sentinel %s:%d refused SUBSCRIBE: %.200s", st.url.nodes[i].host,
                 st.url.nodes[i].port, r->type == REDIS_REPLY_ERROR ? r->str : "(not an array)");
    freeReplyObject(r);
    return rc;
}

/* SENTINEL get-master-addr-by-name on l: 0 with the primary in *p, or -1 with err set. */
static int ask(mf_redis_link_t *l, int i, mf_redis_node_t *p, char *err, size_t errlen)
{
    redisReply *r;
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name", st.url.master};
    if (command(l, &r, 3, argv)) {
        snprintf(err, errlen, "sentinel: %s", mf_redis_link_errstr(l));
        return -1;
    }
    int rc = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < sizeof p->host) {
        snprintf(p->host, sizeof p->host, "%s", r->element[0]->str);
        p->port = atoi(r->element[1]->str);
        rc = p->port > 0 && p->port <= 65535 ? 0 : -1;
    }
    if (rc && r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "sentinel %s:%d refused to name master %s: %.200s",
                 st.url.nodes[i].host, st.url.nodes[i].port, st.url.master, r->str);
    else if (rc)
        snprintf(err, errlen, "sentinel %s:%d does not know master %s", st.url.nodes[i].host,
                 st.url.nodes[i].port, st.url.master);
    freeReplyObject(r);
    return rc;
}

/* ROLE on p, with the data connections' setup: 0 when it is a primary, or -1 with err set. */
static int confirm(const mf_redis_node_t *p, char *err, size_t errlen)
{
    mf_redis_setup_set_t setup;
    if (mf_redis_auth_setup(&setup, err, errlen))
        return -1;
    mf_redis_link_t *l = mf_redis_link_open(p->host, p->port, st.url.tls, &setup);
    redisReply *r = NULL;
    const char *argv[] = {"ROLE"};
    int rc = -1;
    if (mf_redis_link_connect_wait(l, deadline()) || command(l, &r, 1, argv)) {
        snprintf(err, errlen, "the primary the sentinels name: %s", mf_redis_link_errstr(l));
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
               r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "master")) {
        rc = 0;
    } else {
        snprintf(err, errlen, "%s:%d, which the sentinels name, is not a primary (yet)", p->host,
                 p->port);
    }
    if (r)
        freeReplyObject(r);
    mf_redis_link_close(l);
    return rc;
}

/* A failover of our master began: until the switch (or an abort), no connection may use the
 * old primary, so the epoch moves on and callers wait for the next primary. */
static void failover_begins(void)
{
    pthread_mutex_lock(&st.mu);
    int was = st.known;
    if (was) {
        st.known = 0;
        st.epoch++;
        snprintf(st.why, sizeof st.why, "a failover of master %s is under way", st.url.master);
    }
    pthread_mutex_unlock(&st.mu);
    if (was)
        mf_log_msg(MF_LOG_INFO, "redis: a failover of master %s began: writes wait for its end",
                   st.url.master);
}

enum { EV_NONE, EV_SWITCH, EV_FAILOVER, EV_ABORT };

/* What a subscription's message says of our master; for a switch, the new primary in *p. */
static int event_of(const redisReply *r, mf_redis_node_t *p)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") ||
        r->element[1]->type != REDIS_REPLY_STRING || r->element[2]->type != REDIS_REPLY_STRING)
        return EV_NONE;
    const char *channel = r->element[1]->str, *text = r->element[2]->str;
    char a[128], b[256], c[256];
    int old_port, new_port;
    if (!strcmp(channel, "+switch-master")) {
        /* "<master> <old ip> <old port> <new ip> <new port>" */
        if (sscanf(text, "%127s %255s %d %255s %d", a, b, &old_port, c, &new_port) != 5 ||
            strcmp(a, st.url.master) || new_port <= 0 || new_port > 65535)
            return EV_NONE;
        snprintf(p->host, sizeof p->host, "%s", c);
        p->port = new_port;
        return EV_SWITCH;
    }
    /* "master <name> <ip> <port>" */
    if (sscanf(text, "%127s %255s", a, b) != 2 || strcmp(a, "master") || strcmp(b, st.url.master))
        return EV_NONE;
    return channel[0] == '+' ? EV_FAILOVER : EV_ABORT;
}

static void drain_wake(void)
{
    char buf[64];
    while (read(st.wake[0], buf, sizeof buf) > 0) {
    }
}

/* Handles what arrived on sub. Returns 0 to go on listening, 1 when the sentinels must be
 * asked again (a switch whose primary does not confirm, an aborted failover), -1 when sub
 * failed. */
static int take_events(mf_redis_link_t *sub, short revents)
{
    char err[512];
    if ((revents & POLLOUT) && mf_redis_link_flush(sub) < 0)
        return -1;
    if ((revents & (POLLIN | POLLERR | POLLHUP)) && mf_redis_link_read(sub))
        return -1;
    redisReply *r;
    int got;
    while ((got = mf_redis_link_reply(sub, &r)) == 1) {
        mf_redis_node_t p;
        int ev = event_of(r, &p);
        freeReplyObject(r);
        if (ev == EV_FAILOVER) {
            failover_begins();
        } else if (ev == EV_ABORT) {
            return 1;
        } else if (ev == EV_SWITCH) {
            mf_log_msg(MF_LOG_INFO, "redis: the sentinels switched master %s to %s:%d",
                       st.url.master, p.host, p.port);
            if (confirm(&p, err, sizeof err)) {
                unknown(err);
                return 1;
            }
            publish(&p);
        }
    }
    return got < 0 ? -1 : 0;
}

/* Listens on every sentinel subscribed (subs[i] not NULL) until they must be asked again: see
 * take_events, a suspicion, the periodic re-ask, the last sentinel lost, or the stop. A primary
 * known stays known when sentinels go away: its connections tell when it fails them. */
static void listen_to_sentinels(mf_redis_link_t **subs)
{
    int64_t reask = mf_now_ns() + (int64_t)MF_REDIS_SENTINEL_REASK_MS * 1000000;
    struct pollfd fds[MF_REDIS_MAX_NODES + 1];
    int who[MF_REDIS_MAX_NODES];
    while (!stopping()) {
        int n = 0;
        for (int i = 0; i < st.url.nnodes; i++) {
            if (!subs[i])
                continue;
            who[n] = i;
            fds[n++] = (struct pollfd){.fd = mf_redis_link_fd(subs[i]),
                                       .events = (short)mf_redis_link_events(subs[i])};
        }
        int64_t left = (reask - mf_now_ns()) / 1000000;
        if (n == 0 || left <= 0)
            return;
        fds[n] = (struct pollfd){.fd = st.wake[0], .events = POLLIN};
        int ready = poll(fds, (nfds_t)n + 1, (int)left);
        if (ready < 0 && errno != EINTR)
            return;
        if (ready <= 0)
            continue;
        if (fds[n].revents) {
            drain_wake();
            pthread_mutex_lock(&st.mu);
            int known = st.known;
            pthread_mutex_unlock(&st.mu);
            if (!known)
                return; /* suspected: ask again */
        }
        for (int k = 0; k < n; k++) {
            if (!fds[k].revents)
                continue;
            int rc = take_events(subs[who[k]], fds[k].revents);
            if (rc > 0)
                return;
            if (rc < 0) {
                mf_redis_link_close(subs[who[k]]);
                subs[who[k]] = NULL;
            }
        }
    }
}

/* Waits up to ms, or less when woken. */
static void pause_ms(int ms)
{
    struct pollfd p = {.fd = st.wake[0], .events = POLLIN};
    if (poll(&p, 1, ms) > 0)
        drain_wake();
}

static void *follow(void *arg)
{
    (void)arg;
    int retry_ms = RETRY_MIN_MS;
    char err[512] = "no sentinel asked yet";
    mf_redis_link_t *subs[MF_REDIS_MAX_NODES] = {0};
    while (!stopping()) {
        /* Subscribed to every sentinel that answers (the one leading a failover announces its
         * start), then asking them in turn: a switch between the two is still heard. */
        int nsubs = 0;
        for (int i = 0; i < st.url.nnodes && !stopping(); i++) {
            subs[i] = open_sentinel(i, err, sizeof err);
            if (subs[i] && subscribe(subs[i], i, err, sizeof err)) {
                mf_redis_link_close(subs[i]);
                subs[i] = NULL;
            }
            nsubs += subs[i] != NULL;
        }
        mf_redis_node_t p;
        int found = 0, i = st.last_good;
        for (int k = 0; k < st.url.nnodes && nsubs && !found && !stopping(); k++) {
            i = (st.last_good + k) % st.url.nnodes;
            mf_redis_link_t *q = subs[i] ? open_sentinel(i, err, sizeof err) : NULL;
            found = q && ask(q, i, &p, err, sizeof err) == 0 && confirm(&p, err, sizeof err) == 0;
            mf_redis_link_close(q);
        }
        if (found) {
            retry_ms = RETRY_MIN_MS;
            st.last_good = i;
            publish(&p);
            listen_to_sentinels(subs);
        } else {
            unanswered(err);
            pause_ms(retry_ms);
            retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
        }
        for (int j = 0; j < st.url.nnodes; j++) {
            mf_redis_link_close(subs[j]);
            subs[j] = NULL;
        }
    }
    return NULL;
}

int mf_redis_sentinel_start(const mf_redis_url_t *u, const char *sentinel_password,
                            int64_t timeout_ms, char *err, size_t errlen)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&st.cv, &a);
    pthread_condattr_destroy(&a);
    st.url = *u;
    st.has_password = sentinel_password != NULL;
    snprintf(st.password, sizeof st.password, "%s", sentinel_password ? sentinel_password : "");
    st.timeout_ms = timeout_ms;
    snprintf(st.why, sizeof st.why, "the sentinels were not asked yet");
    if (pipe2(st.wake, O_CLOEXEC | O_NONBLOCK)) {
        snprintf(err, errlen, "sentinel: pipe: %s", strerror(errno));
        return -1;
    }
    if (pthread_create(&st.thread, NULL, follow, NULL)) {
        snprintf(err, errlen, "sentinel: cannot start its thread");
        return -1;
    }
    st.started = 1;
    return 0;
}

void mf_redis_sentinel_stop(void)
{
    if (!st.started)
        return;
    pthread_mutex_lock(&st.mu);
    st.stopping = 1;
    pthread_cond_broadcast(&st.cv);
    pthread_mutex_unlock(&st.mu);
    wake_follower();
    pthread_join(st.thread, NULL);
    st.started = 0;
    close(st.wake[0]);
    close(st.wake[1]);
    st.wake[0] = st.wake[1] = -1;
}
