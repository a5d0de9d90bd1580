/* The metrics registry: per-thread shards written without locks, route labels, the slots of
 * the metrics scripts declare, and the host's own families rendered from them. */
#include "observe/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/syntax.h"
#include "observe/metrics_private.h"

/* ---- shards ---- */

/* The default buckets of Prometheus's client libraries, in seconds. */
const double mf_metrics_default_buckets[MF_METRICS_DEFAULT_NBUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const int64_t bucket_ns[MF_METRICS_DEFAULT_NBUCKETS] = {
    5000000,   10000000,   25000000,   50000000,   100000000,  250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000};

/* One route's duration histogram and error counts on one thread. */
typedef struct {
    _Atomic uint64_t
        buckets[MF_METRICS_DEFAULT_NBUCKETS + 1]; /* not cumulative; the last is +Inf */
    _Atomic uint64_t sum_ns;                      /* the count is the buckets' sum */
    _Atomic uint64_t errors[2];                   /* handler errors, timeouts */
} route_stats_t;

/* requests_total by (method, route, status): an open-addressing table whose keys are set once
 * by the owning thread and read by scrapes (key 0 = empty). */
#define REQ_SLOTS 2048
typedef struct {
    _Atomic uint32_t key;
    _Atomic uint64_t count;
} req_slot_t;

struct mf_metrics_shard {
    struct mf_metrics_shard *next;
    req_slot_t req[REQ_SLOTS];
    _Atomic uint64_t req_dropped; /* label sets past the table's room */
    _Atomic(route_stats_t *) routes[MF_METRICS_MAX_ROUTES];
    _Atomic(_Atomic uint64_t *) custom[MF_METRICS_MAX_DECLARED];
    _Atomic int64_t in_flight;
    _Atomic int worker; /* -1: not a worker's thread */
    _Atomic uint64_t lua_memory;
};

static mf_metrics_shard_t *_Atomic shards;
static __thread mf_metrics_shard_t *local_shard;

mf_metrics_shard_t *mf_metrics_shard(void)
{
    mf_metrics_shard_t *s = local_shard;
    if (s)
        return s;
    s = mf_xcalloc(1, sizeof *s);
    atomic_store(&s->worker, -1);
    s->next = atomic_load(&shards);
    while (!atomic_compare_exchange_weak(&shards, &s->next, s))
        ;
    local_shard = s;
    return s;
}

/* ---- routes ---- */

static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;
static char *route_names[MF_METRICS_MAX_ROUTES] = {"unmatched", "other"};
static _Atomic int nroute_names = 2;

int mf_metrics_route_id(const char *pattern, size_t len)
{
    int id = MF_METRICS_OTHER_ROUTE;
    pthread_mutex_lock(&routes_lock);
    int n = atomic_load(&nroute_names);
    for (int i = 2; i < n; i++) {
        if (strlen(route_names[i]) == len && !memcmp(route_names[i], pattern, len)) {
            id = i;
            goto done;
        }
    }
    if (n < MF_METRICS_MAX_ROUTES) {
        route_names[n] = mf_xstrndup(pattern, len);
        atomic_store(&nroute_names, n + 1); /* published after the name */
        id = n;
    }
done:
    pthread_mutex_unlock(&routes_lock);
    return id;
}

static route_stats_t *route_stats(mf_metrics_shard_t *s, int route)
{
    if (route < 0 || route >= MF_METRICS_MAX_ROUTES)
        route = MF_METRICS_OTHER_ROUTE;
    route_stats_t *rs = atomic_load_explicit(&s->routes[route], memory_order_acquire);
    if (!rs) {
        rs = mf_xcalloc(1, sizeof *rs); /* once per route and thread */
        atomic_store_explicit(&s->routes[route], rs, memory_order_release);
    }
    return rs;
}

/* ---- the request path ---- */

void mf_metrics_request_begin(mf_metrics_shard_t *s)
{
    atomic_store_explicit(&s->in_flight,
                          atomic_load_explicit(&s->in_flight, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void count_request(mf_metrics_shard_t *s, int method, int route, int status)
{
    uint32_t key =
        1 + (((uint32_t)route << 14) | ((uint32_t)method << 10) | (uint32_t)(status - 100));
    uint32_t h = key * 2654435761u;
    for (int probe = 0; probe < REQ_SLOTS; probe++) {
        req_slot_t *slot = &s->req[(h + (uint32_t)probe) & (REQ_SLOTS - 1)];
        uint32_t k = atomic_load_explicit(&slot->key, memory_order_relaxed);
        if (k == key) {
            mf_metrics_bump(&slot->count, 1);
            return;
        }
        if (k == 0) {
            atomic_store_explicit(&slot->count, 1, memory_order_relaxed);
            atomic_store_explicit(&slot->key, key, memory_order_release);
            return;
        }
    }
    mf_metrics_bump(&s->req_dropped, 1);
}

void mf_metrics_request_end(mf_metrics_shard_t *s, const char *method, int route, int status,
                            int64_t duration_ns)
{
    atomic_store_explicit(&s->in_flight,
                          atomic_load_explicit(&s->in_flight, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    if (status < 100 || status > 599)
        return;
    if (route < 0 || route >= MF_METRICS_MAX_ROUTES)
        route = MF_METRICS_OTHER_ROUTE;
    count_request(s, mf_syntax_http_method(method), route, status);
    route_stats_t *rs = route_stats(s, route);
    int b = 0;
    while (b < MF_METRICS_DEFAULT_NBUCKETS && duration_ns > bucket_ns[b])
        b++;
    mf_metrics_bump(&rs->buckets[b], 1);
    mf_metrics_bump(&rs->sum_ns, duration_ns > 0 ? (uint64_t)duration_ns : 0);
}

void mf_metrics_handler_error(mf_metrics_shard_t *s, int route, int timed_out)
{
    mf_metrics_bump(&route_stats(s, route)->errors[timed_out ? 1 : 0], 1);
}

void mf_metrics_lua_memory(mf_metrics_shard_t *s, int worker, size_t bytes)
{
    if (atomic_load_explicit(&s->worker, memory_order_relaxed) != worker)
        atomic_store_explicit(&s->worker, worker, memory_order_relaxed);
    atomic_store_explicit(&s->lua_memory, bytes, memory_order_relaxed);
}

/* ---- slots of the metrics scripts declare (metrics_script.c) ---- */

_Atomic uint64_t *mf_metrics_slots(mf_metrics_shard_t *s, int id, size_t n)
{
    _Atomic uint64_t *v = atomic_load_explicit(&s->custom[id], memory_order_acquire);
    if (!v) {
        v = mf_xcalloc(n, sizeof *v); /* once per metric and thread */
        atomic_store_explicit(&s->custom[id], v, memory_order_release);
    }
    return v;
}

void mf_metrics_each_slots(int id, void (*fn)(void *ud, _Atomic uint64_t *slots), void *ud)
{
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next) {
        _Atomic uint64_t *v = atomic_load_explicit(&s->custom[id], memory_order_acquire);
        if (v)
            fn(ud, v);
    }
}

/* ---- reloads ---- */

static _Atomic uint64_t reloads[2][2]; /* [what][ok] */

void mf_metrics_reload(int what, int ok)
{
    atomic_fetch_add(&reloads[what ? 1 : 0][ok ? 1 : 0], 1);
}

/* ---- rendering ---- */

typedef struct {
    uint32_t key;
    uint64_t count;
} req_count_t;

static int by_key(const void *a, const void *b)
{
    uint32_t x = ((const req_count_t *)a)->key, y = ((const req_count_t *)b)->key;
    return x < y ? -1 : x > y;
}

static void render_requests(mf_metrics_writer_t *w)
{
    size_t n = 0, cap = 256;
    req_count_t *all = mf_xmalloc(cap * sizeof *all);
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next) {
        for (int i = 0; i < REQ_SLOTS; i++) {
            uint32_t key = atomic_load_explicit(&s->req[i].key, memory_order_acquire);
            if (!key)
                continue;
            if (n == cap)
                all = mf_xrealloc(all, (cap *= 2) * sizeof *all);
            all[n].key = key;
            all[n++].count = mf_metrics_get(&s->req[i].count);
        }
    }
    qsort(all, n, sizeof *all, by_key);
    mf_metrics_family(w, "http_requests_total", "counter",
                      "HTTP requests answered, by method, route pattern and status.");
    for (size_t i = 0; i < n;) {
        uint32_t key = all[i].key;
        uint64_t total = 0;
        for (; i < n && all[i].key == key; i++)
            total += all[i].count;
        uint32_t k = key - 1;
        char status[8];
        snprintf(status, sizeof status, "%u", (k & 1023) + 100);
        const char *labels[] = {"method", mf_syntax_http_methods[(k >> 10) & 15],
                                "route",  route_names[k >> 14],
                                "status", status,
                                NULL};
        mf_metrics_sample(w, "http_requests_total", labels, (double)total);
    }
    free(all);
}

static void render_routes(mf_metrics_writer_t *w)
{
    int nroutes = atomic_load(&nroute_names);
    uint64_t *sums = mf_xcalloc((size_t)nroutes * (MF_METRICS_DEFAULT_NBUCKETS + 5), sizeof *sums);
    uint8_t *seen = mf_xcalloc((size_t)nroutes, 1);
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next) {
        for (int r = 0; r < nroutes; r++) {
            route_stats_t *rs = atomic_load_explicit(&s->routes[r], memory_order_acquire);
            if (!rs)
                continue;
            uint64_t *t = sums + (size_t)r * (MF_METRICS_DEFAULT_NBUCKETS + 5);
            seen[r] = 1;
            for (int b = 0; b <= MF_METRICS_DEFAULT_NBUCKETS; b++)
                t[b] += mf_metrics_get(&rs->buckets[b]);
            t[MF_METRICS_DEFAULT_NBUCKETS + 1] += mf_metrics_get(&rs->sum_ns);
            t[MF_METRICS_DEFAULT_NBUCKETS + 3] += mf_metrics_get(&rs->errors[0]);
            t[MF_METRICS_DEFAULT_NBUCKETS + 4] += mf_metrics_get(&rs->errors[1]);
        }
    }
    mf_metrics_family(w, "http_request_duration_seconds", "histogram",
                      "Time from the request line to the response sent, by route pattern.");
    for (int r = 0; r < nroutes; r++) {
        if (!seen[r])
            continue;
        uint64_t *t = sums + (size_t)r * (MF_METRICS_DEFAULT_NBUCKETS + 5);
        uint64_t cumulative[MF_METRICS_DEFAULT_NBUCKETS], acc = 0;
        for (int b = 0; b < MF_METRICS_DEFAULT_NBUCKETS; b++)
            cumulative[b] = acc += t[b];
        /* The count is the buckets' sum, read once: a scrape racing a request still gives
         * cumulative buckets with +Inf equal to the count. */
        uint64_t count = acc + t[MF_METRICS_DEFAULT_NBUCKETS];
        const char *labels[] = {"route", route_names[r], NULL};
        mf_metrics_histogram(w, "http_request_duration_seconds", labels,
                             MF_METRICS_DEFAULT_NBUCKETS, mf_metrics_default_buckets, cumulative,
                             count, (double)t[MF_METRICS_DEFAULT_NBUCKETS + 1] / 1e9);
    }
    mf_metrics_family(w, "mayfly_handler_errors_total", "counter",
                      "Handler runs that raised an error (kind error) or ran past the request "
                      "timeout (kind timeout), by route pattern.");
    for (int r = 0; r < nroutes; r++) {
        if (!seen[r] || r == MF_METRICS_UNMATCHED)
            continue;
        uint64_t *t = sums + (size_t)r * (MF_METRICS_DEFAULT_NBUCKETS + 5);
        mf_metrics_sample(w, "mayfly_handler_errors_total",
                          (const char *[]){"route", route_names[r], "kind", "error", NULL},
                          (double)t[MF_METRICS_DEFAULT_NBUCKETS + 3]);
        mf_metrics_sample(w, "mayfly_handler_errors_total",
                          (const char *[]){"route", route_names[r], "kind", "timeout", NULL},
                          (double)t[MF_METRICS_DEFAULT_NBUCKETS + 4]);
    }
    free(sums);
    free(seen);
}

#define MAX_WORKER_IDS 1024

static void render_workers(mf_metrics_writer_t *w)
{
    int64_t in_flight = 0;
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next)
        in_flight += atomic_load_explicit(&s->in_flight, memory_order_relaxed);
    mf_metrics_family(w, "http_requests_in_flight", "gauge",
                      "Requests received and not yet answered (this scrape included).");
    mf_metrics_sample(w, "http_requests_in_flight", NULL, (double)(in_flight > 0 ? in_flight : 0));
    mf_metrics_family(w, "mayfly_lua_memory_bytes", "gauge",
                      "Memory of each worker's Lua state after its last request.");
    /* One value per worker id: when two shards name one worker (a daemon being stopped from
     * another thread completes its requests there), the oldest shard, the worker's own, wins;
     * the list is newest first. */
    uint64_t bytes[MAX_WORKER_IDS];
    uint8_t seen[MAX_WORKER_IDS] = {0};
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next) {
        int worker = atomic_load_explicit(&s->worker, memory_order_relaxed);
        if (worker < 0 || worker >= MAX_WORKER_IDS)
            continue;
        bytes[worker] = atomic_load_explicit(&s->lua_memory, memory_order_relaxed);
        seen[worker] = 1;
    }
    for (int i = 0; i < MAX_WORKER_IDS; i++) {
        if (!seen[i])
            continue;
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        mf_metrics_sample(w, "mayfly_lua_memory_bytes", (const char *[]){"worker", id, NULL},
                          (double)bytes[i]);
    }
}
static void render_reloads(mf_metrics_writer_t *w)
{
    static const char *const what[] = {"scripts", "config"};
    mf_metrics_family(w, "mayfly_reloads_total", "counter",
                      "Reloads of the scripts or config folder, by result (a failed one keeps "
                      "the old version serving).");
    for (int i = 0; i < 2; i++)
        for (int ok = 1; ok >= 0; ok--)
            mf_metrics_sample(
                w, "mayfly_reloads_total",
                (const char *[]){"folder", what[i], "result", ok ? "success" : "failure", NULL},
                (double)atomic_load(&reloads[i][ok]));
    mf_metrics_family(w, "mayfly_build_info", "gauge", "The mayfly build, always 1.");
    mf_metrics_sample(w, "mayfly_build_info", (const char *[]){"version", MAYFLY_VERSION, NULL}, 1);
}

static void render_dropped(mf_metrics_writer_t *w)
{
    uint64_t req_dropped = 0;
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next)
        req_dropped += mf_metrics_get(&s->req_dropped);
    mf_metrics_family(w, "mayfly_metrics_dropped_updates_total", "counter",
                      "Updates not recorded because the metric had no room for another label "
                      "set.");
    mf_metrics_sample(w, "mayfly_metrics_dropped_updates_total",
                      (const char *[]){"metric", "http_requests_total", NULL}, (double)req_dropped);
    mf_metrics_script_dropped(w);
}
void mf_metrics_host_collect(mf_metrics_writer_t *w)
{
    render_requests(w);
    render_routes(w);
    render_workers(w);
    render_reloads(w);
    render_dropped(w);
}
