/* The metrics scripts declare (mayfly.metrics): the process-wide registry of definitions and
 * label sets, updates into the calling thread's shard, and their part of the exposition. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/jsonbuf.h"
#include "base/syntax.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "observe/metrics_private.h"

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

/* A metric or label name: Prometheus's rule, at most 200 bytes. */
static int name_ok(const char *s)
{
    size_t len = strlen(s);
    return len <= 200 && mf_syntax_identifier(s, len);
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
        buckets = mf_metrics_default_buckets;
        nbuckets = MF_METRICS_DEFAULT_NBUCKETS;
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

static int declare(int kind, const char *name, const char *help, const char *const *labels,
                   int nlabels, const double *buckets, int nbuckets, int may_create,
                   mf_metric_t **out, char *err, size_t errlen)
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
    if (!may_create) {
        snprintf(err, errlen,
                 "metric '%s' was not declared when the scripts loaded: declare metrics at the "
                 "top level of a script file (or in a hook), not in a handler",
                 name);
        goto done;
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
        buckets = mf_metrics_default_buckets;
        nbuckets = MF_METRICS_DEFAULT_NBUCKETS;
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

int mf_metrics_declare(int kind, const char *name, const char *help, const char *const *labels,
                       int nlabels, const double *buckets, int nbuckets, mf_metric_t **out,
                       char *err, size_t errlen)
{
    return declare(kind, name, help, labels, nlabels, buckets, nbuckets, 1, out, err, errlen);
}

int mf_metrics_find(int kind, const char *name, const char *help, const char *const *labels,
                    int nlabels, const double *buckets, int nbuckets, mf_metric_t **out,
                    char *err, size_t errlen)
{
    return declare(kind, name, help, labels, nlabels, buckets, nbuckets, 0, out, err, errlen);
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
    return mf_metrics_slots(s, m->id, (size_t)MF_METRICS_MAX_SERIES * (size_t)m->slots) +
           (size_t)series * (size_t)m->slots;
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
    atomic_store_explicit(slot, as_bits(as_double(mf_metrics_get(slot)) + v), memory_order_relaxed);
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
    mf_metrics_bump(&slots[b], 1);
    add_double(&slots[m->nbuckets + 1], v);
    mf_metrics_bump(&slots[m->nbuckets + 2], 1);
}

/* ---- rendering ---- */

typedef struct {
    mf_metric_t *m;
    int series;
    uint64_t *acc; /* histogram buckets */
    double sum;
} sum_t;

static void add_shard(void *ud, _Atomic uint64_t *slots)
{
    sum_t *t = ud;
    _Atomic uint64_t *v = slots + (size_t)t->series * (size_t)t->m->slots;
    if (t->m->kind == MF_METRIC_COUNTER) {
        t->sum += as_double(mf_metrics_get(v));
        return;
    }
    for (int b = 0; b <= t->m->nbuckets; b++)
        t->acc[b] += mf_metrics_get(&v[b]);
    t->sum += as_double(mf_metrics_get(&v[t->m->nbuckets + 1]));
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
        sum_t t = {m, series, acc, 0};
        memset(acc, 0, (size_t)m->slots * sizeof *acc);
        mf_metrics_each_slots(m->id, add_shard, &t);
        double sum = t.sum;
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

void mf_metrics_script_render(mf_metrics_writer_t *w)
{
    int n = atomic_load(&ndeclared);
    for (int i = 0; i < n; i++)
        render_declared(w, declared[i]);
}

void mf_metrics_script_dropped(mf_metrics_writer_t *w)
{
    int n = atomic_load(&ndeclared);
    for (int i = 0; i < n; i++)
        mf_metrics_sample(w, "mayfly_metrics_dropped_updates_total",
                          (const char *[]){"metric", declared[i]->name, NULL},
                          (double)atomic_load(&declared[i]->dropped));
}
