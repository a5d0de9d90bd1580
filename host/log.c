#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log_buffer.h"

static int min_level = MF_LOG_INFO;
static int access_on = 1;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

#define MAX_STATIC_FIELDS 16
static struct {
    char *key, *value;
} static_fields[MAX_STATIC_FIELDS];
static int nstatic;
/* The static fields as they are written on every line (",\"key\":\"value\"..."): escaped once. */
static char *static_json;
static size_t static_json_len;

void mf_log_setup(int level, int access_log)
{
    min_level = level;
    access_on = access_log;
}

int mf_log_enabled(int level)
{
    return level >= min_level;
}

int mf_log_access_enabled(void)
{
    return access_on;
}

static int field_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static void add_static(const char *key, size_t klen, const char *value, size_t vlen)
{
    static_fields[nstatic].key = mf_xstrndup(key, klen);
    static_fields[nstatic].value = mf_xstrndup(value, vlen);
    nstatic++;
    mf_jsonbuf_t j;
    mf_jsonbuf_open(&j);
    for (int i = 0; i < nstatic; i++)
        mf_jsonbuf_cstr(&j, static_fields[i].key, static_fields[i].value);
    free(static_json);
    static_json = mf_jsonbuf_close(&j, &static_json_len);
    /* ',"key":"value",...': the object without its braces, to follow the host's fields. */
    static_json[0] = ',';
    static_json_len--;
}

/* The fields of the host's own lines (access log, errors): a static field of one of these names
 * would make a second key in those lines. */
static int line_field(const char *k)
{
    static const char *const fields[] = {"method", "path",    "route",     "status", "duration_ms",
                                         "error",  "trigger", "traceback", NULL};
    for (int i = 0; fields[i]; i++)
        if (!strcmp(k, fields[i]))
            return 1;
    return 0;
}

int mf_log_set_fields(const char *spec, char *err, size_t errlen)
{
    const char *pod = getenv("POD_NAME"), *ns = getenv("NAMESPACE");
    if (!ns || !*ns)
        ns = getenv("POD_NAMESPACE");
    if (pod && *pod)
        add_static("pod_name", 8, pod, strlen(pod));
    if (ns && *ns)
        add_static("namespace", 9, ns, strlen(ns));
    for (const char *p = spec; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        char key[72];
        snprintf(key, sizeof key, "%.*s", (int)(klen < 64 ? klen : 64), p);
        if (!eq || !field_name_ok(p, klen)) {
            snprintf(err, errlen,
                     "MAYFLY_LOG_FIELDS: '%.*s' is not key=value with a key of "
                     "[A-Za-z_][A-Za-z0-9_]*",
                     (int)n, p);
            return -1;
        }
        if (mf_log_reserved(key) || line_field(key)) {
            snprintf(err, errlen, "MAYFLY_LOG_FIELDS: '%s' is a field the host writes", key);
            return -1;
        }
        if (nstatic == MAX_STATIC_FIELDS) {
            snprintf(err, errlen, "MAYFLY_LOG_FIELDS: at most %d fields", MAX_STATIC_FIELDS);
            return -1;
        }
        add_static(p, klen, eq + 1, n - klen - 1);
        p += n + (comma ? 1 : 0);
    }
    return 0;
}

int mf_log_reserved(const char *k)
{
    static const char *const host[] = {"ts",       "level",   "msg", "request_id",
                                       "trace_id", "span_id", NULL};
    for (int i = 0; host[i]; i++)
        if (!strcmp(k, host[i]))
            return 1;
    for (int i = 0; i < nstatic; i++)
        if (!strcmp(k, static_fields[i].key))
            return 1;
    return 0;
}

/* "2026-01-02T03:04:05.678Z" (24 characters) for now. The part up to the seconds is formatted
 * once a second per thread: a line is written for every request. */
static const char *stamp(void)
{
    static __thread char buf[64];
    static __thread time_t second = -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != second) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        second = ts.tv_sec;
    }
    int ms = (int)(ts.tv_nsec / 1000000);
    buf[20] = (char)('0' + ms / 100);
    buf[21] = (char)('0' + ms / 10 % 10);
    buf[22] = (char)('0' + ms % 10);
    return buf;
}

/* ts, level and msg, the fields every line starts with, up to msg's value: the caller writes it
 * and the closing quote. */
static void begin(mf_jsonbuf_t *l, int level)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    level = level < 0 ? 0 : level > 3 ? 3 : level;
    mf_jsonbuf_open(l);
    mf_jsonbuf_lit(l, "\"ts\":\"");
    mf_jsonbuf_append(l, stamp(), 24);
    mf_jsonbuf_lit(l, "\",\"level\":\"");
    mf_jsonbuf_append(l, levels[level], strlen(levels[level]));
    mf_jsonbuf_lit(l, "\",\"msg\":\"");
    l->fields = 1;
}

static void begin_msg(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen)
{
    begin(l, level);
    mf_jsonbuf_escape(l, msg, msglen);
    mf_jsonbuf_lit(l, "\"");
}

/* request_id, trace_id and span_id of r. No escaping needed, so none done: a request id is
 * [A-Za-z0-9._:-] (given) or hex (made), trace and span ids are hex. */
static void add_request_ids(mf_jsonbuf_t *l, mf_request_t *r)
{
    const char *id = mf_request_id(r);
    const mf_trace_t *trace = mf_request_trace(r);
    mf_jsonbuf_lit(l, ",\"request_id\":\"");
    mf_jsonbuf_append(l, id, strlen(id));
    mf_jsonbuf_lit(l, "\",\"trace_id\":\"");
    mf_jsonbuf_append(l, trace->trace_id, 32);
    mf_jsonbuf_lit(l, "\",\"span_id\":\"");
    mf_jsonbuf_append(l, trace->span_id, 16);
    mf_jsonbuf_lit(l, "\"");
}

/* The static fields, after the host's own. */
static void add_static_fields(mf_jsonbuf_t *l)
{
    if (static_json)
        mf_jsonbuf_append(l, static_json, static_json_len);
}

void mf_log_begin(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                  const char *request_id)
{
    begin_msg(l, level, msg, msglen);
    if (request_id)
        mf_jsonbuf_cstr(l, "request_id", request_id);
    add_static_fields(l);
}

void mf_log_begin_request(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                          mf_request_t *r)
{
    begin_msg(l, level, msg, msglen);
    if (r)
        add_request_ids(l, r);
    add_static_fields(l);
}

void mf_log_access(mf_request_t *r, int64_t duration_ns)
{
    mf_jsonbuf_t l;
    const char *method = r->method ? r->method : "";
    /* Written piece by piece, one line per request: the keys are literals, so only the values
     * a client or a script chose go through escaping. */
    begin(&l, MF_LOG_INFO);
    mf_jsonbuf_lit(&l, "request\"");
    add_request_ids(&l, r);
    add_static_fields(&l);
    mf_jsonbuf_lit(&l, ",\"method\":\"");
    mf_jsonbuf_escape(&l, method, strlen(method));
    mf_jsonbuf_lit(&l, "\",\"path\":\"");
    mf_jsonbuf_escape(&l, r->target, r->path_len);
    mf_jsonbuf_lit(&l, "\"");
    if (r->route) {
        mf_jsonbuf_lit(&l, ",\"route\":\"");
        mf_jsonbuf_escape(&l, r->route, strlen(r->route));
        mf_jsonbuf_lit(&l, "\"");
    }
    mf_jsonbuf_lit(&l, ",\"status\":");
    mf_jsonbuf_append_int(&l, r->status);
    mf_jsonbuf_lit(&l, ",\"duration_ms\":");
    mf_jsonbuf_append_milli(&l, duration_ns / 1000);
    mf_log_end_buffered(&l);
}

static int log_fd = STDOUT_FILENO;

void mf_log_set_fd(int fd)
{
    log_fd = fd;
}

void mf_log_write(const char *p, size_t left)
{
    /* One lock around the write, so lines longer than PIPE_BUF never interleave. */
    pthread_mutex_lock(&out_lock);
    while (left > 0) {
        ssize_t w = write(log_fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* stdout is gone: nothing sensible is left to do with a log line */
        p += w;
        left -= (size_t)w;
    }
    pthread_mutex_unlock(&out_lock);
}

void mf_log_end(mf_jsonbuf_t *l)
{
    mf_jsonbuf_lit(l, "}\n");
    mf_log_buffer_flush_mine(); /* this thread's buffered lines first: its lines stay in order */
    mf_log_write(l->buf, l->len);
    mf_jsonbuf_discard(l);
}

void mf_log_end_buffered(mf_jsonbuf_t *l)
{
    mf_jsonbuf_lit(l, "}\n");
    mf_log_buffer_add(l->buf, l->len);
    mf_jsonbuf_discard(l);
}

void mf_log_msg(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    mf_jsonbuf_t l;

    if (!mf_log_enabled(level))
        return;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    mf_log_begin(&l, level, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, NULL);
    mf_log_end(&l);
}
