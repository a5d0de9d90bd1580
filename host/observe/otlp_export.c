#include "observe/otlp_export.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/random.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "observe/otlp_encode.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
/* Backoff between tries of one batch: from 1 s, doubling up to 32 s, each drawn at random from
 * its upper half; the batch's export timeout ends the tries. */
#define BACKOFF_FIRST_NS (1 * NS_PER_S)
#define BACKOFF_MAX_NS (32 * NS_PER_S)
/* A schedule delay of 0 would spin while the queue is empty. */
#define DELAY_MIN_NS NS_PER_MS
/* One log line per kind of failure at most this often; the ones between are counted in it. */
#define LOG_EVERY_NS (10 * NS_PER_S)
#define LOG_KINDS 16
/* Measured on batches of 512 server spans: level 1 takes a protobuf batch to 12% of its size in
 * 0.5 us a span, level 6 to 11% in 1.5 us; JSON 7.7% in 1.3 us against 6.5% in 2.9 us. */
#define GZIP_LEVEL 1

enum { IDLE, RUNNING, STOPPING, STOPPED };

typedef struct {
    long kind; /* an HTTP status, or -(CURLcode) - 1, or 0 for the queue */
    int64_t last_ns;
    uint64_t since; /* failures not logged since the last line */
} failure_log_t;

/* The exporter: one per process. lock guards the queue, state and waiting; the rest is the
 * thread's, or set before it starts, or atomic. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the thread waits on it (CLOCK_MONOTONIC) */
    int state;
    int waiting; /* the thread waits for a full batch or the schedule delay */
    mf_span_t *head, *tail;
    int count;

    /* What mf_otlp_start copied. */
    int max_queue, batch_size, gzip;
    mf_otlp_protocol_t protocol;
    int64_t delay_ns, export_timeout_ns, timeout_ms;
    char *endpoint;
    mf_otel_attr_t *resource;
    size_t nresource;

    /* The thread's. */
    pthread_t thread;
    CURL *easy;   /* one handle, so its connection is kept alive from batch to batch */
    CURLM *multi; /* drives it, so that mf_otlp_stop can wake a transfer (curl_multi_wakeup) */
    struct curl_slist *headers;
    z_stream z;
    int z_ready;
    mf_buf_t body, packed;
    char reply[200]; /* the start of the last answer's body, for the log */
    size_t reply_len;
    failure_log_t logs[LOG_KINDS];
    uint64_t queue_full_logged;
    int stop_failed; /* spans of the batches dropped once mf_otlp_stop was called */

    _Atomic int64_t stop_deadline; /* INT64_MAX until mf_otlp_stop */
    _Atomic uint64_t spans_exported, spans_queue_full, spans_failed;
    _Atomic uint64_t exports_ok, exports_retried, exports_failed;
} X = {.lock = PTHREAD_MUTEX_INITIALIZER, .stop_deadline = INT64_MAX};

static int collector_added;

/* ---- the queue (any thread) ---- */

void mf_otlp_submit(mf_span_t *s)
{
    if (!s)
        return;
    s->next = NULL;
    pthread_mutex_lock(&X.lock);
    int open = X.state == RUNNING || X.state == STOPPING;
    if (open && X.count < X.max_queue) {
        if (X.tail)
            X.tail->next = s;
        else
            X.head = s;
        X.tail = s;
        /* Woken once, as the batch fills; otherwise the thread wakes at its delay. */
        int wake = ++X.count == X.batch_size && X.waiting;
        pthread_mutex_unlock(&X.lock);
        if (wake)
            pthread_cond_signal(&X.wake);
        return;
    }
    pthread_mutex_unlock(&X.lock);
    atomic_fetch_add_explicit(open ? &X.spans_queue_full : &X.spans_failed, 1,
                              memory_order_relaxed);
    mf_span_free(s);
}


/* Takes up to n spans off the queue, under the lock; *taken gets how many. */
static mf_span_t *take(int n, int *taken)
{
    mf_span_t *first = X.head, *last = NULL;
    int k = 0;
    for (mf_span_t *s = first; s && k < n; s = s->next, k++)
        last = s;
    if (last) {
        X.head = last->next;
        last->next = NULL;
        if (!X.head)
            X.tail = NULL;
    }
    X.count -= k;
    *taken = k;
    return k ? first : NULL;
}

/* Waits on X.wake until at_ns (mf_now_ns's clock) at the latest; the lock is held. */
static void wait_until(int64_t at_ns)
{
    struct timespec ts = {(time_t)(at_ns / NS_PER_S), (long)(at_ns % NS_PER_S)};
    pthread_cond_timedwait(&X.wake, &X.lock, &ts);
}

/* ---- failures ---- */

static void log_failure(long kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs a failure unless one of its kind was logged in the last LOG_EVERY_NS: a collector that
 * is down fails every batch, and its log would say so thousands of times. */
static void log_failure(long kind, const char *fmt, ...)
{
    int64_t now = mf_now_ns();
    failure_log_t *slot = &X.logs[0];
    for (int i = 0; i < LOG_KINDS; i++) {
        if (X.logs[i].last_ns && X.logs[i].kind == kind) {
            slot = &X.logs[i];
            break;
        }
        if (X.logs[i].last_ns < slot->last_ns)
            slot = &X.logs[i]; /* the oldest, if the kind is new */
    }
    if (slot->kind == kind && slot->last_ns && now - slot->last_ns < LOG_EVERY_NS) {
        slot->since++;
        return;
    }
    if (slot->kind != kind || !slot->last_ns)
        slot->since = 0;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (slot->since)
        mf_log_msg(MF_LOG_WARN, "%s (and %llu more like it in the last %lld s)", msg,
                   (unsigned long long)slot->since, (long long)((now - slot->last_ns) / NS_PER_S));
    else
        mf_log_msg(MF_LOG_WARN, "%s", msg);
    *slot = (failure_log_t){kind, now, 0};
}

static void log_queue_full(void)
{
    uint64_t n = atomic_load_explicit(&X.spans_queue_full, memory_order_relaxed);
    if (n == X.queue_full_logged)
        return;
    log_failure(0, "otlp: the span queue (OTEL_BSP_MAX_QUEUE_SIZE %d) was full: %llu spans dropped",
                X.max_queue, (unsigned long long)(n - X.queue_full_logged));
    X.queue_full_logged = n;
}

/* ---- one batch ---- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Compresses X.body into X.packed (gzip). Returns 0 or -1. */
static int compress_body(void)
{
    if (deflateReset(&X.z) != Z_OK)
        return -1;
    X.packed.len = 0;
    mf_buf_reserve(&X.packed, deflateBound(&X.z, X.body.len));
    X.z.next_in = (Bytef *)X.body.data;
    X.z.avail_in = (uInt)X.body.len;
    X.z.next_out = (Bytef *)X.packed.data;
    X.z.avail_out = (uInt)X.packed.cap;
    if (deflate(&X.z, Z_FINISH) != Z_STREAM_END)
        return -1;
    X.packed.len = X.packed.cap - X.z.avail_out;
    return 0;
}

typedef struct {
    CURLcode rc;
    long status;      /* the HTTP status, 0 when none came */
    int64_t retry_ns; /* Retry-After, 0 when not given */
    int cut;          /* the stop's deadline ended it */
} post_result_t;

/* Sends one POST of data on X.easy within timeout_ms; a stop's deadline cuts it short. */
static void post(const char *data, size_t len, int64_t timeout_ms, post_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->rc = CURLE_OK;
    X.reply_len = 0;
    /* Never NULL: curl would read the body from stdin. */
    curl_easy_setopt(X.easy, CURLOPT_POSTFIELDS, data ? data : "");
    curl_easy_setopt(X.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(X.easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_multi_add_handle(X.multi, X.easy);
    for (;;) {
        int running = 0;
        if (curl_multi_perform(X.multi, &running) != CURLM_OK) {
            r->rc = CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            int left;
            CURLMsg *m = curl_multi_info_read(X.multi, &left);
            r->rc = m && m->msg == CURLMSG_DONE ? m->data.result : CURLE_FAILED_INIT;
            break;
        }
        int64_t rest = atomic_load(&X.stop_deadline) - mf_now_ns();
        if (rest <= 0) {
            r->cut = 1;
            break;
        }
        /* curl shortens the wait for its own timers; mf_otlp_stop wakes it. */
        curl_multi_poll(X.multi, NULL, 0, (int)min64(1000, rest / NS_PER_MS + 1), NULL);
    }
    curl_multi_remove_handle(X.multi, X.easy);
    if (r->cut || r->rc != CURLE_OK)
        return;
    curl_off_t after = 0;
    curl_easy_getinfo(X.easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (curl_easy_getinfo(X.easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
        r->retry_ns = (int64_t)min64(after, 3600) * NS_PER_S;
}

static int retryable(const post_result_t *r)
{
    if (r->rc != CURLE_OK)
        return 1;
    return r->status == 429 || r->status == 502 || r->status == 503 || r->status == 504;
}

/* Waits until at_ns, or less when a stop's deadline comes first. Returns 0, or -1 when the
 * deadline comes before at_ns (the wait is then over). */
static int backoff_wait(int64_t at_ns)
{
    int rc = 0;
    pthread_mutex_lock(&X.lock);
    for (;;) {
        int64_t stop = atomic_load(&X.stop_deadline);
        if (stop < at_ns) {
            rc = -1;
            break;
        }
        if (mf_now_ns() >= at_ns)
            break;
        wait_until(at_ns);
    }
    pthread_mutex_unlock(&X.lock);
    return rc;
}

static void describe(const post_result_t *r, char *out, size_t n)
{
    if (r->cut)
        snprintf(out, n, "cut short by the shutdown's deadline");
    else if (r->rc != CURLE_OK)
        snprintf(out, n, "%s", curl_easy_strerror(r->rc));
    else if (!X.reply_len)
        snprintf(out, n, "HTTP %ld", r->status);
    else {
        /* What the collector said, its printable bytes: a protobuf Status carries its message
         * as text too. */
        char said[sizeof X.reply + 1];
        size_t k = 0;
        for (size_t i = 0; i < X.reply_len; i++) {
            unsigned char c = (unsigned char)X.reply[i];
            if (c >= 0x20 && c < 0x7f)
                said[k++] = (char)c;
            else if (k && said[k - 1] != ' ')
                said[k++] = ' ';
        }
        while (k && said[k - 1] == ' ')
            k--;
        said[k] = '\0';
        snprintf(out, n, "HTTP %ld: %s", r->status, said);
    }
}

static void count_dropped(int n)
{
    atomic_fetch_add(&X.exports_failed, 1);
    atomic_fetch_add(&X.spans_failed, (uint64_t)n);
    if (atomic_load(&X.stop_deadline) != INT64_MAX)
        X.stop_failed += n;
}

static void drop_batch(int n, int tries, const post_result_t *r, const char *why)
{
    char what[300];
    count_dropped(n);
    describe(r, what, sizeof what);
    log_failure(r->cut              ? -1000
                : r->rc != CURLE_OK ? -(long)r->rc - 1
                                    : r->status,
                "otlp: export to %s failed after %d %s (%s%s): %d spans dropped", X.endpoint, tries,
                tries == 1 ? "try" : "tries", what, why, n);
}

/* Encodes, compresses and sends the n spans of list, retrying while the batch's time allows. */
static void export_batch(const mf_span_t *list, int n)
{
    int64_t deadline = mf_now_ns() + X.export_timeout_ns;
    struct timespec wall, mono;
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    int64_t offset =
        ((int64_t)wall.tv_sec - mono.tv_sec) * NS_PER_S + (wall.tv_nsec - mono.tv_nsec);
    mf_otlp_source_t src = {X.resource, X.nresource, "mayfly", MAYFLY_VERSION};
    X.body.len = 0;
    if (X.protocol == MF_OTLP_JSON)
        mf_otlp_encode_json(&X.body, &src, list, offset);
    else
        mf_otlp_encode_protobuf(&X.body, &src, list, offset);
    const mf_buf_t *payload = &X.body;
    if (X.gzip) {
        if (compress_body()) {
            count_dropped(n);
            log_failure(-2000, "otlp: gzip failed: %d spans dropped", n);
            return;
        }
        payload = &X.packed;
    }

    post_result_t r = {.rc = CURLE_OK, .cut = 1};
    for (int tries = 1, backoff = 0;; tries++) {
        int64_t now = mf_now_ns();
        int64_t limit = min64(deadline, atomic_load(&X.stop_deadline));
        if (now >= limit) {
            drop_batch(n, tries - 1, &r, "");
            return;
        }
        post(payload->data, payload->len, min64(X.timeout_ms, (limit - now) / NS_PER_MS + 1), &r);
        if (!r.cut && r.rc == CURLE_OK && r.status >= 200 && r.status < 300) {
            atomic_fetch_add(&X.exports_ok, 1);
            atomic_fetch_add(&X.spans_exported, (uint64_t)n);
            return;
        }
        if (r.cut || !retryable(&r)) {
            drop_batch(n, tries, &r, "");
            return;
        }
        int64_t wait = r.retry_ns;
        if (!wait) {
            int64_t cap = backoff < 5 ? BACKOFF_FIRST_NS << backoff : BACKOFF_MAX_NS;
            wait = cap / 2 + (int64_t)(mf_random_u64() % (uint64_t)(cap / 2 + 1));
            backoff++;
        }
        now = mf_now_ns();
        if (now + wait >= deadline || backoff_wait(now + wait)) {
            drop_batch(n, tries, &r, now + wait >= deadline ? "; no time left to retry" : "");
            return;
        }
        atomic_fetch_add(&X.exports_retried, 1);
    }
}

/* ---- the thread ---- */

static void *run(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&X.lock);
    int64_t next = mf_now_ns() + X.delay_ns;
    for (;;) {
        while (X.state == RUNNING && X.count < X.batch_size && mf_now_ns() < next) {
            X.waiting = 1;
            wait_until(next);
            X.waiting = 0;
        }
        if (X.state != RUNNING && (!X.count || mf_now_ns() >= atomic_load(&X.stop_deadline)))
            break;
        int n;
        mf_span_t *batch = take(X.batch_size, &n);
        pthread_mutex_unlock(&X.lock);
        log_queue_full();
        if (batch)
            export_batch(batch, n);
        mf_span_free_list(batch);
        pthread_mutex_lock(&X.lock);
        next = mf_now_ns() + X.delay_ns;
    }
    pthread_mutex_unlock(&X.lock);
    log_queue_full();
    return NULL;
}

/* ---- metrics ---- */

static void collect(void *ud, mf_metrics_writer_t *w)
{
    (void)ud;
    pthread_mutex_lock(&X.lock);
    int queued = X.count;
    pthread_mutex_unlock(&X.lock);
    mf_metrics_family(w, "mayfly_otlp_spans_total", "counter",
                      "Spans ended for the OTLP exporter, by result: exported (a collector took "
                      "them), queue_full (dropped: the queue was full), failed (dropped: the "
                      "collector did not take their batch in time, or the exporter had stopped).");
    mf_metrics_sample(w, "mayfly_otlp_spans_total", (const char *[]){"result", "exported", NULL},
                      (double)atomic_load(&X.spans_exported));
    mf_metrics_sample(w, "mayfly_otlp_spans_total", (const char *[]){"result", "queue_full", NULL},
                      (double)atomic_load(&X.spans_queue_full));
    mf_metrics_sample(w, "mayfly_otlp_spans_total", (const char *[]){"result", "failed", NULL},
                      (double)atomic_load(&X.spans_failed));
    mf_metrics_family(w, "mayfly_otlp_exports_total", "counter",
                      "OTLP export requests, by result: ok, retried (each retry of a batch), "
                      "failed (a batch dropped).");
    mf_metrics_sample(w, "mayfly_otlp_exports_total", (const char *[]){"result", "ok", NULL},
                      (double)atomic_load(&X.exports_ok));
    mf_metrics_sample(w, "mayfly_otlp_exports_total", (const char *[]){"result", "retried", NULL},
                      (double)atomic_load(&X.exports_retried));
    mf_metrics_sample(w, "mayfly_otlp_exports_total", (const char *[]){"result", "failed", NULL},
                      (double)atomic_load(&X.exports_failed));
    mf_metrics_family(w, "mayfly_otlp_queue_spans", "gauge",
                      "Spans waiting in the OTLP exporter's queue.");
    mf_metrics_sample(w, "mayfly_otlp_queue_spans", NULL, (double)queued);
}

/* ---- start and stop ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc;

/* client/call.c initialises libcurl the same way. curl_global_init is reference-counted and,
 * in the libcurl of Debian 12 and later (CURL_VERSION_THREADSAFE), safe to call from two
 * threads at once; and mf_otlp_start runs before the workers anyway. */
static void curl_init(void)
{
    curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_reply(char *data, size_t size, size_t n, void *ud)
{
    size_t len = size * n, room = sizeof X.reply - X.reply_len;
    (void)ud;
    memcpy(X.reply + X.reply_len, data, len < room ? len : room);
    X.reply_len += len < room ? len : room;
    return len;
}

static void release(void)
{
    if (X.multi)
        curl_multi_cleanup(X.multi);
    if (X.easy)
        curl_easy_cleanup(X.easy);
    curl_slist_free_all(X.headers);
    if (X.z_ready)
        deflateEnd(&X.z);
    mf_buf_free(&X.body);
    mf_buf_free(&X.packed);
    free(X.endpoint);
    for (size_t i = 0; i < X.nresource; i++) {
        free(X.resource[i].key);
        free(X.resource[i].value);
    }
    free(X.resource);
    X.multi = NULL, X.easy = NULL, X.headers = NULL, X.z_ready = 0;
    X.endpoint = NULL, X.resource = NULL, X.nresource = 0;
}

static int set_up_curl(const mf_otel_config_t *c, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init);
    if (curl_rc != CURLE_OK) {
        snprintf(err, errlen, "otlp: libcurl did not initialise: %s", curl_easy_strerror(curl_rc));
        return -1;
    }
    X.easy = curl_easy_init();
    X.multi = curl_multi_init();
    if (!X.easy || !X.multi) {
        snprintf(err, errlen, "otlp: libcurl: out of memory");
        return -1;
    }
    X.headers = curl_slist_append(X.headers, c->protocol == MF_OTLP_JSON
                                                 ? "Content-Type: application/json"
                                                 : "Content-Type: application/x-protobuf");
    if (c->gzip)
        X.headers = curl_slist_append(X.headers, "Content-Encoding: gzip");
    /* No "Expect: 100-continue" round trip before a large batch. */
    X.headers = curl_slist_append(X.headers, "Expect:");
    for (char **h = c->headers; h && *h; h++) {
        size_t n = strlen(*h);
        if (n >= 2 && !strcmp(*h + n - 2, ": ")) {
            /* curl sends "Name:" with no value only when written "Name;". */
            char *line = mf_xstrdup(*h);
            strcpy(line + n - 2, ";");
            X.headers = curl_slist_append(X.headers, line);
            free(line);
        } else {
            X.headers = curl_slist_append(X.headers, *h);
        }
    }
    CURL *e = X.easy;
    curl_easy_setopt(e, CURLOPT_URL, c->endpoint);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, X.headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mayfly/" MAYFLY_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
    if (c->certificate)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->certificate);
    return 0;
}

int mf_otlp_start(const mf_otel_config_t *c, char *err, size_t errlen)
{
    pthread_mutex_lock(&X.lock);
    int state = X.state;
    pthread_mutex_unlock(&X.lock);
    if (state == RUNNING || state == STOPPING) {
        snprintf(err, errlen, "otlp: the exporter runs already");
        return -1;
    }
    if (!c->enabled || !c->endpoint) {
        snprintf(err, errlen, "otlp: no endpoint");
        return -1;
    }
    if (c->certificate && access(c->certificate, R_OK) != 0) {
        snprintf(err, errlen, "OTEL_EXPORTER_OTLP_CERTIFICATE: %s: %s", c->certificate,
                 strerror(errno));
        return -1;
    }
    X.max_queue = c->max_queue_size > 0 ? c->max_queue_size : 1;
    X.batch_size = c->max_export_batch_size > 0 ? c->max_export_batch_size : 1;
    if (X.batch_size > X.max_queue)
        X.batch_size = X.max_queue;
    X.gzip = c->gzip;
    X.protocol = c->protocol;
    X.delay_ns = c->schedule_delay_ms * NS_PER_MS;
    if (X.delay_ns < DELAY_MIN_NS)
        X.delay_ns = DELAY_MIN_NS;
    /* 0: no limit, as the configuration reads it. */
    X.export_timeout_ns = (c->export_timeout_ms > 0 ? c->export_timeout_ms : INT32_MAX) * NS_PER_MS;
    X.timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : INT32_MAX;
    X.endpoint = mf_xstrdup(c->endpoint);
    X.resource = mf_xcalloc(c->nresource ? c->nresource : 1, sizeof *X.resource);
    for (size_t i = 0; i < c->nresource; i++) {
        X.resource[i].key = mf_xstrdup(c->resource[i].key);
        X.resource[i].value = mf_xstrdup(c->resource[i].value);
        X.resource[i].integer = c->resource[i].integer;
    }
    X.nresource = c->nresource;
    memset(&X.logs, 0, sizeof X.logs);
    X.stop_failed = 0;
    X.queue_full_logged = atomic_load(&X.spans_queue_full);
    if (set_up_curl(c, err, errlen))
        goto fail;
    memset(&X.z, 0, sizeof X.z);
    if (X.gzip) {
        /* windowBits 15 + 16: the gzip wrapper, which Content-Encoding: gzip names. */
        if (deflateInit2(&X.z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            snprintf(err, errlen, "otlp: zlib did not initialise");
            goto fail;
        }
        X.z_ready = 1;
    }

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&X.wake, &attr);
    pthread_condattr_destroy(&attr);
    atomic_store(&X.stop_deadline, INT64_MAX);
    pthread_mutex_lock(&X.lock);
    X.state = RUNNING;
    pthread_mutex_unlock(&X.lock);
    int rc = pthread_create(&X.thread, NULL, run, NULL);
    if (rc) {
        pthread_mutex_lock(&X.lock);
        X.state = IDLE;
        pthread_mutex_unlock(&X.lock);
        pthread_cond_destroy(&X.wake);
        snprintf(err, errlen, "otlp: cannot start the exporter's thread: %s", strerror(rc));
        goto fail;
    }
    if (!collector_added) {
        mf_metrics_add_collector(collect, NULL);
        collector_added = 1;
    }
    mf_span_setup(&c->sampler, &c->limits);
    return 0;
fail:
    release();
    return -1;
}

int mf_otlp_stop(int64_t deadline_ns)
{
    pthread_mutex_lock(&X.lock);
    if (X.state != RUNNING) {
        pthread_mutex_unlock(&X.lock);
        return 0;
    }
    X.state = STOPPING;
    atomic_store(&X.stop_deadline, deadline_ns);
    pthread_cond_broadcast(&X.wake);
    pthread_mutex_unlock(&X.lock);
    curl_multi_wakeup(X.multi);
    pthread_join(X.thread, NULL);

    pthread_mutex_lock(&X.lock);
    X.state = STOPPED;
    int left;
    mf_span_t *rest = take(X.count, &left);
    pthread_mutex_unlock(&X.lock);
    mf_span_free_list(rest);
    atomic_fetch_add(&X.spans_failed, (uint64_t)left);
    if (left)
        mf_log_msg(MF_LOG_WARN, "otlp: %d spans not exported by the shutdown's deadline", left);
    pthread_cond_destroy(&X.wake);
    release();
    mf_span_spares_free();
    return X.stop_failed + left;
}
