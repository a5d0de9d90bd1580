/* Redis connections for the whole process: a pool of at most pool_size hiredis contexts, lent
 * for one call (or one pipeline) at a time under a mutex, so the connection count stays bounded
 * whatever the worker count and replicas cannot exhaust Redis's maxclients. A borrower that
 * finds every connection lent waits on a condition variable, at most one command timeout.
 *
 * Failure handling, in order: a connection that timed out or broke is closed, never reused; a
 * reused connection that the server closed while idle gets one retry on a new one; failed
 * connects back off exponentially (process-wide, capped at the breaker's cool-down); and after
 * BREAKER_THRESHOLD failures in a row the breaker fails calls fast until one probe succeeds.
 * A stopped or vanished Redis therefore costs a request at most about two timeouts, and only
 * while the breaker is still closed. */
#include "redis/redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "event/breaker.h"
#include "redis/private.h"

#define BREAKER_THRESHOLD 3
#define BREAKER_COOLDOWN_MS 1000
#define BACKOFF_MIN_MS 25

const double mf_redis_bucket_bounds[MF_REDIS_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                         0.005,  0.01,    0.05,   0.25,  1.0};

typedef struct {
    redisContext *ctx; /* NULL: not connected */
} slot_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;      /* mf_redis_init ran */
    int configured; /* a URL was given */
    int closed;     /* mf_redis_shutdown ran */
    char url_error[256];
    char host[256];
    int port;
    char user[128], pass[256];
    int db;
    char db_arg[16]; /* db as SELECT's argument */
    int64_t timeout_ms;
    mf_redis_target_t target; /* the fields above, as every connection uses them */
    slot_t *slots;
    int size;
    int *free_idx; /* stack of free slot indexes; connected ones are pushed last (reused first) */
    int nfree;
    int waiters;
    mf_breaker_t *breaker;
    char last_error[256]; /* under mu */
    _Atomic int64_t next_connect_ns;
    _Atomic int connect_failures;
    _Atomic int in_use, open;
    _Atomic uint64_t commands, error_replies, failures, rejected, lat_count, lat_sum_ns;
    _Atomic uint64_t lat_buckets[MF_REDIS_BUCKETS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---- setup ---- */

/* redis://[[user]:pass@]host[:port][/db] */
static int parse_url(const char *url)
{
    const char *p = url, *at, *slash, *colon;
    pool.port = 6379;
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        const char *c = memchr(p, ':', (size_t)(at - p));
        if (c) {
            snprintf(pool.user, sizeof pool.user, "%.*s", (int)(c - p), p);
            snprintf(pool.pass, sizeof pool.pass, "%.*s", (int)(at - c - 1), c + 1);
        } else {
            snprintf(pool.pass, sizeof pool.pass, "%.*s", (int)(at - p), p);
        }
        p = at + 1;
    }
    size_t hostport = slash ? (size_t)(slash - p) : strlen(p);
    colon = memchr(p, ':', hostport);
    size_t hostlen = colon ? (size_t)(colon - p) : hostport;
    if (hostlen == 0 || hostlen >= sizeof pool.host)
        return -1;
    memcpy(pool.host, p, hostlen);
    pool.host[hostlen] = '\0';
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != p + hostport || port <= 0 || port > 65535)
            return -1;
        pool.port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000000)
            return -1;
        pool.db = (int)db;
    }
    return 0;
}

/* What a connection needs of the URL, for the pool's and the workers' own alike: where to
 * connect, and the setup commands both send first, each in its own I/O style. */
static void set_target(void)
{
    mf_redis_target_t *t = &pool.target;
    *t = (mf_redis_target_t){.host = pool.host, .port = pool.port, .timeout_ms = pool.timeout_ms};
    if (pool.pass[0])
        t->setup[t->nsetup++] = pool.user[0] ? (mf_redis_setup_t){3, {"AUTH", pool.user, pool.pass}}
                                             : (mf_redis_setup_t){2, {"AUTH", pool.pass}};
    if (pool.db) {
        snprintf(pool.db_arg, sizeof pool.db_arg, "%d", pool.db);
        t->setup[t->nsetup++] = (mf_redis_setup_t){2, {"SELECT", pool.db_arg}};
    }
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
        if (pool.configured && parse_url(o->redis_url))
            snprintf(pool.url_error, sizeof pool.url_error,
                     "MAYFLY_REDIS_URL is not redis://[user:pass@]host:port/db");
        pool.slots = mf_xcalloc((size_t)pool.size, sizeof *pool.slots);
        pool.free_idx = mf_xcalloc((size_t)pool.size, sizeof *pool.free_idx);
        for (int i = 0; i < pool.size; i++)
            pool.free_idx[pool.nfree++] = pool.size - 1 - i;
        pool.breaker = mf_breaker_new("redis", BREAKER_THRESHOLD, BREAKER_COOLDOWN_MS);
        set_target();
    }
    if (pool.url_error[0]) {
        snprintf(err, errlen, "%s", pool.url_error);
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
    if (s->ctx) {
        redisFree(s->ctx);
        s->ctx = NULL;
        mf_redis__opened(-1);
    }
}

static void give_back(int idx)
{
    slot_t *s = &pool.slots[idx];
    pthread_mutex_lock(&pool.mu);
    if (pool.closed)
        drop(s);
    if (s->ctx || pool.nfree == 0) {
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

static struct timeval timeval_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

/* Runs one setup command (AUTH, SELECT) on a fresh connection. */
static int setup_command(redisContext *c, const mf_redis_setup_t *cmd, char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, cmd->argc, (const char **)cmd->argv, NULL); /* only read */
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis %s failed: %s", cmd->argv[0], r ? r->str : c->errstr);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

static void connect_failed(void);

/* ---- what workers' own connections share (private.h) ---- */

const mf_redis_target_t *mf_redis__target(char *err, size_t errlen)
{
    if (!pool.configured) {
        snprintf(err, errlen, "Redis is not configured (set MAYFLY_REDIS_URL)");
        return NULL;
    }
    if (pool.url_error[0]) {
        snprintf(err, errlen, "%s", pool.url_error);
        return NULL;
    }
    return &pool.target;
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

int mf_redis__allow(int *probe, char *err, size_t errlen)
{
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

void mf_redis__connect_failed(const char *why)
{
    set_last_error(why);
    connect_failed();
}

void mf_redis__opened(int delta)
{
    atomic_fetch_add(&pool.open, delta);
    if (delta > 0)
        atomic_store(&pool.connect_failures, 0);
}

void mf_redis__failed(const char *why)
{
    atomic_fetch_add(&pool.failures, 1);
    mf_breaker_failure(pool.breaker, mf_now_ns());
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

static void connect_failed(void)
{
    int n = atomic_fetch_add(&pool.connect_failures, 1);
    int64_t backoff = (int64_t)BACKOFF_MIN_MS << (n < 10 ? n : 10);
    if (backoff > BREAKER_COOLDOWN_MS)
        backoff = BREAKER_COOLDOWN_MS;
    atomic_store(&pool.next_connect_ns, mf_now_ns() + backoff * 1000000);
}

/* Connects slot s (timeouts, AUTH, SELECT). Returns 0 or -1 with a message in err. */
static int open_slot(slot_t *s, int probe, char *err, size_t errlen)
{
    if (mf_redis__may_connect(probe, err, errlen))
        return -1; /* backing off: the reason is the failure that started it, not the wait */
    redisContext *c = redisConnectWithTimeout(pool.host, pool.port, timeval_ms(pool.timeout_ms));
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s:%d: %s", pool.host, pool.port,
                 c ? c->errstr : "out of memory");
        goto fail;
    }
    /* A command timeout makes a stopped Redis fail the call instead of hanging the worker. */
    redisSetTimeout(c, timeval_ms(pool.timeout_ms));
    for (int i = 0; i < pool.target.nsetup; i++)
        if (setup_command(c, &pool.target.setup[i], err, errlen))
            goto fail;
    s->ctx = c;
    mf_redis__opened(1);
    return 0;
fail:
    if (c)
        redisFree(c);
    connect_failed();
    return -1;
}

/* Writes the commands and reads the replies. Returns 0, or -1 with the replies read so far
 * freed (the connection is then unusable). */
static int exchange(redisContext *c, const mf_redis_cmd_t *cmds, int n, redisReply **replies)
{
    int got = 0;
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(c, cmds[i].argc, cmds[i].argv, cmds[i].lens) != REDIS_OK)
            return -1;
    for (; got < n; got++)
        if (redisGetReply(c, (void **)&replies[got]) != REDIS_OK)
            goto fail;
    return 0;
fail:
    for (int i = 0; i < got; i++)
        freeReplyObject(replies[i]);
    return -1;
}

static void io_error(redisContext *c, char *err, size_t errlen)
{
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        snprintf(err, errlen, "Redis at %s:%d did not answer within %lldms", pool.host, pool.port,
                 (long long)pool.timeout_ms);
    else
        snprintf(err, errlen, "Redis connection to %s:%d failed: %s", pool.host, pool.port,
                 c->errstr[0] ? c->errstr : "connection lost");
}

static void observe(int n, int64_t ns)
{
    double secs = (double)ns / 1e9;
    atomic_fetch_add_explicit(&pool.commands, (uint64_t)n, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.lat_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.lat_sum_ns, (uint64_t)ns, memory_order_relaxed);
    for (int i = 0; i < MF_REDIS_BUCKETS; i++)
        if (secs <= mf_redis_bucket_bounds[i])
            atomic_fetch_add_explicit(&pool.lat_buckets[i], 1, memory_order_relaxed);
}

int mf_redis_run(const mf_redis_cmd_t *cmds, int n, redisReply **replies, char *err, size_t errlen)
{
    if (!mf_redis__target(err, errlen))
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
    int64_t t0 = mf_now_ns();
    int probe;
    if (mf_redis__allow(&probe, err, errlen)) {
        give_back(idx);
        return -1;
    }
    int reused = s->ctx != NULL;
    if (!reused && open_slot(s, probe, err, errlen))
        goto fail;
    if (exchange(s->ctx, cmds, n, replies) == 0)
        goto ok;
    if (reused && s->ctx->err == REDIS_ERR_EOF) {
        /* The server closed a connection that sat idle (restart, its timeout): nothing was
         * executed, so one new try on a fresh connection is safe. */
        drop(s);
        if (open_slot(s, 1, err, errlen))
            goto fail;
        if (exchange(s->ctx, cmds, n, replies) == 0)
            goto ok;
    }
    io_error(s->ctx, err, errlen);
    drop(s); /* a timed-out or broken connection is never reused */
fail:
    mf_redis__failed(err);
    give_back(idx);
    return -1;
ok:
    give_back(idx);
    mf_redis__succeeded(replies, n, mf_now_ns() - t0);
    return 0;
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
    if (mf_redis_run(&cmd, 1, &r, why, n))
        return -1;
    int ok = r->type == REDIS_REPLY_STATUS;
    if (!ok)
        snprintf(why, n, "Redis answered PING with: %.*s", (int)r->len, r->str ? r->str : "");
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
    s->latency_count = atomic_load(&pool.lat_count);
    s->latency_sum_seconds = (double)atomic_load(&pool.lat_sum_ns) / 1e9;
    for (int i = 0; i < MF_REDIS_BUCKETS; i++)
        s->latency_buckets[i] = atomic_load(&pool.lat_buckets[i]);
    s->pool_size = pool.size;
    s->pool_in_use = atomic_load(&pool.in_use);
    s->pool_open = atomic_load(&pool.open);
    s->breaker_state = pool.breaker ? (int)mf_breaker_state(pool.breaker) : 0;
}

void mf_redis_shutdown(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.closed = 1;
    for (int i = 0; i < pool.nfree; i++)
        drop(&pool.slots[pool.free_idx[i]]);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}
