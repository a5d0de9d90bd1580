/* The metrics registry: per-thread shards written without locks, the route table, the
 * families scripts declare, collectors, and the exposition renderer. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "breaker.h"
#include "jsonbuf.h"
#include "lifecycle.h"
#include "log.h"

/* ---- shards ---- */

/* The default buckets of Prometheus's client libraries, in seconds. */
static const double default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (int)(sizeof default_buckets / sizeof default_buckets[0])
static const int64_t bucket_ns[NBUCKETS] = {5000000,    10000000,   25000000,   50000000,
                                            100000000,  250000000,  500000000,  1000000000,
                                            2500000000, 5000000000, 10000000000};

/* One route's duration histogram and error counts on one thread. */
typedef struct {
    _Atomic uint64_t buckets[NBUCKETS + 1]; /* not cumulative; the last is +Inf */
    _Atomic uint64_t sum_ns;                /* the count is the buckets' sum */
    _Atomic uint64_t errors[2];             /* handler errors, timeouts */
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

/* The owner's increment: its thread is the only writer, so a plain load and store suffice
 * (no locked instruction); scrapes read whole values. */
static inline void bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
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

static const char *const methods[] = {"other",  "GET",   "HEAD",    "POST",    "PUT",
                                      "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};
#define NMETHODS (int)(sizeof methods / sizeof methods[0])

/* Clients choose the method: anything but the standard ones is "other". */
static int method_index(const char *m)
{
    if (!m)
        return 0;
    for (int i = 1; i < NMETHODS; i++)
        if (!strcmp(m, methods[i]))
            return i;
    return 0;
}

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
            bump(&slot->count, 1);
            return;
        }
        if (k == 0) {
            atomic_store_explicit(&slot->count, 1, memory_order_relaxed);
            atomic_store_explicit(&slot->key, key, memory_order_release);
            return;
        }
    }
    bump(&s->req_dropped, 1);
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
    count_request(s, method_index(method), route, status);
    route_stats_t *rs = route_stats(s, route);
    int b = 0;
    while (b < NBUCKETS && duration_ns > bucket_ns[b])
        b++;
    bump(&rs->buckets[b], 1);
    bump(&rs->sum_ns, duration_ns > 0 ? (uint64_t)duration_ns : 0);
}

void mf_metrics_handler_error(mf_metrics_shard_t *s, int route, int timed_out)
{
    bump(&route_stats(s, route)->errors[timed_out ? 1 : 0], 1);
}

void mf_metrics_lua_memory(mf_metrics_shard_t *s, int worker, size_t bytes)
{
    atomic_store_explicit(&s->worker, worker, memory_order_relaxed);
    atomic_store_explicit(&s->lua_memory, bytes, memory_order_relaxed);
}

/* ---- lifecycle ---- */

static _Atomic uint64_t reloads[2][2]; /* [what][ok] */

void mf_metrics_reload(int what, int ok)
{
    atomic_fetch_add(&reloads[what ? 1 : 0][ok ? 1 : 0], 1);
}

/* ---- collectors ---- */

#define MAX_COLLECTORS 32
static struct {
    mf_metrics_collector_fn fn;
    void *ud;
} collectors[MAX_COLLECTORS];
static _Atomic int ncollectors;
static pthread_mutex_t collectors_lock = PTHREAD_MUTEX_INITIALIZER;

int mf_metrics_add_collector(mf_metrics_collector_fn fn, void *ud)
{
    int rc = -1;
    pthread_mutex_lock(&collectors_lock);
    int n = atomic_load(&ncollectors);
    if (n < MAX_COLLECTORS) {
        collectors[n].fn = fn;
        collectors[n].ud = ud;
        atomic_store(&ncollectors, n + 1);
        rc = 0;
    }
    pthread_mutex_unlock(&collectors_lock);
    return rc;
}

/* ---- the writer ---- */

struct mf_metrics_writer {
    char *buf;
    size_t len, cap;
    int openmetrics;
};

static void put(mf_metrics_writer_t *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        while (w->len + n + 1 > w->cap)
            w->cap = w->cap ? w->cap * 2 : 16384;
        w->buf = mf_xrealloc(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void puts_(mf_metrics_writer_t *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Text escaped for a label value (quote: also '"') or a HELP line: backslash and newline
 * escaped, invalid UTF-8 and other control bytes replaced by U+FFFD so that every exposition
 * parses. */
static void put_escaped(mf_metrics_writer_t *w, const char *s, size_t len, int quote)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7f && *p != '\\' && *p != '"')
            p++;
        put(w, (const char *)run, (size_t)(p - run));
        if (p >= end)
            break;
        size_t n;
        if (*p == '\\') {
            put(w, "\\\\", 2), p++;
        } else if (*p == '"') {
            if (quote)
                put(w, "\\\"", 2);
            else
                put(w, "\"", 1);
            p++;
        } else if (*p == '\n') {
            put(w, "\\n", 2), p++;
        } else if (*p >= 0x80 && (n = mf_utf8_seq(p, (size_t)(end - p)))) {
            put(w, (const char *)p, n), p += n;
        } else {
            put(w, "\xef\xbf\xbd", 3), p++;
        }
    }
}

/* The shortest text that reads back as v (integers without a fraction) into b (40 bytes). */
static int format_number(char *b, double v)
{
    if (isnan(v))
        return snprintf(b, 40, "NaN");
    if (isinf(v))
        return snprintf(b, 40, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return snprintf(b, 40, "%.0f", v);
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(b, 40, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    return n;
}

static void put_number(mf_metrics_writer_t *w, double v)
{
    char b[40];
    put(w, b, (size_t)format_number(b, v));
}

static void put_labels(mf_metrics_writer_t *w, const char *const *labels, const char *le)
{
    if ((!labels || !labels[0]) && !le)
        return;
    int first = 1;
    put(w, "{", 1);
    for (int i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        if (!first)
            put(w, ",", 1);
        first = 0;
        puts_(w, labels[i]);
        put(w, "=\"", 2);
        put_escaped(w, labels[i + 1], strlen(labels[i + 1]), 1);
        put(w, "\"", 1);
    }
    if (le) {
        if (!first)
            put(w, ",", 1);
        put(w, "le=\"", 4);
        puts_(w, le);
        put(w, "\"", 1);
    }
    put(w, "}", 1);
}

void mf_metrics_family(mf_metrics_writer_t *w, const char *name, const char *type, const char *help)
{
    size_t n = strlen(name);
    /* OpenMetrics names a counter's family without the _total of its samples. */
    if (w->openmetrics && !strcmp(type, "counter") && n > 6 && !strcmp(name + n - 6, "_total"))
        n -= 6;
    put(w, "# HELP ", 7);
    put(w, name, n);
    put(w, " ", 1);
    put_escaped(w, help, strlen(help), w->openmetrics);
    put(w, "\n# TYPE ", 8);
    put(w, name, n);
    put(w, " ", 1);
    puts_(w, type);
    put(w, "\n", 1);
}

void mf_metrics_sample(mf_metrics_writer_t *w, const char *name, const char *const *labels,
                       double value)
{
    puts_(w, name);
    put_labels(w, labels, NULL);
    put(w, " ", 1);
    put_number(w, value);
    put(w, "\n", 1);
}

static void sample_suffixed(mf_metrics_writer_t *w, const char *name, const char *suffix,
                            const char *const *labels, const char *le, double value)
{
    puts_(w, name);
    puts_(w, suffix);
    put_labels(w, labels, le);
    put(w, " ", 1);
    put_number(w, value);
    put(w, "\n", 1);
}

void mf_metrics_histogram(mf_metrics_writer_t *w, const char *name, const char *const *labels,
                          int nbuckets, const double *bounds, const uint64_t *cumulative,
                          uint64_t count, double sum)
{
    char le[40];
    for (int i = 0; i < nbuckets; i++) {
        format_number(le, bounds[i]);
        sample_suffixed(w, name, "_bucket", labels, le, (double)cumulative[i]);
    }
    sample_suffixed(w, name, "_bucket", labels, "+Inf", (double)count);
    sample_suffixed(w, name, "_sum", labels, NULL, sum);
    sample_suffixed(w, name, "_count", labels, NULL, (double)count);
}

int mf_metrics_wants_openmetrics(const char *accept)
{
    return accept && strstr(accept, "application/openmetrics-text") != NULL;
}

const char *mf_metrics_content_type(int openmetrics)
{
    return openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                       : "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- metrics declared by scripts ---- */

struct mf_metric {
    int id, kind;
    char *name, *help;
    int nlabels;
    char *labels[MF_METRICS_MAX_LABELS];
    int nbuckets;
    double bounds[MF_METRICS_MAX_BUCKETS];
    int slots; /* values per series in a shard */
    _Atomic int nseries;
    char **values;            /* [series * nlabels], as rendered */
    _Atomic uint64_t *gauge;  /* [series]: double bits, shared by every thread */
    _Atomic uint64_t dropped; /* updates past MF_METRICS_MAX_SERIES */
    _Atomic int warned;
};

static pthread_mutex_t declared_lock = PTHREAD_MUTEX_INITIALIZER;
static mf_metric_t *declared[MF_METRICS_MAX_DECLARED];
static _Atomic int ndeclared;

static int name_ok(const char *s)
{
    if (!s[0] || strlen(s) > 200)
        return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The family name (OpenMetrics) and sample names of a definition, for collision checks. */
static void names_of(int kind, const char *name, char family[256], char samples[3][256])
{
    snprintf(family, 256, "%s", name);
    for (int i = 0; i < 3; i++)
        samples[i][0] = '\0';
    if (kind == MF_METRIC_COUNTER) {
        family[strlen(name) - 6] = '\0';
        snprintf(samples[0], 256, "%s", name);
    } else if (kind == MF_METRIC_GAUGE) {
        snprintf(samples[0], 256, "%s", name);
    } else {
        snprintf(samples[0], 256, "%s_bucket", name);
        snprintf(samples[1], 256, "%s_sum", name);
        snprintf(samples[2], 256, "%s_count", name);
    }
}

static int collides(int kind, const char *name, const mf_metric_t *m)
{
    char fa[256], fb[256], sa[3][256], sb[3][256];
    names_of(kind, name, fa, sa);
    names_of(m->kind, m->name, fb, sb);
    if (!strcmp(fa, fb))
        return 1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (sa[i][0] && (!strcmp(sa[i], sb[j]) || !strcmp(sa[i], fb) || !strcmp(sb[j], fa)))
                return 1;
    return 0;
}

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

int mf_metric_same(const mf_metric_t *m, int kind, const char *help, const char *const *labels,
                   int nlabels, const double *buckets, int nbuckets)
{
    if (!buckets) {
        buckets = default_buckets;
        nbuckets = NBUCKETS;
    }
    if (m->kind != kind || strcmp(m->help, help) || m->nlabels != nlabels)
        return 0;
    for (int i = 0; i < nlabels; i++)
        if (strcmp(m->labels[i], labels[i]))
            return 0;
    if (kind == MF_METRIC_HISTOGRAM) {
        if (m->nbuckets != nbuckets)
            return 0;
        for (int i = 0; i < nbuckets; i++)
            if (m->bounds[i] != buckets[i])
                return 0;
    }
    return 1;
}

static int check_definition(int kind, const char *name, const char *const *labels, int nlabels,
                            const double *buckets, int nbuckets, char *err, size_t errlen)
{
    static const char *const reserved[] = {"mayfly_", "process_", "http_request", "__", NULL};
    if (!name_ok(name)) {
        snprintf(err, errlen, "metric name '%s' is not [a-zA-Z_][a-zA-Z0-9_]* (at most 200)", name);
        return -1;
    }
    for (int i = 0; reserved[i]; i++) {
        if (!strncmp(name, reserved[i], strlen(reserved[i]))) {
            snprintf(err, errlen, "metric name '%s': the prefix '%s' is the host's", name,
                     reserved[i]);
            return -1;
        }
    }
    if (kind == MF_METRIC_COUNTER && (!ends_with(name, "_total") || strlen(name) <= 6)) {
        snprintf(err, errlen, "counter '%s': a counter's name ends in _total", name);
        return -1;
    }
    if (nlabels > MF_METRICS_MAX_LABELS) {
        snprintf(err, errlen, "metric '%s': at most %d labels", name, MF_METRICS_MAX_LABELS);
        return -1;
    }
    for (int i = 0; i < nlabels; i++) {
        if (!name_ok(labels[i]) || !strncmp(labels[i], "__", 2) ||
            (kind == MF_METRIC_HISTOGRAM && !strcmp(labels[i], "le"))) {
            snprintf(err, errlen, "metric '%s': invalid label name '%s'", name, labels[i]);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            if (!strcmp(labels[i], labels[j])) {
                snprintf(err, errlen, "metric '%s': label '%s' given twice", name, labels[i]);
                return -1;
            }
        }
    }
    if (kind == MF_METRIC_HISTOGRAM && buckets) {
        if (nbuckets < 1 || nbuckets > MF_METRICS_MAX_BUCKETS) {
            snprintf(err, errlen, "histogram '%s': 1 to %d buckets", name, MF_METRICS_MAX_BUCKETS);
            return -1;
        }
        for (int i = 0; i < nbuckets; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
                snprintf(err, errlen, "histogram '%s': bucket bounds must be finite and increasing",
                         name);
                return -1;
            }
        }
    }
    return 0;
}

int mf_metrics_declare(int kind, const char *name, const char *help, const char *const *labels,
                       int nlabels, const double *buckets, int nbuckets, mf_metric_t **out,
                       char *err, size_t errlen)
{
    int rc = -1;
    if (check_definition(kind, name, labels, nlabels, buckets, nbuckets, err, errlen))
        return -1;
    pthread_mutex_lock(&declared_lock);
    int n = atomic_load(&ndeclared);
    for (int i = 0; i < n; i++) {
        mf_metric_t *m = declared[i];
        if (!strcmp(m->name, name)) {
            if (mf_metric_same(m, kind, help, labels, nlabels, buckets, nbuckets)) {
                *out = m;
                rc = 0;
            } else {
                snprintf(err, errlen,
                         "metric '%s' is already declared differently (a %s with %d label(s)); "
                         "a changed definition needs a restart",
                         name, kind_names[m->kind], m->nlabels);
            }
            goto done;
        }
        if (collides(kind, name, m)) {
            snprintf(err, errlen, "metric '%s' would collide with the samples of %s '%s'", name,
                     kind_names[m->kind], m->name);
            goto done;
        }
    }
    if (n >= MF_METRICS_MAX_DECLARED) {
        snprintf(err, errlen, "metric '%s': at most %d metrics may be declared", name,
                 MF_METRICS_MAX_DECLARED);
        goto done;
    }
    mf_metric_t *m = mf_xcalloc(1, sizeof *m);
    m->id = n;
    m->kind = kind;
    m->name = mf_xstrdup(name);
    m->help = mf_xstrdup(help);
    m->nlabels = nlabels;
    for (int i = 0; i < nlabels; i++)
        m->labels[i] = mf_xstrdup(labels[i]);
    if (!buckets) {
        buckets = default_buckets;
        nbuckets = NBUCKETS;
    }
    if (kind == MF_METRIC_HISTOGRAM) {
        m->nbuckets = nbuckets;
        memcpy(m->bounds, buckets, (size_t)nbuckets * sizeof *buckets);
    }
    m->slots = kind == MF_METRIC_HISTOGRAM ? nbuckets + 3 : 1;
    m->values = mf_xcalloc((size_t)MF_METRICS_MAX_SERIES * (size_t)(nlabels ? nlabels : 1),
                           sizeof *m->values);
    if (kind == MF_METRIC_GAUGE)
        m->gauge = mf_xcalloc(MF_METRICS_MAX_SERIES, sizeof *m->gauge);
    atomic_store(&m->nseries, nlabels ? 0 : 1); /* without labels: the one series, from 0 */
    declared[n] = m;
    atomic_store(&ndeclared, n + 1);
    *out = m;
    rc = 0;
done:
    pthread_mutex_unlock(&declared_lock);
    return rc;
}

int mf_metric_kind(const mf_metric_t *m)
{
    return m->kind;
}
int mf_metric_nlabels(const mf_metric_t *m)
{
    return m->nlabels;
}
const char *mf_metric_label(const mf_metric_t *m, int i)
{
    return m->labels[i];
}
const char *mf_metric_name(const mf_metric_t *m)
{
    return m->name;
}

#define MAX_LABEL_VALUE 256

/* A label value as it is kept and rendered: at most MAX_LABEL_VALUE bytes, cut at a character;
 * invalid UTF-8 and control bytes but newline replaced by U+FFFD. Two values that read the same
 * once rendered are one series. */
static char *clean_value(const char *s, size_t len)
{
    char *out = mf_xmalloc(MAX_LABEL_VALUE + 4);
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        size_t n = *p >= 0x80 ? mf_utf8_seq(p, (size_t)(end - p)) : 1;
        int bad = n == 0 || (*p < 0x20 && *p != '\n') || *p == 0x7f;
        size_t add = bad ? 3 : n;
        if (o + add > MAX_LABEL_VALUE)
            break;
        memcpy(out + o, bad ? "\xef\xbf\xbd" : (const char *)p, add);
        o += add;
        p += n ? n : 1;
    }
    out[o] = '\0';
    return out;
}

int mf_metric_series(mf_metric_t *m, const char *const *values, const size_t *lens)
{
    char *clean[MF_METRICS_MAX_LABELS];
    int found = -1;
    if (!m->nlabels)
        return 0;
    for (int i = 0; i < m->nlabels; i++)
        clean[i] = clean_value(values[i], lens[i]);
    pthread_mutex_lock(&declared_lock);
    int n = atomic_load(&m->nseries);
    for (int s = 0; s < n && found < 0; s++) {
        int i = 0;
        while (i < m->nlabels && !strcmp(m->values[s * m->nlabels + i], clean[i]))
            i++;
        if (i == m->nlabels)
            found = s;
    }
    if (found < 0 && n < MF_METRICS_MAX_SERIES) {
        for (int i = 0; i < m->nlabels; i++) {
            m->values[n * m->nlabels + i] = clean[i];
            clean[i] = NULL;
        }
        atomic_store(&m->nseries, n + 1); /* published after its values */
        found = n;
    }
    pthread_mutex_unlock(&declared_lock);
    for (int i = 0; i < m->nlabels; i++)
        free(clean[i]);
    return found;
}

void mf_metric_dropped(mf_metric_t *m)
{
    atomic_fetch_add(&m->dropped, 1);
    if (!atomic_exchange(&m->warned, 1))
        mf_log_msg(MF_LOG_WARN,
                   "metric %s: more than %d label sets; updates of new ones are dropped "
                   "(counted in mayfly_metrics_dropped_updates_total)",
                   m->name, MF_METRICS_MAX_SERIES);
}

static _Atomic uint64_t *custom_slots(mf_metrics_shard_t *s, mf_metric_t *m, int series)
{
    _Atomic uint64_t *v = atomic_load_explicit(&s->custom[m->id], memory_order_acquire);
    if (!v) {
        v = mf_xcalloc((size_t)MF_METRICS_MAX_SERIES * (size_t)m->slots, sizeof *v);
        atomic_store_explicit(&s->custom[m->id], v, memory_order_release);
    }
    return v + (size_t)series * (size_t)m->slots;
}

static double as_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t as_bits(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

static void add_double(_Atomic uint64_t *slot, double v)
{
    atomic_store_explicit(slot, as_bits(as_double(get(slot)) + v), memory_order_relaxed);
}

void mf_metric_add(mf_metrics_shard_t *s, mf_metric_t *m, int series, double v)
{
    add_double(custom_slots(s, m, series), v);
}

void mf_metric_gauge_set(mf_metric_t *m, int series, double v)
{
    atomic_store(&m->gauge[series], as_bits(v));
}

void mf_metric_gauge_add(mf_metric_t *m, int series, double v)
{
    /* Shared by every worker: a compare-and-swap loop, not a lock. */
    uint64_t old = atomic_load(&m->gauge[series]);
    while (!atomic_compare_exchange_weak(&m->gauge[series], &old, as_bits(as_double(old) + v)))
        ;
}

void mf_metric_observe(mf_metrics_shard_t *s, mf_metric_t *m, int series, double v)
{
    _Atomic uint64_t *slots = custom_slots(s, m, series);
    int b = 0;
    while (b < m->nbuckets && v > m->bounds[b])
        b++;
    bump(&slots[b], 1);
    add_double(&slots[m->nbuckets + 1], v);
    bump(&slots[m->nbuckets + 2], 1);
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
            all[n++].count = get(&s->req[i].count);
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
        const char *labels[] = {
            "method", methods[(k >> 10) & 15], "route", route_names[k >> 14], "status", status,
            NULL};
        mf_metrics_sample(w, "http_requests_total", labels, (double)total);
    }
    free(all);
}

static void render_routes(mf_metrics_writer_t *w)
{
    int nroutes = atomic_load(&nroute_names);
    uint64_t *sums = mf_xcalloc((size_t)nroutes * (NBUCKETS + 5), sizeof *sums);
    uint8_t *seen = mf_xcalloc((size_t)nroutes, 1);
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next) {
        for (int r = 0; r < nroutes; r++) {
            route_stats_t *rs = atomic_load_explicit(&s->routes[r], memory_order_acquire);
            if (!rs)
                continue;
            uint64_t *t = sums + (size_t)r * (NBUCKETS + 5);
            seen[r] = 1;
            for (int b = 0; b <= NBUCKETS; b++)
                t[b] += get(&rs->buckets[b]);
            t[NBUCKETS + 1] += get(&rs->sum_ns);
            t[NBUCKETS + 3] += get(&rs->errors[0]);
            t[NBUCKETS + 4] += get(&rs->errors[1]);
        }
    }
    mf_metrics_family(w, "http_request_duration_seconds", "histogram",
                      "Time from the request line to the response sent, by route pattern.");
    for (int r = 0; r < nroutes; r++) {
        if (!seen[r])
            continue;
        uint64_t *t = sums + (size_t)r * (NBUCKETS + 5);
        uint64_t cumulative[NBUCKETS], acc = 0;
        for (int b = 0; b < NBUCKETS; b++)
            cumulative[b] = acc += t[b];
        /* The count is the buckets' sum, read once: a scrape racing a request still gives
         * cumulative buckets with +Inf equal to the count. */
        uint64_t count = acc + t[NBUCKETS];
        const char *labels[] = {"route", route_names[r], NULL};
        mf_metrics_histogram(w, "http_request_duration_seconds", labels, NBUCKETS, default_buckets,
                             cumulative, count, (double)t[NBUCKETS + 1] / 1e9);
    }
    mf_metrics_family(w, "mayfly_handler_errors_total", "counter",
                      "Handler runs that raised an error (kind error) or ran past the request "
                      "timeout (kind timeout), by route pattern.");
    for (int r = 0; r < nroutes; r++) {
        if (!seen[r] || r == MF_METRICS_UNMATCHED)
            continue;
        uint64_t *t = sums + (size_t)r * (NBUCKETS + 5);
        mf_metrics_sample(w, "mayfly_handler_errors_total",
                          (const char *[]){"route", route_names[r], "kind", "error", NULL},
                          (double)t[NBUCKETS + 3]);
        mf_metrics_sample(w, "mayfly_handler_errors_total",
                          (const char *[]){"route", route_names[r], "kind", "timeout", NULL},
                          (double)t[NBUCKETS + 4]);
    }
    free(sums);
    free(seen);
}

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
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next) {
        int worker = atomic_load_explicit(&s->worker, memory_order_relaxed);
        if (worker < 0)
            continue;
        char id[16];
        snprintf(id, sizeof id, "%d", worker);
        mf_metrics_sample(w, "mayfly_lua_memory_bytes", (const char *[]){"worker", id, NULL},
                          (double)atomic_load_explicit(&s->lua_memory, memory_order_relaxed));
    }
}

static void render_lifecycle(mf_metrics_writer_t *w)
{
    static const char *const what[] = {"scripts", "config"};
    char serving[17], attempted[17], error[1024];
    mf_metrics_family(w, "mayfly_reloads_total", "counter",
                      "Reloads of the scripts or config folder, by result (a failed one keeps "
                      "the old version serving).");
    for (int i = 0; i < 2; i++)
        for (int ok = 1; ok >= 0; ok--)
            mf_metrics_sample(
                w, "mayfly_reloads_total",
                (const char *[]){"folder", what[i], "result", ok ? "success" : "failure", NULL},
                (double)atomic_load(&reloads[i][ok]));
    mf_lifecycle_get_scripts(serving, attempted, error, sizeof error);
    mf_metrics_family(w, "mayfly_scripts_info", "gauge",
                      "The script version serving (a digest of the scripts folder), always 1.");
    mf_metrics_sample(w, "mayfly_scripts_info", (const char *[]){"version", serving, NULL}, 1);
    mf_metrics_family(w, "mayfly_scripts_reload_failed", "gauge",
                      "1 while the last reload attempt of the scripts failed, else 0.");
    mf_metrics_sample(w, "mayfly_scripts_reload_failed", NULL, error[0] ? 1 : 0);
    mf_metrics_family(w, "mayfly_build_info", "gauge", "The mayfly build, always 1.");
    mf_metrics_sample(w, "mayfly_build_info", (const char *[]){"version", MAYFLY_VERSION, NULL}, 1);
}

static void breaker_state(void *ud, mf_breaker_t *b)
{
    mf_metrics_sample(ud, "mayfly_circuit_breaker_state", (const char *[]){"name", b->name, NULL},
                      (double)mf_breaker_state(b));
}

static void breaker_opened(void *ud, mf_breaker_t *b)
{
    mf_metrics_sample(ud, "mayfly_circuit_breaker_opened_total",
                      (const char *[]){"name", b->name, NULL},
                      (double)atomic_load(&b->opened_total));
}

static void render_breakers(mf_metrics_writer_t *w)
{
    mf_metrics_family(w, "mayfly_circuit_breaker_state", "gauge",
                      "Circuit breaker state: 0 closed, 1 open, 2 half-open.");
    mf_breaker_each(breaker_state, w);
    mf_metrics_family(w, "mayfly_circuit_breaker_opened_total", "counter",
                      "Times a circuit breaker opened.");
    mf_breaker_each(breaker_opened, w);
}

static void render_declared(mf_metrics_writer_t *w, mf_metric_t *m)
{
    int nseries = atomic_load(&m->nseries);
    const char *labels[2 * MF_METRICS_MAX_LABELS + 1];
    uint64_t *acc = mf_xcalloc((size_t)m->slots, sizeof *acc);
    mf_metrics_family(w, m->name, kind_names[m->kind], m->help);
    for (int series = 0; series < nseries; series++) {
        for (int i = 0; i < m->nlabels; i++) {
            labels[2 * i] = m->labels[i];
            labels[2 * i + 1] = m->values[series * m->nlabels + i];
        }
        labels[2 * m->nlabels] = NULL;
        if (m->kind == MF_METRIC_GAUGE) {
            mf_metrics_sample(w, m->name, labels, as_double(atomic_load(&m->gauge[series])));
            continue;
        }
        double sum = 0;
        memset(acc, 0, (size_t)m->slots * sizeof *acc);
        for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next) {
            _Atomic uint64_t *v = atomic_load_explicit(&s->custom[m->id], memory_order_acquire);
            if (!v)
                continue;
            v += (size_t)series * (size_t)m->slots;
            if (m->kind == MF_METRIC_COUNTER) {
                sum += as_double(get(v));
                continue;
            }
            for (int b = 0; b <= m->nbuckets; b++)
                acc[b] += get(&v[b]);
            sum += as_double(get(&v[m->nbuckets + 1]));
        }
        if (m->kind == MF_METRIC_COUNTER) {
            mf_metrics_sample(w, m->name, labels, sum);
            continue;
        }
        uint64_t cumulative[MF_METRICS_MAX_BUCKETS], c = 0;
        for (int b = 0; b < m->nbuckets; b++)
            cumulative[b] = c += acc[b];
        mf_metrics_histogram(w, m->name, labels, m->nbuckets, m->bounds, cumulative,
                             c + acc[m->nbuckets], sum);
    }
    free(acc);
}

static void render_dropped(mf_metrics_writer_t *w, int ndecl)
{
    uint64_t req_dropped = 0;
    for (mf_metrics_shard_t *s = atomic_load(&shards); s; s = s->next)
        req_dropped += get(&s->req_dropped);
    mf_metrics_family(w, "mayfly_metrics_dropped_updates_total", "counter",
                      "Updates not recorded because the metric had no room for another label "
                      "set.");
    mf_metrics_sample(w, "mayfly_metrics_dropped_updates_total",
                      (const char *[]){"metric", "http_requests_total", NULL}, (double)req_dropped);
    for (int i = 0; i < ndecl; i++)
        mf_metrics_sample(w, "mayfly_metrics_dropped_updates_total",
                          (const char *[]){"metric", declared[i]->name, NULL},
                          (double)atomic_load(&declared[i]->dropped));
}

char *mf_metrics_render(int openmetrics, size_t *len)
{
    mf_metrics_writer_t w = {.openmetrics = openmetrics};
    int ndecl = atomic_load(&ndeclared);
    render_requests(&w);
    render_routes(&w);
    render_workers(&w);
    render_lifecycle(&w);
    render_breakers(&w);
    render_dropped(&w, ndecl);
    mf_metrics_process_collect(&w);
    for (int i = 0; i < ndecl; i++)
        render_declared(&w, declared[i]);
    int n = atomic_load(&ncollectors);
    for (int i = 0; i < n; i++)
        collectors[i].fn(collectors[i].ud, &w);
    if (openmetrics)
        puts_(&w, "# EOF\n");
    put(&w, "", 1);
    *len = w.len - 1;
    return w.buf;
}
