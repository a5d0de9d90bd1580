#include "observe/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/syntax.h"
#include "observe/log_buffer.h"
#include "observe/log_output.h"

static int min_level = MF_LOG_INFO;
static int access_on = 1;
/* Lines are made as JSON; in text mode each is rendered as text when it is written. */
static int text_on, colour_on;

/* The format MAYFLY_LOG_FORMAT asked for, applied to where the lines go now. */
static void resolve_format(void)
{
    int format = mf_options_log_format();
    const char *no_colour = getenv("NO_COLOR"), *term = getenv("TERM");
    int tty = isatty(mf_log_output_fd());
    text_on = format == MF_LOG_FORMAT_TEXT || (format == MF_LOG_FORMAT_AUTO && tty);
    colour_on = text_on && tty && !(no_colour && *no_colour) && !(term && !strcmp(term, "dumb"));
}

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
    resolve_format();
}

int mf_log_enabled(int level)
{
    return level >= min_level;
}

int mf_log_access_enabled(void)
{
    return access_on;
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
        if (!eq || klen > 64 || !mf_syntax_identifier(p, klen)) {
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

/* ts, level and msg, the fields every line starts with. */
static void begin(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    level = level < 0 ? 0 : level > 3 ? 3 : level;
    mf_jsonbuf_open(l);
    mf_jsonbuf_lit(l, "\"ts\":\"");
    mf_jsonbuf_append(l, stamp(), 24);
    mf_jsonbuf_lit(l, "\",\"level\":\"");
    mf_jsonbuf_append(l, levels[level], strlen(levels[level]));
    mf_jsonbuf_lit(l, "\",\"msg\":\"");
    mf_jsonbuf_escape(l, msg, msglen);
    mf_jsonbuf_lit(l, "\"");
    l->fields = 1;
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
    begin(l, level, msg, msglen);
    if (request_id)
        mf_jsonbuf_cstr(l, "request_id", request_id);
    add_static_fields(l);
}

void mf_log_begin_traced(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                         const char *request_id, const mf_trace_t *trace)
{
    begin(l, level, msg, msglen);
    mf_jsonbuf_lit(l, ",\"request_id\":\"");
    mf_jsonbuf_append(l, request_id, strlen(request_id));
    mf_jsonbuf_lit(l, "\",\"trace_id\":\"");
    mf_jsonbuf_append(l, trace->trace_id, 32);
    mf_jsonbuf_lit(l, "\",\"span_id\":\"");
    mf_jsonbuf_append(l, trace->span_id, 16);
    mf_jsonbuf_lit(l, "\"");
    add_static_fields(l);
}

void mf_log_set_fd(int fd)
{
    mf_log_output_set_fd(fd);
    resolve_format();
}

/* ---- text for a person ----
 * A line is always made as JSON; in text mode it is rendered from that JSON when it is written,
 * so both formats carry the same fields and the JSON path pays one test. The text line is
 * "HH:MM:SS.mmm LEVEL msg key=value ...": the time of day of ts (UTC), values bare when they hold
 * no space, quote, '=' or control byte and quoted otherwise, objects and arrays as their JSON;
 * a value of several lines (a traceback) follows the line, indented. Control bytes other than
 * newline and tab, and C1 controls, stay escaped: nothing a client sends reaches the terminal
 * as an escape sequence. */

#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_KEY "\033[36m"
#define C_RESET "\033[0m"

typedef struct {
    const char *p, *end;
} cursor_t;

/* Skips one JSON value of the line (a string, number, literal, object or array). */
static void skip_value(cursor_t *c)
{
    int depth = 0, in_string = 0;
    for (; c->p < c->end; c->p++) {
        char ch = *c->p;
        if (in_string) {
            if (ch == '\\')
                c->p++;
            else if (ch == '"')
                in_string = 0;
            else
                continue;
            if (!depth && !in_string) {
                c->p++;
                return;
            }
        } else if (ch == '"') {
            in_string = 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (!depth)
                return; /* the line's own closing brace */
            if (!--depth) {
                c->p++;
                return;
            }
        } else if (!depth && ch == ',') {
            return;
        }
    }
}

/* Decodes the JSON string between s and e (its quotes excluded) into out, keeping as escapes
 * what must not reach a terminal; with quoted, as the inside of a quoted value (quotes and
 * backslashes escaped). Sets *quote when the text needs quotes, *lines when it holds a newline. */
static void unescape(const char *s, const char *e, int quoted, mf_buf_t *out, int *quote,
                     int *lines)
{
    *quote = s == e;
    *lines = 0;
    while (s < e) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\\' && s + 1 < e) {
            char k = s[1];
            s += 2;
            if (k == 'n') {
                if (quoted)
                    mf_buf_lit(out, "\\n");
                else
                    mf_buf_lit(out, "\n");
                *lines = 1;
            } else if (k == 't') {
                mf_buf_lit(out, "\t");
                *quote = 1;
            } else if (k == 'u' && e - s >= 4) {
                int cp = 0;
                for (int i = 0; i < 4; i++)
                    cp = cp << 4 | (mf_syntax_hex_digit(s[i]) < 0 ? 0 : mf_syntax_hex_digit(s[i]));
                if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0xd800 && cp < 0xe000)) {
                    mf_buf_append(out, s - 2, 6); /* stays visible as \u00XX */
                } else {
                    char u[3];
                    int n = cp < 0x800 ? 2 : 3;
                    u[0] = (char)(n == 2 ? 0xc0 | cp >> 6 : 0xe0 | cp >> 12);
                    u[n - 1] = (char)(0x80 | (cp & 0x3f));
                    if (n == 3)
                        u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                    mf_buf_append(out, u, (size_t)n);
                }
                *quote = 1;
                s += 4;
            } else if (k == 'r' || k == 'b' || k == 'f') {
                mf_buf_append(out, s - 2, 2);
                *quote = 1;
            } else {
                if (quoted && (k == '"' || k == '\\'))
                    mf_buf_lit(out, "\\");
                mf_buf_append(out, &k, 1); /* \" \\ \/ */
                *quote |= k == '"' || k == '\\';
            }
        } else if (ch == 0xc2 && s + 1 < e && (unsigned char)s[1] < 0xa0) {
            static const char hex[] = "0123456789abcdef";
            unsigned char c1 = (unsigned char)s[1]; /* a C1 control, U+0080..U+009F */
            char u[6] = {'\\', 'u', '0', '0', hex[c1 >> 4], hex[c1 & 15]};
            mf_buf_append(out, u, 6);
            *quote = 1;
            s += 2;
        } else {
            mf_buf_append(out, s, 1);
            *quote |= ch == ' ' || ch == '=';
            s++;
        }
    }
}

/* Renders the JSON line in (as made by this file) as text, appended to out. */
static void render_text(const char *in, size_t len, mf_buf_t *out, int colour)
{
    static const char *const levels[] = {"debug", "DEBUG", "info",  "INFO ", "warn",
                                         "WARN ", "error", "ERROR", NULL};
    static const char *const level_colours[] = {"\033[34m", "\033[32m", "\033[33m", "\033[1;31m"};
    char later_storage[1024], value_storage[1024], key_storage[1024];
    mf_buf_t later, value, key; /* later: the values of several lines, after the line */
    int quote, lines;
    cursor_t c = {in + 1, in + len};

    mf_buf_init(&later, later_storage, sizeof later_storage);
    mf_buf_init(&value, value_storage, sizeof value_storage);
    mf_buf_init(&key, key_storage, sizeof key_storage);
    while (c.p < c.end && *c.p == '"') {
        const char *k = c.p;
        skip_value(&c); /* the key, a string */
        if (c.p + 1 >= c.end || c.p - k < 2 || *c.p != ':')
            break;
        key.len = 0;
        unescape(k + 1, c.p - 1, 1, &key, &quote, &lines);
        c.p++;
        const char *v = c.p;
        skip_value(&c);
        const char *v_end = c.p;
        size_t klen = key.len;
        int is_string = *v == '"' && v_end - v >= 2;
        int is_msg = klen == 3 && !memcmp(key.data, "msg", 3);
        quote = lines = 0;
        value.len = 0;
        if (!is_string) {
            mf_buf_append(&value, v, (size_t)(v_end - v));
        } else {
            unescape(v + 1, v_end - 1, 0, &value, &quote, &lines);
            /* a message stays on its line; another value of several lines follows it */
            if (is_msg ? lines : quote && !lines) {
                value.len = 0;
                unescape(v + 1, v_end - 1, 1, &value, &quote, &lines);
            }
        }

        if (klen == 2 && !memcmp(key.data, "ts", 2) && value.len >= 23) {
            if (colour)
                mf_buf_lit(out, C_DIM);
            mf_buf_append(out, value.data + 11, 12);
            if (colour)
                mf_buf_lit(out, C_RESET);
        } else if (klen == 5 && !memcmp(key.data, "level", 5)) {
            int i = 0;
            while (levels[i] &&
                   (strlen(levels[i]) != value.len || memcmp(levels[i], value.data, value.len)))
                i += 2;
            mf_buf_lit(out, " ");
            if (colour && levels[i])
                mf_buf_append(out, level_colours[i / 2], strlen(level_colours[i / 2]));
            if (levels[i])
                mf_buf_append(out, levels[i + 1], 5);
            else
                mf_buf_append(out, value.data, value.len);
            if (colour && levels[i])
                mf_buf_lit(out, C_RESET);
        } else if (is_msg) {
            mf_buf_lit(out, " ");
            if (colour)
                mf_buf_lit(out, C_BOLD);
            mf_buf_append(out, value.data, value.len);
            if (colour)
                mf_buf_lit(out, C_RESET);
        } else if (lines) {
            mf_buf_lit(&later, "    ");
            if (colour)
                mf_buf_lit(&later, C_KEY);
            mf_buf_append(&later, key.data, klen);
            mf_buf_lit(&later, ":");
            if (colour)
                mf_buf_lit(&later, C_RESET);
            mf_buf_lit(&later, "\n      ");
            for (size_t i = 0; i < value.len; i++) {
                mf_buf_append(&later, value.data + i, 1);
                if (value.data[i] == '\n')
                    mf_buf_lit(&later, "      ");
            }
            mf_buf_lit(&later, "\n");
        } else {
            mf_buf_lit(out, " ");
            if (colour)
                mf_buf_lit(out, C_KEY);
            mf_buf_append(out, key.data, klen);
            mf_buf_lit(out, "=");
            if (colour)
                mf_buf_lit(out, C_RESET);
            if (is_string && quote)
                mf_buf_lit(out, "\"");
            mf_buf_append(out, value.data, value.len);
            if (is_string && quote)
                mf_buf_lit(out, "\"");
        }
        if (c.p < c.end && *c.p == ',')
            c.p++;
    }
    mf_buf_lit(out, "\n");
    mf_buf_append(out, later.data, later.len);
    mf_buf_free(&later);
    mf_buf_free(&value);
    mf_buf_free(&key);
}

/* Writes the finished line l now, or into this thread's buffer, in the format chosen. */
static void emit(mf_jsonbuf_t *l, int buffered)
{
    char text_storage[1024];
    mf_buf_t text, *w = &l->out;
    mf_jsonbuf_lit(l, "}\n");
    if (text_on) {
        mf_buf_init(&text, text_storage, sizeof text_storage);
        render_text(l->out.data, l->out.len, &text, colour_on);
        w = &text;
    }
    if (buffered) {
        mf_log_buffer_add(w->data, w->len);
    } else {
        mf_log_buffer_flush_mine(); /* this thread's buffered lines first: they stay in order */
        mf_log_output_write(w->data, w->len);
    }
    if (w != &l->out)
        mf_buf_free(w);
    mf_jsonbuf_discard(l);
}

void mf_log_end(mf_jsonbuf_t *l)
{
    emit(l, 0);
}

void mf_log_end_buffered(mf_jsonbuf_t *l)
{
    emit(l, 1);
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
