/* Metrics in the Prometheus text exposition format (and OpenMetrics when asked for).
 *
 * The request path writes only to the calling thread's shard: plain relaxed atomic loads and
 * stores by the one thread that owns it, no lock, no allocation after a route's first request
 * on a thread. A scrape reads every shard and sums them, so counters never go backwards and no
 * lock is shared with the workers.
 *
 * Route labels are route patterns ("/users/:id"), interned once when a script version loads
 * (mf_metrics_route_id); requests that match no route are counted as MF_METRICS_UNMATCHED.
 *
 * Collectors: a module that keeps statistics of its own (Redis, outbound HTTP, ...) registers a
 * callback once at start-up with mf_metrics_add_collector; every render calls it, and it writes
 * its families with mf_metrics_family, mf_metrics_sample and mf_metrics_histogram:
 *
 *     static void redis_collect(void *ud, mf_metrics_writer_t *w)
 *     {
 *         mf_redis_stats_t st;
 *         mf_redis_stats(&st);
 *         mf_metrics_family(w, "mayfly_redis_commands_total", "counter", "Redis commands sent.");
 *         mf_metrics_sample(w, "mayfly_redis_commands_total",
 *                           (const char *[]){"result", "ok", NULL}, (double)st.ok);
 *         mf_metrics_sample(w, "mayfly_redis_commands_total",
 *                           (const char *[]){"result", "error", NULL}, (double)st.errors);
 *     }
 *     ...
 *     mf_metrics_add_collector(redis_collect, NULL);
 *
 * A collector runs in the thread that renders (any worker, or an admin listener): it must only
 * read what other threads write through atomics or its own lock, never block for long, and
 * write each family once, all its samples right after its mf_metrics_family. Names and label
 * names must follow Prometheus's rules (collectors are host code: they are not checked).
 */
#ifndef MF_METRICS_H
#define MF_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* ---- the request path ---- */

enum { MF_METRICS_UNMATCHED = 0, MF_METRICS_OTHER_ROUTE = 1 };
#define MF_METRICS_MAX_ROUTES 4096

/* The id of a route pattern (len bytes, e.g. "/users/:id"), the same for the same pattern in
 * every script version. Thread-safe; for load time, not the request path (it takes a lock).
 * Past MF_METRICS_MAX_ROUTES distinct patterns, returns MF_METRICS_OTHER_ROUTE. */
int mf_metrics_route_id(const char *pattern, size_t len);

typedef struct mf_metrics_shard mf_metrics_shard_t;

/* The calling thread's shard, made on the thread's first call and kept for the process's life
 * (its counts stay in every later scrape). */
mf_metrics_shard_t *mf_metrics_shard(void);

/* A request begins (in flight) and ends. status 0: no response was sent (the client left);
 * the request leaves the in-flight gauge uncounted. method may be NULL. */
void mf_metrics_request_begin(mf_metrics_shard_t *s);
void mf_metrics_request_end(mf_metrics_shard_t *s, const char *method, int route, int status,
                            int64_t duration_ns);
/* A handler raised an error (timed_out: it ran past the request timeout). */
void mf_metrics_handler_error(mf_metrics_shard_t *s, int route, int timed_out);
/* The Lua memory of the worker that owns the calling thread's shard. */
void mf_metrics_lua_memory(mf_metrics_shard_t *s, int worker, size_t bytes);

/* ---- lifecycle ---- */

enum { MF_METRICS_RELOAD_SCRIPTS = 0, MF_METRICS_RELOAD_CONFIG = 1 };
/* A reload attempt of the scripts or config folder and whether it was good. Any thread. */
void mf_metrics_reload(int what, int ok);

/* ---- rendering ---- */

/* The whole exposition (openmetrics: OpenMetrics 1.0 text, else Prometheus text 0.0.4) as a
 * malloc'd buffer the caller frees; *len gets its length. Any thread, any number at once. */
char *mf_metrics_render(int openmetrics, size_t *len);
/* 1 when an Accept header value (may be NULL) asks for OpenMetrics. */
int mf_metrics_wants_openmetrics(const char *accept);
const char *mf_metrics_content_type(int openmetrics);

/* ---- collectors ---- */

typedef struct mf_metrics_writer mf_metrics_writer_t;
typedef void (*mf_metrics_collector_fn)(void *ud, mf_metrics_writer_t *w);

/* Registers fn (with ud) to be called by every render, after the host's own families. Call at
 * start-up; at most 32 collectors. Returns 0 or -1 when the table is full. */
int mf_metrics_add_collector(mf_metrics_collector_fn fn, void *ud);

/* Begins a family: type is "counter", "gauge" or "histogram"; name is the sample name
 * (counters end in _total: OpenMetrics output drops the suffix from the family line). */
void mf_metrics_family(mf_metrics_writer_t *w, const char *name, const char *type,
                       const char *help);
/* One sample. labels: NULL, or {name, value, ..., NULL}; values are escaped here. */
void mf_metrics_sample(mf_metrics_writer_t *w, const char *name, const char *const *labels,
                       double value);
/* The samples of one histogram series: cumulative[i] is the count of observations <= bounds[i]
 * (nbuckets finite bounds, ascending); the +Inf bucket is count. */
void mf_metrics_histogram(mf_metrics_writer_t *w, const char *name, const char *const *labels,
                          int nbuckets, const double *bounds, const uint64_t *cumulative,
                          uint64_t count, double sum);

/* ---- metrics declared by scripts (mayfly.metrics) ---- */

enum { MF_METRIC_COUNTER = 0, MF_METRIC_GAUGE, MF_METRIC_HISTOGRAM };
#define MF_METRICS_MAX_DECLARED 256 /* metric families scripts may declare */
#define MF_METRICS_MAX_SERIES 200   /* label sets per family; more are dropped and counted */
#define MF_METRICS_MAX_LABELS 8
#define MF_METRICS_MAX_BUCKETS 32

typedef struct mf_metric mf_metric_t;

/* Declares a family, or finds the one declared before with the same definition (declarations
 * run every request: the same call must be cheap and idempotent). Returns 0 and *out, or -1
 * with a message: an invalid name, label name or bucket list, a reserved name, a family whose
 * samples would collide with another's, a conflicting redefinition, or the table full.
 * buckets NULL: the default ones. Thread-safe (takes a lock: callers cache *out). */
int mf_metrics_declare(int kind, const char *name, const char *help, const char *const *labels,
                       int nlabels, const double *buckets, int nbuckets, mf_metric_t **out,
                       char *err, size_t errlen);
/* The same check and lookup, but a family not declared before is an error: what a request may
 * do, so that the registry holds only what the scripts' code declared as a version loaded (or
 * a hook ran) and never what one request could leave there for another to find. */
int mf_metrics_find(int kind, const char *name, const char *help, const char *const *labels,
                    int nlabels, const double *buckets, int nbuckets, mf_metric_t **out,
                    char *err, size_t errlen);
/* 1 when m was declared with exactly this definition (buckets NULL: the default ones). */
int mf_metric_same(const mf_metric_t *m, int kind, const char *help, const char *const *labels,
                   int nlabels, const double *buckets, int nbuckets);
int mf_metric_kind(const mf_metric_t *m);
int mf_metric_nlabels(const mf_metric_t *m);
const char *mf_metric_label(const mf_metric_t *m, int i);
const char *mf_metric_name(const mf_metric_t *m);

/* The series index of a label-value tuple (m's nlabels values, lens bytes each), made on first
 * use. Returns -1 when m already holds MF_METRICS_MAX_SERIES other series: the caller drops
 * the update (it is counted in mayfly_metrics_dropped_updates_total and logged once). Takes a
 * lock: callers cache the index. */
int mf_metric_series(mf_metric_t *m, const char *const *values, const size_t *lens);
/* Updates, from any thread, without locks. The caller checked v (finite; >= 0 for counters). */
void mf_metric_add(mf_metrics_shard_t *s, mf_metric_t *m, int series, double v);
void mf_metric_gauge_set(mf_metric_t *m, int series, double v);
void mf_metric_gauge_add(mf_metric_t *m, int series, double v);
void mf_metric_observe(mf_metrics_shard_t *s, mf_metric_t *m, int series, double v);
/* Counts an update dropped past the series bound. */
void mf_metric_dropped(mf_metric_t *m);

#endif
