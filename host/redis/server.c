/* A server's pool, breaker and backoff (server.h). The pool lends a link (link.h) for one call
 * (or one pipeline) at a time under the server's mutex; a borrower that finds every connection
 * lent waits on a condition variable, at most one command timeout. Which calls are sent again
 * after a failure is said at the top of redis.c. */
#include "redis/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "event/breaker.h"
#include "observe/log.h"
#include "redis/private.h"
#include "redis/sentinel.h"

#define BREAKER_THRESHOLD 3
#define BREAKER_COOLDOWN_MS 1000
#define BACKOFF_MIN_MS 25

typedef struct {
    mf_redis_link_t *link; /* NULL: not connected */
    uint64_t epoch;        /* of the primary it went to (Sentinel) */
} slot_t;

struct mf_redis_server {
    int id;
    char host[256];
    int port;
    char name[272];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot_t *slots;
    int *free_idx; /* stack of free slot indexes; connected ones are pushed last (reused first) */
    int nfree;
    int waiters;
    mf_breaker_t *breaker;
    char last_error[512];   /* under mu */
    char logged_error[512]; /* the last connect failure logged, under mu */
    _Atomic int64_t next_connect_ns;
    _Atomic int connect_failures;
    _Atomic int in_use, open;
    _Atomic uint64_t errors;
    _Atomic uint64_t breaker_epoch; /* the Sentinel epoch the breaker's state is about */
};

static struct {
    pthread_mutex_t mu; /* guards the list's growth and closed */
    int pool_size;
    int64_t timeout_ms;
    _Atomic int closed;
    mf_redis_server_t *all[MF_REDIS_MAX_SERVERS];
    _Atomic int count;
} servers = {.mu = PTHREAD_MUTEX_INITIALIZER};

void mf_redis_servers_init(int pool_size, int64_t timeout_ms)
{
    servers.pool_size = pool_size;
    servers.timeout_ms = timeout_ms;
}

static mf_redis_server_t *server_new(int id, const char *host, int port)
{
    mf_redis_server_t *s = mf_xcalloc(1, sizeof *s);
    char breaker[300];
    s->id = id;
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = port;
    snprintf(s->name, sizeof s->name, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->slots = mf_xcalloc((size_t)servers.pool_size, sizeof *s->slots);
    s->free_idx = mf_xcalloc((size_t)servers.pool_size, sizeof *s->free_idx);
    for (int i = 0; i < servers.pool_size; i++)
        s->free_idx[s->nfree++] = servers.pool_size - 1 - i;
    /* The first server keeps the name "redis" of the one-server breaker. */
    if (id == 0)
        snprintf(breaker, sizeof breaker, "redis");
    else
        snprintf(breaker, sizeof breaker, "redis %s", s->name);
    s->breaker = mf_breaker_new(breaker, BREAKER_THRESHOLD, BREAKER_COOLDOWN_MS);
    return s;
}

mf_redis_server_t *mf_redis_server_at(const char *host, int port)
{
    int n = atomic_load(&servers.count);
    for (int i = 0; i < n; i++)
        if (servers.all[i]->port == port && !strcmp(servers.all[i]->host, host))
            return servers.all[i];
    mf_redis_server_t *s = NULL;
    pthread_mutex_lock(&servers.mu);
    n = atomic_load(&servers.count);
    for (int i = 0; i < n && !s; i++)
        if (servers.all[i]->port == port && !strcmp(servers.all[i]->host, host))
            s = servers.all[i];
    if (!s && n < MF_REDIS_MAX_SERVERS) {
        s = server_new(n, host, port);
        servers.all[n] = s;
        atomic_store(&servers.count, n + 1); /* published once whole */
    }
    pthread_mutex_unlock(&servers.mu);
    return s;
}

mf_redis_server_t *mf_redis_server_main(void)
{
    return atomic_load(&servers.count) ? servers.all[0] : NULL;
}

int mf_redis_server_id(const mf_redis_server_t *s)
{
    return s->id;
}

const char *mf_redis_server_host(const mf_redis_server_t *s)
{
    return s->host;
}

int mf_redis_server_port(const mf_redis_server_t *s)
{
    return s->port;
}

const char *mf_redis_server_name(const mf_redis_server_t *s)
{
    return s->name;
}

int mf_redis_servers_count(void)
{
    return atomic_load(&servers.count);
}

mf_redis_server_t *mf_redis_server_of_id(int id)
{
    return id >= 0 && id < atomic_load(&servers.count) ? servers.all[id] : NULL;
}

/* ---- the pool ---- */

/* Returns a free slot's index, waiting up to the timeout; -1 when the pool stayed full, -2 when
 * it is closed. */
static int borrow(mf_redis_server_t *s)
{
    struct timespec until;
    int idx = -1;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += servers.timeout_ms / 1000;
    until.tv_nsec += (servers.timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->mu);
    while (!servers.closed && s->nfree == 0) {
        s->waiters++;
        int rc = pthread_cond_timedwait(&s->cv, &s->mu, &until);
        s->waiters--;
        if (rc == ETIMEDOUT)
            break;
    }
    if (servers.closed) {
        idx = -2;
    } else if (s->nfree > 0) {
        idx = s->free_idx[--s->nfree];
        atomic_fetch_add(&s->in_use, 1);
    }
    pthread_mutex_unlock(&s->mu);
    return idx;
}

static void drop(mf_redis_server_t *s, slot_t *slot)
{
    if (slot->link) {
        mf_redis_link_close(slot->link);
        slot->link = NULL;
        mf_redis_server_opened(s, -1);
    }
}

static void give_back(mf_redis_server_t *s, int idx)
{
    slot_t *slot = &s->slots[idx];
    pthread_mutex_lock(&s->mu);
    if (servers.closed)
        drop(s, slot);
    if (slot->link || s->nfree == 0) {
        s->free_idx[s->nfree++] = idx;
    } else {
        /* Unconnected slots go under the connected ones: borrowers reuse live connections. */
        memmove(s->free_idx + 1, s->free_idx, (size_t)s->nfree * sizeof *s->free_idx);
        s->free_idx[0] = idx;
        s->nfree++;
    }
    atomic_fetch_sub(&s->in_use, 1);
    if (s->waiters)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int mf_redis_server_reserve(mf_redis_server_t *s)
{
    int idx = -1;
    pthread_mutex_lock(&s->mu);
    if (!servers.closed && s->nfree > 1) {
        /* An unconnected slot when there is one (they sit at the bottom of the stack). */
        idx = s->free_idx[0];
        memmove(s->free_idx, s->free_idx + 1, (size_t)(s->nfree - 1) * sizeof *s->free_idx);
        s->nfree--;
        drop(s, &s->slots[idx]);
        atomic_fetch_add(&s->in_use, 1);
    }
    pthread_mutex_unlock(&s->mu);
    return idx;
}

void mf_redis_server_unreserve(mf_redis_server_t *s, int slot)
{
    if (slot >= 0)
        give_back(s, slot);
}

/* ---- the breaker, the backoff, the accounting ---- */

static void set_last_error(mf_redis_server_t *s, const char *msg)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_error, sizeof s->last_error, "%s", msg);
    pthread_mutex_unlock(&s->mu);
}

/* A new primary (or a failover's start) begins afresh: the breaker and the connect backoff
 * were about the server that was replaced. */
static void follow_epoch(mf_redis_server_t *s)
{
    uint64_t e = mf_redis_sentinel_epoch();
    if (atomic_load_explicit(&s->breaker_epoch, memory_order_relaxed) == e ||
        atomic_exchange(&s->breaker_epoch, e) == e)
        return;
    mf_redis_server_reset(s);
}

int mf_redis_server_allow(mf_redis_server_t *s, int *probe, char *err, size_t errlen)
{
    if (mf_redis__topology() == MF_REDIS_SENTINEL)
        follow_epoch(s);
    if (mf_breaker_allow(s->breaker, mf_now_ns())) {
        *probe = mf_breaker_state(s->breaker) == MF_BREAKER_HALF_OPEN;
        return 0;
    }
    atomic_fetch_add(&mf_redis__totals.rejected, 1);
    pthread_mutex_lock(&s->mu);
    snprintf(err, errlen, "Redis unavailable (circuit open after: %s)", s->last_error);
    pthread_mutex_unlock(&s->mu);
    return -1;
}

int mf_redis_server_may_connect(mf_redis_server_t *s, int probe, char *err, size_t errlen)
{
    if (probe || mf_now_ns() >= atomic_load(&s->next_connect_ns))
        return 0;
    pthread_mutex_lock(&s->mu);
    snprintf(err, errlen, "%s", s->last_error);
    pthread_mutex_unlock(&s->mu);
    return -1;
}

void mf_redis_server_connect_failed(mf_redis_server_t *s, int kind, const char *why, uint64_t epoch)
{
    int n = atomic_fetch_add(&s->connect_failures, 1);
    int64_t backoff = (int64_t)BACKOFF_MIN_MS << (n < 10 ? n : 10);
    if (backoff > BREAKER_COOLDOWN_MS)
        backoff = BREAKER_COOLDOWN_MS;
    atomic_store(&s->next_connect_ns, mf_now_ns() + backoff * 1000000);
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
    if (kind == MF_REDIS_LINK_EAUTH)
        mf_redis__dropped(MF_REDIS_RECONNECT_AUTH, epoch);
    if (kind == MF_REDIS_LINK_ECONNECT || kind == MF_REDIS_LINK_EIO ||
        kind == MF_REDIS_LINK_ETIMEOUT)
        mf_redis__suspect(epoch, why);
    if (kind == MF_REDIS_LINK_ETLS || kind == MF_REDIS_LINK_EVERIFY)
        atomic_fetch_add(&mf_redis__totals.tls_handshake_failures, 1);
    /* Once per run of failures, and again when the reason changes (a wrong certificate after a
     * refused connect): an operator sees what to fix without a line per request. */
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_error, sizeof s->last_error, "%s", why);
    int tell = n == 0 || strcmp(s->logged_error, why) != 0;
    if (tell)
        snprintf(s->logged_error, sizeof s->logged_error, "%s", why);
    pthread_mutex_unlock(&s->mu);
    if (tell)
        mf_log_msg(kind == MF_REDIS_LINK_ECONNECT || kind == MF_REDIS_LINK_ETIMEOUT ? MF_LOG_WARN
                                                                                    : MF_LOG_ERROR,
                   "redis: %s", why);
}

void mf_redis_server_opened(mf_redis_server_t *s, int delta)
{
    atomic_fetch_add(&s->open, delta);
    if (delta > 0)
        atomic_store(&s->connect_failures, 0);
}

void mf_redis_server_failed(mf_redis_server_t *s, const char *why)
{
    atomic_fetch_add(&mf_redis__totals.failures, 1);
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
    mf_breaker_failure(s->breaker, mf_now_ns());
    set_last_error(s, why);
}

void mf_redis_server_succeeded(mf_redis_server_t *s, redisReply **replies, int n, int64_t ns)
{
    mf_breaker_success(s->breaker);
    mf_redis__observe(replies, n, ns);
}

void mf_redis_server_reset(mf_redis_server_t *s)
{
    mf_breaker_success(s->breaker);
    atomic_store(&s->connect_failures, 0);
    atomic_store(&s->next_connect_ns, 0);
}

/* ---- one call on the pool ---- */

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Connects slot by deadline_ns. Returns 0 or -1 with a message in err; *no_primary is set when
 * no primary became known in time (a Sentinel switch). */
static int open_slot(mf_redis_server_t *s, slot_t *slot, int probe, int64_t deadline_ns,
                     int *no_primary, char *err, size_t errlen)
{
    if (mf_redis_server_may_connect(s, probe, err, errlen))
        return -1; /* backing off: the reason is the failure that started it, not the wait */
    /* During a switch the new primary is waited for, within the call's deadline. */
    uint64_t epoch;
    mf_redis_link_t *l = mf_redis__link_open(s, deadline_ns, &epoch, no_primary, err, errlen);
    if (!l)
        return -1;
    if (mf_redis_link_connect_wait(
            l, earliest(mf_now_ns() + servers.timeout_ms * 1000000, deadline_ns))) {
        snprintf(err, errlen, "%s", mf_redis_link_errstr(l));
        mf_redis_server_connect_failed(s, mf_redis_link_error(l), err, epoch);
        mf_redis_link_close(l);
        return -1;
    }
    slot->link = l;
    slot->epoch = epoch;
    mf_redis_server_opened(s, 1);
    return 0;
}

int mf_redis_server_run(mf_redis_server_t *s, const mf_redis_cmd_t *cmds, int n,
                        redisReply **replies, int64_t deadline_ns, char *err, size_t errlen)
{
    int idx = borrow(s);
    if (idx < 0) {
        atomic_fetch_add(&mf_redis__totals.rejected, 1);
        if (idx == -2)
            snprintf(err, errlen, "Redis connections are closed (shutting down)");
        else
            snprintf(err, errlen, "no connection to Redis at %s free within %lldms (pool of %d)",
                     s->name, (long long)servers.timeout_ms, servers.pool_size);
        return -1;
    }
    slot_t *slot = &s->slots[idx];
    int64_t t0 = mf_now_ns(), deadline = t0 + 2 * servers.timeout_ms * 1000000;
    if (deadline_ns && deadline_ns < deadline)
        deadline = deadline_ns;
    int probe, retried = 0, no_primary = 0;
    if (mf_redis_server_allow(s, &probe, err, errlen)) {
        give_back(s, idx);
        return -1;
    }
    for (;;) {
        if (slot->link && mf_redis__stale(slot->epoch)) {
            drop(s, slot); /* made for a primary the sentinels replaced */
            mf_redis__dropped(MF_REDIS_RECONNECT_FAILOVER, slot->epoch);
        }
        if (slot->link && mf_redis_link_check_idle(slot->link)) {
            drop(s, slot); /* the server closed it while it sat idle: nothing of it was sent */
            mf_redis__dropped(MF_REDIS_RECONNECT_IO, slot->epoch);
        }
        if (!slot->link && open_slot(s, slot, probe, deadline, &no_primary, err, errlen))
            goto fail;
        uint64_t before = mf_redis_link_written(slot->link);
        if (mf_redis_link_exchange(
                slot->link, cmds, n, replies,
                earliest(mf_now_ns() + servers.timeout_ms * 1000000, deadline))) {
            snprintf(err, errlen, "%s", mf_redis_link_errstr(slot->link));
            int unsent = mf_redis_link_written(slot->link) == before;
            mf_redis__dropped(mf_redis_link_error(slot->link) == MF_REDIS_LINK_ETIMEOUT
                                  ? MF_REDIS_RECONNECT_TIMEOUT
                                  : MF_REDIS_RECONNECT_IO,
                              slot->epoch);
            drop(s, slot); /* a timed-out or broken connection is never reused */
            if (!unsent || retried || mf_now_ns() >= deadline)
                goto fail;
        } else {
            int all, why = mf_redis__refusals(replies, n, &all);
            if (why < 0)
                break;
            drop(s, slot);
            mf_redis__dropped((mf_redis_reconnect_t)why, slot->epoch);
            if (!all || retried || mf_now_ns() >= deadline)
                break; /* the refusals are the caller's replies */
            for (int i = 0; i < n; i++)
                freeReplyObject(replies[i]);
        }
        retried = 1;
    }
    give_back(s, idx);
    mf_redis_server_succeeded(s, replies, n, mf_now_ns() - t0);
    return 0;
fail:
    if (no_primary)
        mf_redis__no_primary();
    else
        mf_redis_server_failed(s, err);
    give_back(s, idx);
    return -1;
}

/* ---- numbers, shutdown ---- */

void mf_redis_server_stats(const mf_redis_server_t *s, mf_redis_server_stats_t *out)
{
    memset(out, 0, sizeof *out);
    int n = atomic_load(&servers.count);
    for (int i = 0; i < n; i++) {
        mf_redis_server_t *x = servers.all[i];
        if (s && x != s)
            continue;
        out->pool_size += servers.pool_size;
        out->in_use += atomic_load(&x->in_use);
        out->open += atomic_load(&x->open);
        out->errors += atomic_load(&x->errors);
        int st = (int)mf_breaker_state(x->breaker);
        /* closed 0 < half-open 2 < open 1, by how much it refuses */
        int rank = st == MF_BREAKER_OPEN ? 2 : st == MF_BREAKER_HALF_OPEN ? 1 : 0;
        int have = out->breaker_state == MF_BREAKER_OPEN        ? 2
                   : out->breaker_state == MF_BREAKER_HALF_OPEN ? 1
                                                                : 0;
        if (rank > have)
            out->breaker_state = st;
    }
}

void mf_redis_servers_shutdown(void)
{
    pthread_mutex_lock(&servers.mu);
    servers.closed = 1;
    int n = atomic_load(&servers.count);
    pthread_mutex_unlock(&servers.mu);
    for (int i = 0; i < n; i++) {
        mf_redis_server_t *s = servers.all[i];
        pthread_mutex_lock(&s->mu);
        for (int j = 0; j < s->nfree; j++)
            drop(s, &s->slots[s->free_idx[j]]);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}
