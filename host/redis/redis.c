/* Redis connections for the whole process: a pool of at most pool_size links (link.h), lent
 * for one call (or one pipeline) at a time under a mutex, so the connection count stays bounded
 * whatever the worker count and replicas cannot exhaust Redis's maxclients. A borrower that
 * finds every connection lent waits on a condition variable, at most one command timeout.
 *
 * Failure handling, in order: a connection that timed out, broke or answered with a refusal
 * (below) is closed, never reused; failed connects back off exponentially (process-wide, capped
 * at the breaker's cool-down); and after BREAKER_THRESHOLD failures in a row the breaker fails
 * calls fast until one probe succeeds. A stopped or vanished Redis therefore costs a request at
 * most about three timeouts (a wait for a free connection, then the call's two: the connect and
 * the exchange, a retry included), and only while the breaker is still closed.
 *
 * Which calls are sent again on a new connection, here and on the workers' (conn.c), always
 * within the call's deadline (here two timeouts from the borrow; there the command timeout or
 * the run's deadline, whichever comes first):
 *   - a call none of whose bytes left: its connection was found closed before use (the pool
 *     checks a connection that sat idle before writing to it; a worker's watches its own), or
 *     broke before the call's first byte was written, or was still connecting. Here once; on a
 *     worker's connection the call simply waits for the next connection.
 *   - a call every reply of which is a refusal (READONLY from a replica the primary became,
 *     MASTERDOWN from a replica without its primary, LOADING from a server loading its data,
 *     NOAUTH): nothing of it ran. Once. The connection is closed (a worker's once the calls
 *     already written on it are answered) and the new one resolves the name again.
 * Never sent again: a call whose bytes went, even in part, before its connection broke or timed
 * out (it may have run: the caller gets the outage error, a 503); a pipeline some of whose
 * replies are refusals and some not (those ran: the caller gets every reply, the refusals as
 * error replies, and the connection is still closed); a call whose connect failed (the backoff
 * and the breaker decide when to try again). */
#include "redis/redis.h"

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
#include "redis/auth.h"
#include "redis/private.h"
#include "redis/sentinel.h"
#include "redis/tls.h"
#include "redis/url.h"

#define BREAKER_THRESHOLD 3
#define BREAKER_COOLDOWN_MS 1000
#define BACKOFF_MIN_MS 25

const char *const mf_redis_reconnect_names[MF_REDIS_RECONNECT_REASONS] = {
    "readonly", "masterdown", "loading", "auth", "timeout", "io", "failover"};

const double mf_redis_bucket_bounds[MF_REDIS_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                         0.005,  0.01,    0.05,   0.25,  1.0};

/* The server a new connection goes to (one server's; Sentinel's primary is asked for). */
typedef struct {
    char host[256];
    int port;
    int tls;
} mf_redis_server_t;

typedef struct {
    mf_redis_link_t *link; /* NULL: not connected */
    uint64_t epoch;        /* of the primary it went to (Sentinel) */
} slot_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;                /* mf_redis_init ran */
    int configured;           /* a URL was given */
    int closed;               /* mf_redis_shutdown ran */
    char settings_error[512]; /* why the settings were refused; every call reports it */
    mf_redis_topology_t topology;
    mf_redis_server_t server;
    int64_t timeout_ms;
    slot_t *slots;
    int size;
    int *free_idx; /* stack of free slot indexes; connected ones are pushed last (reused first) */
    int nfree;
    int waiters;
    mf_breaker_t *breaker;
    char last_error[512];   /* under mu */
    char logged_error[512]; /* the last connect failure logged, under mu */
    _Atomic int64_t next_connect_ns;
    _Atomic int connect_failures;
    _Atomic int in_use, open;
    _Atomic uint64_t commands, error_replies, failures, rejected, lat_count, lat_sum_ns;
    _Atomic uint64_t lat_buckets[MF_REDIS_BUCKETS];
    _Atomic uint64_t reconnects[MF_REDIS_RECONNECT_REASONS];
    _Atomic uint64_t tls_handshake_failures;
    _Atomic uint64_t breaker_epoch; /* the Sentinel epoch the breaker's state is about */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---- setup ---- */

/* Reads MAYFLY_REDIS_URL and the TLS and password settings into pool. Returns 0, or -1 with the
 * reason in err. */
static int configure(const mf_options_t *o, char *err, size_t errlen)
{
    mf_redis_url_t url;
    mf_redis_setup_set_t setup;
    int rc = -1;
    if (mf_redis_url_parse(o->redis_url, &url, err, errlen))
        goto done;
    if (!url.tls && (o->redis_ca_file || o->redis_cert_file || o->redis_key_file)) {
        /* Most likely a rediss:// written without its s: never plaintext for a TLS setting. */
        snprintf(err, errlen,
                 "MAYFLY_REDIS_CA_FILE, MAYFLY_REDIS_CERT_FILE and "
                 "MAYFLY_REDIS_KEY_FILE are for TLS: MAYFLY_REDIS_URL must be "
                 "rediss://");
        goto done;
    }
    if (url.tls && mf_redis_tls_init(o, err, errlen))
        goto done;
    mf_redis_auth_init(&url, o->redis_password_file);
    /* A password file that cannot be read now is a setting to fix before serving. */
    if (mf_redis_auth_setup(&setup, err, errlen))
        goto done;
    pool.topology = url.topology;
    snprintf(pool.server.host, sizeof pool.server.host, "%s", url.nodes[0].host);
    pool.server.port = url.nodes[0].port;
    pool.server.tls = url.tls;
    if (url.topology == MF_REDIS_SENTINEL &&
        mf_redis_sentinel_start(&url, o->redis_sentinel_password, pool.timeout_ms, err, errlen))
        goto done;
    rc = 0;
done:
    explicit_bzero(&url, sizeof url);
    explicit_bzero(&setup, sizeof setup);
    return rc;
}

int mf_redis_init(const mf_options_t *o, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&pool.mu);
    if (!pool.ready) {
        pool.ready = 1;
        pool.configured = o->redis_url != NULL;
        pool.timeout_ms = o->redis_timeout_ms > 0 ? o->redis_timeout_ms : 250;
        pool.size = o->redis_pool_size > 0 ? o->redis_pool_size : 8;
        if (pool.configured)
            configure(o, pool.settings_error, sizeof pool.settings_error);
        pool.slots = mf_xcalloc((size_t)pool.size, sizeof *pool.slots);
        pool.free_idx = mf_xcalloc((size_t)pool.size, sizeof *pool.free_idx);
        for (int i = 0; i < pool.size; i++)
            pool.free_idx[pool.nfree++] = pool.size - 1 - i;
        pool.breaker = mf_breaker_new("redis", BREAKER_THRESHOLD, BREAKER_COOLDOWN_MS);
    }
    if (pool.settings_error[0]) {
        snprintf(err, errlen, "%s", pool.settings_error);
        rc = -1;
    }
    pthread_mutex_unlock(&pool.mu);
    return rc;
}

int mf_redis_configured(void)
{
    return pool.configured;
}

/* ---- the pool ---- */

static void set_last_error(const char *msg)
{
    pthread_mutex_lock(&pool.mu);
    snprintf(pool.last_error, sizeof pool.last_error, "%s", msg);
    pthread_mutex_unlock(&pool.mu);
}

/* Returns a free slot's index, waiting up to the timeout; -1 when the pool stayed full, -2 when
 * it is closed. */
static int borrow(void)
{
    struct timespec until;
    int idx = -1;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += pool.timeout_ms / 1000;
    until.tv_nsec += (pool.timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&pool.mu);
    while (!pool.closed && pool.nfree == 0) {
        pool.waiters++;
        int rc = pthread_cond_timedwait(&pool.cv, &pool.mu, &until);
        pool.waiters--;
        if (rc == ETIMEDOUT)
            break;
    }
    if (pool.closed) {
        idx = -2;
    } else if (pool.nfree > 0) {
        idx = pool.free_idx[--pool.nfree];
        atomic_fetch_add(&pool.in_use, 1);
    }
    pthread_mutex_unlock(&pool.mu);
    return idx;
}

static void drop(slot_t *s)
{
    if (s->link) {
        mf_redis_link_close(s->link);
        s->link = NULL;
        mf_redis__opened(-1);
    }
}

static void give_back(int idx)
{
    slot_t *s = &pool.slots[idx];
    pthread_mutex_lock(&pool.mu);
    if (pool.closed)
        drop(s);
    if (s->link || pool.nfree == 0) {
        pool.free_idx[pool.nfree++] = idx;
    } else {
        /* Unconnected slots go under the connected ones: borrowers reuse live connections. */
        memmove(pool.free_idx + 1, pool.free_idx, (size_t)pool.nfree * sizeof *pool.free_idx);
        pool.free_idx[0] = idx;
        pool.nfree++;
    }
    atomic_fetch_sub(&pool.in_use, 1);
    if (pool.waiters)
        pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

/* ---- what workers' own connections share (private.h) ---- */

int mf_redis__usable(char *err, size_t errlen)
{
    if (!pool.configured) {
        snprintf(err, errlen, "Redis is not configured (set MAYFLY_REDIS_URL)");
        return -1;
    }
    if (pool.settings_error[0]) {
        snprintf(err, errlen, "%s", pool.settings_error);
        return -1;
    }
    return 0;
}


int64_t mf_redis__timeout_ms(void)
{
    return pool.timeout_ms;
}

mf_redis_link_t *mf_redis__link_open(int64_t wait_ns, uint64_t *epoch, int *no_primary, char *err,
                                     size_t errlen)
{
    mf_redis_server_t srv = pool.server;
    mf_redis_setup_set_t setup;
    mf_redis_link_t *l = NULL;
    *epoch = 0;
    *no_primary = 0;
    if (mf_redis__usable(err, errlen))
        return NULL;
    if (pool.topology == MF_REDIS_SENTINEL) {
        mf_redis_node_t primary;
        if (mf_redis_sentinel_primary(&primary, epoch, wait_ns ? wait_ns : mf_now_ns(), err,
                                      errlen)) {
            *no_primary = 1;
            return NULL;
        }
        snprintf(srv.host, sizeof srv.host, "%s", primary.host);
        srv.port = primary.port;
    }
    if (mf_redis_auth_setup(&setup, err, errlen))
        mf_redis__connect_failed(MF_REDIS_LINK_ESETUP, err, *epoch);
    else
        l = mf_redis_link_open(srv.host, srv.port, srv.tls, &setup);
    explicit_bzero(&setup, sizeof setup);
    return l;
}

int mf_redis__stale(uint64_t epoch)
{
    return pool.topology == MF_REDIS_SENTINEL && epoch != mf_redis_sentinel_epoch();
}

/* A failure of a connection made in epoch that says the primary may have moved. */
static void suspect(uint64_t epoch, const char *why)
{
    if (pool.topology == MF_REDIS_SENTINEL)
        mf_redis_sentinel_suspect(epoch, why);
}

int mf_redis__reserve(void)
{
    int idx = -1;
    pthread_mutex_lock(&pool.mu);
    if (!pool.closed && pool.nfree > 1) {
        /* An unconnected slot when there is one (they sit at the bottom of the stack). */
        idx = pool.free_idx[0];
        memmove(pool.free_idx, pool.free_idx + 1, (size_t)(pool.nfree - 1) * sizeof *pool.free_idx);
        pool.nfree--;
        drop(&pool.slots[idx]);
        atomic_fetch_add(&pool.in_use, 1);
    }
    pthread_mutex_unlock(&pool.mu);
    return idx;
}

void mf_redis__unreserve(int slot)
{
    if (slot >= 0)
        give_back(slot);
}

/* A new primary (or a failover's start) begins afresh: the breaker and the connect back-off
 * were about the server that was replaced. */
static void follow_epoch(void)
{
    uint64_t e = mf_redis_sentinel_epoch();
    if (atomic_load_explicit(&pool.breaker_epoch, memory_order_relaxed) == e ||
        atomic_exchange(&pool.breaker_epoch, e) == e)
        return;
    mf_breaker_success(pool.breaker);
    atomic_store(&pool.connect_failures, 0);
    atomic_store(&pool.next_connect_ns, 0);
}

int mf_redis__allow(int *probe, char *err, size_t errlen)
{
    if (pool.topology == MF_REDIS_SENTINEL)
        follow_epoch();
    if (mf_breaker_allow(pool.breaker, mf_now_ns())) {
        *probe = mf_breaker_state(pool.breaker) == MF_BREAKER_HALF_OPEN;
        return 0;
    }
    atomic_fetch_add(&pool.rejected, 1);
    pthread_mutex_lock(&pool.mu);
    snprintf(err, errlen, "Redis unavailable (circuit open after: %s)", pool.last_error);
    pthread_mutex_unlock(&pool.mu);
    return -1;
}

int mf_redis__may_connect(int probe, char *err, size_t errlen)
{
    if (probe || mf_now_ns() >= atomic_load(&pool.next_connect_ns))
        return 0;
    pthread_mutex_lock(&pool.mu);
    snprintf(err, errlen, "%s", pool.last_error);
    pthread_mutex_unlock(&pool.mu);
    return -1;
}

void mf_redis__connect_failed(int kind, const char *why, uint64_t epoch)
{
    int n = atomic_fetch_add(&pool.connect_failures, 1);
    int64_t backoff = (int64_t)BACKOFF_MIN_MS << (n < 10 ? n : 10);
    if (backoff > BREAKER_COOLDOWN_MS)
        backoff = BREAKER_COOLDOWN_MS;
    atomic_store(&pool.next_connect_ns, mf_now_ns() + backoff * 1000000);
    if (kind == MF_REDIS_LINK_EAUTH)
        mf_redis__dropped(MF_REDIS_RECONNECT_AUTH, epoch);
    if (kind == MF_REDIS_LINK_ECONNECT || kind == MF_REDIS_LINK_EIO ||
        kind == MF_REDIS_LINK_ETIMEOUT)
        suspect(epoch, why);
    if (kind == MF_REDIS_LINK_ETLS || kind == MF_REDIS_LINK_EVERIFY)
        atomic_fetch_add(&pool.tls_handshake_failures, 1);
    /* Once per run of failures, and again when the reason changes (a wrong certificate after a
     * refused connect): an operator sees what to fix without a line per request. */
    pthread_mutex_lock(&pool.mu);
    snprintf(pool.last_error, sizeof pool.last_error, "%s", why);
    int tell = n == 0 || strcmp(pool.logged_error, why) != 0;
    if (tell)
        snprintf(pool.logged_error, sizeof pool.logged_error, "%s", why);
    pthread_mutex_unlock(&pool.mu);
    if (tell)
        mf_log_msg(kind == MF_REDIS_LINK_ECONNECT || kind == MF_REDIS_LINK_ETIMEOUT ? MF_LOG_WARN
                                                                                    : MF_LOG_ERROR,
                   "redis: %s", why);
}

void mf_redis__opened(int delta)
{
    atomic_fetch_add(&pool.open, delta);
    if (delta > 0)
        atomic_store(&pool.connect_failures, 0);
}

void mf_redis__dropped(mf_redis_reconnect_t why, uint64_t epoch)
{
    atomic_fetch_add_explicit(&pool.reconnects[why], 1, memory_order_relaxed);
    if (why == MF_REDIS_RECONNECT_READONLY || why == MF_REDIS_RECONNECT_MASTERDOWN ||
        why == MF_REDIS_RECONNECT_TIMEOUT || why == MF_REDIS_RECONNECT_IO)
        suspect(epoch, mf_redis_reconnect_names[why]);
    if (why == MF_REDIS_RECONNECT_AUTH)
        mf_redis_auth_recheck(); /* the Secret may have been rotated since it was read */
}

/* The reason an error reply gives to drop its connection, or -1. */
static int refusal(const redisReply *r)
{
    static const struct {
        const char *code;
        size_t len;
        mf_redis_reconnect_t why;
    } codes[] = {{"READONLY", 8, MF_REDIS_RECONNECT_READONLY},
                 {"MASTERDOWN", 10, MF_REDIS_RECONNECT_MASTERDOWN},
                 {"LOADING", 7, MF_REDIS_RECONNECT_LOADING},
                 {"NOAUTH", 6, MF_REDIS_RECONNECT_AUTH}};
    if (r->type != REDIS_REPLY_ERROR)
        return -1;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (r->len >= codes[i].len && memcmp(r->str, codes[i].code, codes[i].len) == 0 &&
            (r->len == codes[i].len || r->str[codes[i].len] == ' '))
            return (int)codes[i].why;
    return -1;
}

int mf_redis__refusals(redisReply **replies, int n, int *all)
{
    int first = -1;
    *all = 1;
    for (int i = 0; i < n; i++) {
        int why = refusal(replies[i]);
        if (why < 0)
            *all = 0;
        else if (first < 0)
            first = why;
    }
    if (first < 0)
        *all = 0;
    return first;
}

void mf_redis__failed(const char *why)
{
    atomic_fetch_add(&pool.failures, 1);
    mf_breaker_failure(pool.breaker, mf_now_ns());
    set_last_error(why);
}

void mf_redis__no_primary(const char *why)
{
    atomic_fetch_add(&pool.failures, 1);
    set_last_error(why);
}

static void observe(int n, int64_t ns);

void mf_redis__succeeded(redisReply **replies, int n, int64_t ns)
{
    mf_breaker_success(pool.breaker);
    observe(n, ns);
    for (int i = 0; i < n; i++)
        if (replies[i]->type == REDIS_REPLY_ERROR)
            atomic_fetch_add_explicit(&pool.error_replies, 1, memory_order_relaxed);
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Connects slot s (TLS, AUTH, SELECT) by deadline_ns. Returns 0 or -1 with a message in err;
 * *no_primary is set when no primary became known in time (a Sentinel switch). */
static int open_slot(slot_t *s, int probe, int64_t deadline_ns, int *no_primary, char *err,
                     size_t errlen)
{
    if (mf_redis__may_connect(probe, err, errlen))
        return -1; /* backing off: the reason is the failure that started it, not the wait */
    /* During a switch the new primary is waited for, within the call's deadline. */
    uint64_t epoch;
    mf_redis_link_t *l = mf_redis__link_open(deadline_ns, &epoch, no_primary, err, errlen);
    if (!l)
        return -1;
    if (mf_redis_link_connect_wait(
            l, earliest(mf_now_ns() + pool.timeout_ms * 1000000, deadline_ns))) {
        snprintf(err, errlen, "%s", mf_redis_link_errstr(l));
        mf_redis__connect_failed(mf_redis_link_error(l), err, epoch);
        mf_redis_link_close(l);
        return -1;
    }
    s->link = l;
    s->epoch = epoch;
    mf_redis__opened(1);
    return 0;
}

static void observe(int n, int64_t ns)
{
    double secs = (double)ns / 1e9;
    atomic_fetch_add_explicit(&pool.commands, (uint64_t)n, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.lat_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.lat_sum_ns, (uint64_t)ns, memory_order_relaxed);
    /* One bucket counts it (the first whose bound it is under): summed into Prometheus's
     * cumulative ones at a scrape, not here on every call. */
    for (int i = 0; i < MF_REDIS_BUCKETS; i++) {
        if (secs <= mf_redis_bucket_bounds[i]) {
            atomic_fetch_add_explicit(&pool.lat_buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
}

int mf_redis_run(const mf_redis_cmd_t *cmds, int n, redisReply **replies, char *err, size_t errlen)
{
    if (mf_redis__usable(err, errlen))
        return -1;
    int idx = borrow();
    if (idx < 0) {
        atomic_fetch_add(&pool.rejected, 1);
        if (idx == -2)
            snprintf(err, errlen, "Redis connections are closed (shutting down)");
        else
            snprintf(err, errlen, "no Redis connection free within %lldms (pool of %d)",
                     (long long)pool.timeout_ms, pool.size);
        return -1;
    }
    slot_t *s = &pool.slots[idx];
    int64_t t0 = mf_now_ns(), deadline = t0 + 2 * pool.timeout_ms * 1000000;
    int probe, retried = 0, no_primary = 0;
    if (mf_redis__allow(&probe, err, errlen)) {
        give_back(idx);
        return -1;
    }
    for (;;) {
        if (s->link && mf_redis__stale(s->epoch)) {
            drop(s); /* made for a primary the sentinels replaced */
            mf_redis__dropped(MF_REDIS_RECONNECT_FAILOVER, s->epoch);
        }
        if (s->link && mf_redis_link_check_idle(s->link)) {
            drop(s); /* the server closed it while it sat idle: nothing of the call was sent */
            mf_redis__dropped(MF_REDIS_RECONNECT_IO, s->epoch);
        }
        if (!s->link && open_slot(s, probe, deadline, &no_primary, err, errlen))
            goto fail;
        uint64_t before = mf_redis_link_written(s->link);
        if (mf_redis_link_exchange(s->link, cmds, n, replies,
                                   earliest(mf_now_ns() + pool.timeout_ms * 1000000, deadline))) {
            snprintf(err, errlen, "%s", mf_redis_link_errstr(s->link));
            int unsent = mf_redis_link_written(s->link) == before;
            mf_redis__dropped(mf_redis_link_error(s->link) == MF_REDIS_LINK_ETIMEOUT
                                  ? MF_REDIS_RECONNECT_TIMEOUT
                                  : MF_REDIS_RECONNECT_IO,
                              s->epoch);
            drop(s); /* a timed-out or broken connection is never reused */
            if (!unsent || retried || mf_now_ns() >= deadline)
                goto fail;
        } else {
            int all, why = mf_redis__refusals(replies, n, &all);
            if (why < 0)
                break;
            drop(s);
            mf_redis__dropped((mf_redis_reconnect_t)why, s->epoch);
            if (!all || retried || mf_now_ns() >= deadline)
                break; /* the refusals are the caller's replies */
            for (int i = 0; i < n; i++)
                freeReplyObject(replies[i]);
        }
        retried = 1;
    }
    give_back(idx);
    mf_redis__succeeded(replies, n, mf_now_ns() - t0);
    return 0;
fail:
    if (no_primary)
        mf_redis__no_primary(err);
    else
        mf_redis__failed(err);
    give_back(idx);
    return -1;
}

/* ---- readiness, metrics, shutdown ---- */

int mf_redis_check(char *why, size_t n)
{
    static const char *ping[] = {"PING"};
    static const size_t ping_len[] = {4};
    mf_redis_cmd_t cmd = {1, ping, ping_len};
    redisReply *r;

    if (!pool.configured)
        return 0;
    /* No primary known: say why at once rather than wait for one (a probe has its own
     * timeout, often shorter than a call's). */
    if (pool.topology == MF_REDIS_SENTINEL && !pool.settings_error[0] &&
        !mf_redis_sentinel_describe(why, n))
        return -1;
    if (mf_redis_run(&cmd, 1, &r, why, n))
        return -1;
    int ok = r->type == REDIS_REPLY_STATUS;
    if (!ok)
        snprintf(why, n, "Redis answered PING with: %.*s", (int)r->len, r->str ? r->str : "");
    else if (pool.topology == MF_REDIS_SENTINEL)
        mf_redis_sentinel_describe(why, n);
    else
        snprintf(why, n, strchr(pool.server.host, ':') ? "%s [%s]:%d%s" : "%s %s:%d%s",
                 mf_redis_topology_name(pool.topology), pool.server.host, pool.server.port,
                 pool.server.tls ? " (TLS)" : "");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

void mf_redis_stats(mf_redis_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->commands_total = atomic_load(&pool.commands);
    s->error_replies_total = atomic_load(&pool.error_replies);
    s->failures_total = atomic_load(&pool.failures);
    s->rejected_total = atomic_load(&pool.rejected);
    for (int i = 0; i < MF_REDIS_RECONNECT_REASONS; i++)
        s->reconnects_total[i] = atomic_load(&pool.reconnects[i]);
    s->failovers_total = pool.topology == MF_REDIS_SENTINEL ? mf_redis_sentinel_failovers() : 0;
    s->tls_handshake_failures_total = atomic_load(&pool.tls_handshake_failures);
    s->latency_count = atomic_load(&pool.lat_count);
    s->latency_sum_seconds = (double)atomic_load(&pool.lat_sum_ns) / 1e9;
    for (int i = 0; i < MF_REDIS_BUCKETS; i++)
        s->latency_buckets[i] =
            atomic_load(&pool.lat_buckets[i]) + (i ? s->latency_buckets[i - 1] : 0);
    s->pool_size = pool.size;
    s->pool_in_use = atomic_load(&pool.in_use);
    s->pool_open = atomic_load(&pool.open);
    s->breaker_state = pool.breaker ? (int)mf_breaker_state(pool.breaker) : 0;
}

void mf_redis_shutdown(void)
{
    if (pool.topology == MF_REDIS_SENTINEL)
        mf_redis_sentinel_stop();
    pthread_mutex_lock(&pool.mu);
    pool.closed = 1;
    for (int i = 0; i < pool.nfree; i++)
        drop(&pool.slots[pool.free_idx[i]]);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}
