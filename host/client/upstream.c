/* The upstreams of mayfly.http: per host:port a circuit breaker and counters shared by every
 * worker, for the breaker's word on an attempt and for /metrics. */
#include "client/http_client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "client/private.h"
#include "event/breaker.h"

struct mf_http_upstream {
    char name[128];
    mf_breaker_t *breaker; /* NULL for the overflow entry */
    _Atomic uint64_t requests[MF_HTTP_CLASS_COUNT];
    _Atomic uint64_t duration_ns[MF_HTTP_CLASS_COUNT];
    _Atomic uint64_t errors[MF_HTTP_ERR_COUNT];
    _Atomic uint64_t stream_bytes;
};

/* Open addressing, entries never removed: lookups read without a lock, inserts take it. */
#define MAX_UPSTREAMS 256
static mf_http_upstream_t *_Atomic upstreams[MAX_UPSTREAMS];
static pthread_mutex_t upstreams_lock = PTHREAD_MUTEX_INITIALIZER;
/* Calls to hosts past MAX_UPSTREAMS are counted here, without a breaker. */
static mf_http_upstream_t overflow = {.name = "(other)"};

const char *mf_http_class_name(int cls)
{
    static const char *const names[MF_HTTP_CLASS_COUNT] = {"1xx", "2xx", "3xx",
                                                           "4xx", "5xx", "error"};
    return cls >= 0 && cls < MF_HTTP_CLASS_COUNT ? names[cls] : "";
}

static mf_http_upstream_t *find_upstream(const char *name, size_t h, int *free_slot)
{
    *free_slot = -1;
    for (size_t i = 0; i < MAX_UPSTREAMS; i++) {
        size_t slot = (h + i) % MAX_UPSTREAMS;
        mf_http_upstream_t *u = atomic_load_explicit(&upstreams[slot], memory_order_acquire);
        if (!u) {
            *free_slot = (int)slot;
            return NULL;
        }
        if (!strcmp(u->name, name))
            return u;
    }
    return NULL;
}

mf_http_upstream_t *mf_http_client__upstream(const char *name, const mf_options_t *o)
{
    size_t h = (size_t)mf_hash(MF_HASH_INIT, name, strlen(name));
    int slot;
    mf_http_upstream_t *u = find_upstream(name, h, &slot);
    if (u)
        return u;
    pthread_mutex_lock(&upstreams_lock);
    u = find_upstream(name, h, &slot);
    if (!u && slot >= 0) {
        u = mf_xcalloc(1, sizeof *u);
        snprintf(u->name, sizeof u->name, "%s", name);
        char bname[160];
        snprintf(bname, sizeof bname, "http:%s", name);
        u->breaker = mf_breaker_new(bname, o->http_breaker_threshold, o->http_breaker_cooldown_ms);
        atomic_store_explicit(&upstreams[slot], u, memory_order_release);
    }
    pthread_mutex_unlock(&upstreams_lock);
    return u ? u : &overflow;
}

/* ---- the breaker's word and the counts ---- */

int mf_http_client__allow(mf_http_upstream_t *u, int64_t now_ns)
{
    return !u->breaker || mf_breaker_allow(u->breaker, now_ns);
}

void mf_http_client__attempt_done(mf_http_upstream_t *u, int status, mf_http_err_t err,
                                  int transient, int64_t duration_ns)
{
    if (u->breaker) {
        if (transient)
            mf_breaker_failure(u->breaker, mf_now_ns());
        else
            mf_breaker_success(u->breaker);
    }
    int cls = err                             ? MF_HTTP_CLASS_ERROR
              : status >= 100 && status < 600 ? status / 100 - 1
                                              : MF_HTTP_CLASS_ERROR;
    atomic_fetch_add_explicit(&u->requests[cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->duration_ns[cls], (uint64_t)duration_ns, memory_order_relaxed);
    if (err)
        atomic_fetch_add_explicit(&u->errors[err], 1, memory_order_relaxed);
}

void mf_http_client__call_refused(mf_http_upstream_t *u, mf_http_err_t err)
{
    atomic_fetch_add_explicit(&u->errors[err], 1, memory_order_relaxed);
}

void mf_http_client__stream_bytes(mf_http_upstream_t *u, size_t n)
{
    atomic_fetch_add_explicit(&u->stream_bytes, (uint64_t)n, memory_order_relaxed);
}

/* ---- snapshots, for /metrics ---- */

static void stats_of(const mf_http_upstream_t *u, mf_http_client_stats_t *s)
{
    s->upstream = u->name;
    for (int i = 0; i < MF_HTTP_CLASS_COUNT; i++) {
        s->requests[i] = atomic_load_explicit(&u->requests[i], memory_order_relaxed);
        s->duration_seconds[i] =
            (double)atomic_load_explicit(&u->duration_ns[i], memory_order_relaxed) / 1e9;
    }
    for (int i = 0; i < MF_HTTP_ERR_COUNT; i++)
        s->errors[i] = atomic_load_explicit(&u->errors[i], memory_order_relaxed);
    s->stream_bytes = atomic_load_explicit(&u->stream_bytes, memory_order_relaxed);
    s->breaker_state = u->breaker ? (int)mf_breaker_state(u->breaker) : MF_BREAKER_CLOSED;
}

void mf_http_client_stats_each(void (*fn)(void *ud, const mf_http_client_stats_t *s), void *ud)
{
    mf_http_client_stats_t s;
    for (size_t i = 0; i < MAX_UPSTREAMS; i++) {
        mf_http_upstream_t *u = atomic_load_explicit(&upstreams[i], memory_order_acquire);
        if (u) {
            stats_of(u, &s);
            fn(ud, &s);
        }
    }
    stats_of(&overflow, &s);
    uint64_t used = 0;
    for (int i = 0; i < MF_HTTP_CLASS_COUNT; i++)
        used += s.requests[i];
    if (used)
        fn(ud, &s);
}
