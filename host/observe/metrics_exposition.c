/* The exposition: the text writer every family goes through (Prometheus text 0.0.4 or
 * OpenMetrics 1.0), the collectors registered with it, and the render that runs them all. */
#include "observe/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/jsonbuf.h"
#include "observe/metrics_private.h"

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
    mf_buf_t out;
    int openmetrics;
};

static void put(mf_metrics_writer_t *w, const char *s, size_t n)
{
    mf_buf_append(&w->out, s, n);
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

/* ---- rendering ---- */

char *mf_metrics_render(int openmetrics, size_t *len)
{
    mf_metrics_writer_t w = {.openmetrics = openmetrics};
    mf_buf_reserve(&w.out, 16384); /* a scrape's usual size: few regrowths */
    mf_metrics_host_collect(&w);
    mf_metrics_process_collect(&w);
    mf_metrics_script_render(&w);
    int n = atomic_load(&ncollectors);
    for (int i = 0; i < n; i++)
        collectors[i].fn(collectors[i].ud, &w);
    if (openmetrics)
        puts_(&w, "# EOF\n");
    return mf_buf_take(&w.out, len);
}
