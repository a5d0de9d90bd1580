/* The OTLP encoders, checked against a decoder that is not mayfly's: protoc's classes of the
 * schema in tests/integration/fixtures/otlp/ on Debian's python3-protobuf (otlp_decode.py).
 * Each test builds spans with span.h, writes down what the decoder must find in them (as the
 * text otlp_decode.py prints), encodes them both ways and compares. Spans are never ended here
 * (mf_span_end hands them to the exporter): end_ns is set by hand and the list linked by next. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "observe/otlp_encode.h"
#include "observe/span.h"
#include "test.h"

#define WALL_OFFSET INT64_C(1700000000000000000)
#define BIG_VALUE (100 * 1024)

static const mf_span_limits_t limits = {128, 128, 128, 2 * BIG_VALUE};

/* ---- the decoder ---- */

static char decoder[4096];

/* otlp_decode.py, found from this file's own path (CMake compiles it by its absolute path). */
static int find_decoder(void)
{
    const char *here = __FILE__, *tail = "unit/observe/test_otlp_encode.c";
    size_t n = strlen(here), t = strlen(tail);
    if (n < t || strcmp(here + n - t, tail))
        return -1;
    snprintf(decoder, sizeof decoder, "%.*sintegration/fixtures/otlp/otlp_decode.py", (int)(n - t),
             here);
    return access(decoder, R_OK);
}

/* Runs the decoder on body; returns its exit status and its output (stdout and stderr) in out,
 * NUL-terminated. */
static int decode(const char *encoding, const char *body, size_t len, mf_buf_t *out)
{
    char path[] = "/tmp/test_otlp_encode.XXXXXX", cmd[8192];
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    int ok = write(fd, body, len) == (ssize_t)len;
    close(fd);
    if (!ok) {
        unlink(path);
        return -1;
    }
    snprintf(cmd, sizeof cmd, "python3 '%s' %s '%s' 2>&1", decoder, encoding, path);
    FILE *p = popen(cmd, "r");
    if (!p) {
        unlink(path);
        return -1;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        mf_buf_append(out, chunk, n);
    mf_buf_append(out, "", 1);
    out->len--;
    int status = pclose(p);
    unlink(path);
    return status;
}

/* 1 when the dumps are the same; else prints the first line that differs. */
static int same_dump(const char *encoding, const mf_buf_t *got, const mf_buf_t *want)
{
    const char *g = got->data ? got->data : "", *w = want->data ? want->data : "";
    size_t glen = got->len, wlen = want->len, line = 1, at = 0;
    if (glen == wlen && !memcmp(g, w, glen))
        return 1;
    while (at < glen && at < wlen && g[at] == w[at])
        if (g[at++] == '\n')
            line++;
    while (at > 0 && g[at - 1] != '\n')
        at--;
    const char *ge = memchr(g + at, '\n', glen - at), *we = memchr(w + at, '\n', wlen - at);
    int gn = (int)((ge ? ge : g + glen) - (g + at)), wn = (int)((we ? we : w + wlen) - (w + at));
    printf("  %s: line %zu differs\n    decoded:  %.*s\n    expected: %.*s\n", encoding, line,
           gn > 300 ? 300 : gn, g + at, wn > 300 ? 300 : wn, w + at);
    return 0;
}

/* Encodes the spans both ways; 1 when the decoder finds want in each. */
static int check(const mf_otlp_source_t *src, const mf_span_t *spans, const mf_buf_t *want)
{
    int ok = 1;
    for (int json = 0; json < 2; json++) {
        const char *encoding = json ? "json" : "protobuf";
        mf_buf_t body = {0}, got = {0};
        if (json)
            mf_otlp_encode_json(&body, src, spans, WALL_OFFSET);
        else
            mf_otlp_encode_protobuf(&body, src, spans, WALL_OFFSET);
        int status = decode(encoding, body.data, body.len, &got);
        if (status != 0) {
            printf("  %s: the decoder failed (status %d):\n%.2000s\n", encoding, status,
                   got.data ? got.data : "");
            ok = 0;
        } else if (!same_dump(encoding, &got, want)) {
            ok = 0;
        }
        mf_buf_free(&body);
        mf_buf_free(&got);
    }
    return ok;
}

/* ---- what the decoder must print (otlp_decode.py's dump) ---- */

static void put(mf_buf_t *b, const char *s)
{
    mf_buf_append(b, s, strlen(s));
}

static void putf(mf_buf_t *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    mf_buf_append(b, line, (size_t)n);
}

static void put_esc(mf_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x21 && c <= 0x7e && c != '\\')
            mf_buf_append(b, &s[i], 1);
        else
            putf(b, "\\x%02x", c);
    }
}

static void put_hex(mf_buf_t *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putf(b, "%02x", p[i]);
}

static void want_key(mf_buf_t *b, const char *prefix, const char *key, size_t len)
{
    put(b, prefix);
    put_esc(b, key, len);
    put(b, " ");
}

static void want_str(mf_buf_t *b, const char *s, size_t n)
{
    put(b, "s ");
    put_esc(b, s, n);
    put(b, "\n");
}

static void want_double(mf_buf_t *b, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    putf(b, "d %016llx\n", (unsigned long long)bits);
}

static const mf_otel_attr_t resource[] = {
    {"service.name", "checkout", 0},
    {"service.version", "1.2.3", 0},
    {"k8s.pod.name", "checkout-7d9f\xc3\xa9", 0},
    {"process.pid", "4242", 1},
};
static const mf_otlp_source_t source = {resource, 4, "mayfly", "0.9.0"};

static void want_head(mf_buf_t *b, const mf_otlp_source_t *src)
{
    put(b, "resource_spans\n");
    for (size_t i = 0; i < src->nresource; i++) {
        want_key(b, "resource ", src->resource[i].key, strlen(src->resource[i].key));
        if (src->resource[i].integer)
            putf(b, "i %s\n", src->resource[i].value);
        else
            want_str(b, src->resource[i].value, strlen(src->resource[i].value));
    }
    put(b, "scope_spans\nscope ");
    put_esc(b, src->scope_name, strlen(src->scope_name));
    put(b, " ");
    put_esc(b, src->scope_version, strlen(src->scope_version));
    put(b, "\n");
}

/* A span under test and what the decoder must find in it beyond its own fields. */
typedef struct {
    mf_span_t *s;
    mf_buf_t attrs, events; /* the dump's attr and event lines */
    const char *name;       /* as decoded, when not s->name (it has invalid UTF-8) */
    size_t name_len;
    unsigned flags;
    const char *message; /* the status's, as decoded */
} tspan_t;

static tspan_t tspan(mf_span_t *s, int64_t start_ns, int64_t end_ns)
{
    tspan_t t = {.s = s, .flags = 0x101}; /* sampled; whether the parent is remote is known */
    s->start_ns = start_ns;
    s->end_ns = end_ns;
    return t;
}

static void tspan_free(tspan_t *t)
{
    mf_span_free(t->s);
    mf_buf_free(&t->attrs);
    mf_buf_free(&t->events);
}

static void want_span(mf_buf_t *b, const tspan_t *t)
{
    const mf_span_t *s = t->s;
    static const uint8_t zero[8];
    put(b, "span\ntrace_id ");
    put_hex(b, s->trace_id, 16);
    put(b, "\nspan_id ");
    put_hex(b, s->span_id, 8);
    put(b, "\nparent_span_id ");
    if (memcmp(s->parent_id, zero, 8))
        put_hex(b, s->parent_id, 8);
    put(b, "\nname ");
    if (t->name)
        put_esc(b, t->name, t->name_len);
    else
        put_esc(b, s->name, s->name_len);
    putf(b, "\nkind %d\nstart_ns %lld\nend_ns %lld\nflags %u\n", s->kind,
         (long long)(s->start_ns + WALL_OFFSET), (long long)(s->end_ns + WALL_OFFSET), t->flags);
    mf_buf_append(b, t->attrs.data ? t->attrs.data : "", t->attrs.len);
    putf(b, "dropped_attributes_count %d\n", s->dropped_attrs);
    mf_buf_append(b, t->events.data ? t->events.data : "", t->events.len);
    putf(b, "dropped_events_count %d\nstatus %d ", s->dropped_events, s->status);
    if (t->message)
        put_esc(b, t->message, strlen(t->message));
    put(b, "\n");
}

/* Sets an attribute on the span and expects it (valid UTF-8 in, the same out). */
static void set_str(tspan_t *t, const char *key, const char *v)
{
    mf_span_set_str(t->s, key, v, strlen(v));
    want_key(&t->attrs, "attr ", key, strlen(key));
    want_str(&t->attrs, v, strlen(v));
}

/* The same for a value of n bytes that decodes as want (want_n bytes). */
static void set_str_as(tspan_t *t, const char *key, const char *want_k, const char *v, size_t n,
                       const char *want, size_t want_n)
{
    mf_span_set_str(t->s, key, v, n);
    want_key(&t->attrs, "attr ", want_k, strlen(want_k));
    want_str(&t->attrs, want, want_n);
}

static void set_int(tspan_t *t, const char *key, int64_t v)
{
    mf_span_set_int(t->s, key, v);
    want_key(&t->attrs, "attr ", key, strlen(key));
    putf(&t->attrs, "i %lld\n", (long long)v);
}

static void set_double(tspan_t *t, const char *key, double v)
{
    mf_span_set_double(t->s, key, v);
    want_key(&t->attrs, "attr ", key, strlen(key));
    want_double(&t->attrs, v);
}

static void set_bool(tspan_t *t, const char *key, int v)
{
    mf_span_set_bool(t->s, key, v);
    want_key(&t->attrs, "attr ", key, strlen(key));
    putf(&t->attrs, "b %d\n", v != 0);
}

/* The time of the span's last event, as span.c recorded it. */
static int64_t last_event_time(const mf_span_t *s)
{
    size_t pos = 0;
    int64_t at = -1;
    mf_span_item_t it;
    while (mf_span_next_item(s, &pos, &it))
        if (it.kind == MF_SPAN_ITEM_EVENT)
            at = it.time_ns;
    return at;
}

static void event_as(tspan_t *t, const char *name, size_t n, const char *want, size_t want_n)
{
    mf_span_event(t->s, name, n);
    putf(&t->events, "event %lld 0 ", (long long)(last_event_time(t->s) + WALL_OFFSET));
    put_esc(&t->events, want, want_n);
    put(&t->events, "\n");
}

static void event(tspan_t *t, const char *name)
{
    event_as(t, name, strlen(name), name, strlen(name));
}

static void event_str(tspan_t *t, const char *key, const char *v)
{
    mf_span_event_str(t->s, key, v, strlen(v));
    want_key(&t->events, "event_attr ", key, strlen(key));
    want_str(&t->events, v, strlen(v));
}

/* Links the spans in order, checks them with the source's head, frees them. */
static int check_spans(const mf_otlp_source_t *src, tspan_t *ts, size_t n)
{
    mf_buf_t want = {0};
    want_head(&want, src);
    for (size_t i = 0; i < n; i++) {
        ts[i].s->next = i + 1 < n ? ts[i + 1].s : NULL;
        want_span(&want, &ts[i]);
    }
    int ok = check(src, n ? ts[0].s : NULL, &want);
    mf_buf_free(&want);
    for (size_t i = 0; i < n; i++)
        tspan_free(&ts[i]);
    return ok;
}

/* A request's span as a caller's traceparent (the W3C parser's work) and its own id give it. */
static mf_span_t *server_span(const char *traceparent_parent)
{
    char tp[MF_TRACEPARENT_LEN + 1];
    snprintf(tp, sizeof tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-%s-01",
             *traceparent_parent ? traceparent_parent : "0000000000000001");
    mf_trace_t tr;
    if (mf_trace_parse(tp, strlen(tp), &tr))
        abort();
    if (!*traceparent_parent) { /* a trace that begins here */
        tr.parent_id[0] = '\0';
        memset(tr.parent_bytes, 0, sizeof tr.parent_bytes);
    }
    strcpy(tr.span_id, "00f067aa0ba902b7");
    static const uint8_t span[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    memcpy(tr.span_bytes, span, sizeof span);
    return mf_span_begin_server(&tr, 1, "GET /users/{id}", 15);
}

/* ---- tests ---- */

TEST(the_decoder_runs)
{
    mf_buf_t want = {0};
    want_head(&want, &source);
    int ok = find_decoder() == 0;
    if (!ok)
        printf("  %s: not found (this test finds it from its own path, %s)\n", decoder, __FILE__);
    else
        ok = check(&source, NULL, &want);
    mf_buf_free(&want);
    ASSERT_TRUE(ok);
}

TEST(the_decoder_refuses_what_is_not_otlp)
{
    /* The comparisons below mean something only if the decoder is strict. */
    mf_buf_t got = {0};
    ASSERT_EQ_INT(decode("protobuf", "\x0a\x05\x0a\x03", 4, &got) != 0, 1); /* cut short */
    mf_buf_free(&got);
    /* A field number the schema does not know (Span field 17). */
    ASSERT_EQ_INT(decode("protobuf", "\x0a\x07\x12\x05\x12\x03\x88\x01\x00", 9, &got) != 0, 1);
    mf_buf_free(&got);
    /* Not minimal: ResourceSpans' length in two bytes. */
    ASSERT_EQ_INT(decode("protobuf", "\x0a\x80\x00", 3, &got) != 0, 1);
    mf_buf_free(&got);
    /* Invalid UTF-8 in a string (a scope's name). */
    ASSERT_EQ_INT(decode("protobuf", "\x0a\x07\x12\x05\x0a\x03\x0a\x01\xff", 9, &got) != 0, 1);
    mf_buf_free(&got);
#define ONE_SPAN(fields) "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" fields "}]}]}]}"
#define TRACE_ID "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
#define SPAN_ID "\"spanId\":\"00f067aa0ba902b7\""
    static const char *bad_json[] = {
        /* ids in base64, in uppercase, too short */
        ONE_SPAN("\"traceId\":\"S/kvNXezTaajzpKdDg5HNg==\"," SPAN_ID),
        ONE_SPAN("\"traceId\":\"4BF92F3577B34DA6A3CE929D0E0E4736\"," SPAN_ID),
        ONE_SPAN("\"traceId\":\"4bf92f3577b34da6\"," SPAN_ID),
        /* a proto field name, an enum by name, an int64 as a number, an unknown field */
        "{\"resource_spans\":[]}",
        ONE_SPAN(TRACE_ID SPAN_ID ",\"kind\":\"SPAN_KIND_SERVER\""),
        ONE_SPAN(TRACE_ID SPAN_ID ",\"startTimeUnixNano\":12"),
        "{\"resourceSpans\":[{\"unknownField\":1}]}",
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        int status = decode("json", bad_json[i], strlen(bad_json[i]), &got);
        if (status == 0)
            printf("  took %s\n", bad_json[i]);
        mf_buf_free(&got);
        ASSERT_TRUE(status != 0);
    }
    /* And takes a good one. */
    static const char good[] =
        ONE_SPAN(TRACE_ID SPAN_ID ",\"kind\":2,\"startTimeUnixNano\":\"12\"");
#undef ONE_SPAN
#undef TRACE_ID
#undef SPAN_ID
    int status = decode("json", good, strlen(good), &got);
    if (status)
        printf("%s\n", got.data);
    mf_buf_free(&got);
    ASSERT_EQ_INT(status, 0);
}

TEST(server_client_and_root_spans_with_every_value_type)
{
    tspan_t ts[4];
    /* A server span continuing a caller's trace: its parent is remote. */
    ts[0] = tspan(server_span("b7ad6b7169203331"), 1000, 5000);
    ts[0].flags = 0x301;
    set_str(&ts[0], "http.request.method", "GET");
    set_str(&ts[0], "http.route", "/users/{id}");
    set_str(&ts[0], "url.path", "/users/42");
    set_int(&ts[0], "http.response.status_code", 200);
    set_str(&ts[0], "server.address", "api.example.com");
    set_str(&ts[0], "client.address", "10.0.0.7");
    set_str(&ts[0], "user_agent.original", "curl/7.88.1");
    set_int(&ts[0], "negative", -1);
    set_int(&ts[0], "int64.min", INT64_MIN);
    set_int(&ts[0], "int64.max", INT64_MAX);
    set_int(&ts[0], "zero", 0);
    set_double(&ts[0], "pi", 3.141592653589793);
    set_double(&ts[0], "tenth", 0.1);
    set_double(&ts[0], "huge", 1.7976931348623157e308);
    set_double(&ts[0], "tiny", 4.9406564584124654e-324);
    set_double(&ts[0], "zero.double", 0.0);
    set_double(&ts[0], "minus.zero", -0.0);
    set_double(&ts[0], "whole", 42.0);
    set_double(&ts[0], "nan", NAN);
    set_double(&ts[0], "inf", INFINITY);
    set_double(&ts[0], "minus.inf", -INFINITY);
    set_bool(&ts[0], "yes", 1);
    set_bool(&ts[0], "no", 0);
    mf_span_ok(ts[0].s);
    /* Its child, a Redis call. */
    ts[1] = tspan(mf_span_begin_child(ts[0].s, MF_SPAN_CLIENT, "GET", 3), 2000, 3000);
    set_str(&ts[1], "db.system", "redis");
    /* A server span that begins a trace: no parent, which is not remote. */
    ts[2] = tspan(server_span(""), 6000, 6000);
    /* A job's root span. */
    ts[3] = tspan(mf_span_begin_root(MF_SPAN_INTERNAL, "every cleanup", 13), 7000, 9000);
    ASSERT_TRUE(ts[0].s && ts[1].s && ts[2].s && ts[3].s);
    ASSERT_TRUE(check_spans(&source, ts, 4));
}

TEST(events_carry_their_own_attributes)
{
    tspan_t t = tspan(mf_span_begin_root(MF_SPAN_SERVER, "POST /orders", 12), 100, 900);
    set_str(&t, "before", "events");
    event(&t, "exception");
    event_str(&t, "exception.type", "error");
    event_str(&t, "exception.message", "attempt to index a nil value");
    /* An attribute of the span between events is the span's, not the event's. */
    set_int(&t, "between", 1);
    event(&t, "retry");
    event(&t, "done");
    event_str(&t, "result", "ok");
    set_bool(&t, "after", 1);
    ASSERT_TRUE(check_spans(&source, &t, 1));
}

TEST(an_attribute_set_again_is_encoded_once_with_its_last_value)
{
    tspan_t t = tspan(mf_span_begin_root(MF_SPAN_INTERNAL, "script", 6), 10, 20);
    t.s->resets = 1;
    mf_span_set_int(t.s, "a", 1);
    mf_span_set_str(t.s, "b", "first", 5);
    set_str(&t, "a", "now a string");
    set_double(&t, "c", 2.5);
    set_bool(&t, "b", 1);
    set_int(&t, "d", 4);
    ASSERT_TRUE(check_spans(&source, &t, 1));
}

TEST(dropped_attributes_and_events_are_counted)
{
    const mf_span_limits_t small = {3, 1, 1, 1000};
    mf_span_setup(&(mf_sampler_t){MF_SAMPLE_ALWAYS_ON, 0, 1}, &small);
    tspan_t t = tspan(mf_span_begin_root(MF_SPAN_INTERNAL, "limited", 7), 10, 20);
    set_int(&t, "one", 1);
    set_int(&t, "two", 2);
    set_int(&t, "three", 3);
    mf_span_set_int(t.s, "four", 4);
    mf_span_set_str(t.s, "five", "5", 1);
    /* "first" keeps one attribute and counts the other as dropped. */
    mf_span_event(t.s, "first", 5);
    putf(&t.events, "event %lld 1 first\n", (long long)(last_event_time(t.s) + WALL_OFFSET));
    event_str(&t, "kept", "yes");
    mf_span_event_str(t.s, "past the limit", "no", 2);
    mf_span_event(t.s, "second", 6);
    mf_span_event_str(t.s, "of a dropped event", "no", 2);
    mf_span_event(t.s, "third", 5);
    mf_span_setup(&(mf_sampler_t){MF_SAMPLE_ALWAYS_ON, 0, 1}, &limits);
    ASSERT_EQ_INT(t.s->dropped_attrs, 2);
    ASSERT_EQ_INT(t.s->dropped_events, 2);
    ASSERT_TRUE(check_spans(&source, &t, 1));
}

TEST(a_key_set_again_counts_once_against_the_limit)
{
    const mf_span_limits_t small = {3, 1, 1, 1000};
    mf_span_setup(&(mf_sampler_t){MF_SAMPLE_ALWAYS_ON, 0, 1}, &small);
    tspan_t t = tspan(mf_span_begin_root(MF_SPAN_INTERNAL, "again", 5), 10, 20);
    t.s->resets = 1;
    for (int i = 0; i < 100; i++)
        mf_span_set_int(t.s, "n", i);
    set_int(&t, "n", 100);
    set_str(&t, "b", "kept");
    set_bool(&t, "c", 1);
    mf_span_setup(&(mf_sampler_t){MF_SAMPLE_ALWAYS_ON, 0, 1}, &limits);
    ASSERT_EQ_INT(t.s->dropped_attrs, 0);
    ASSERT_TRUE(check_spans(&source, &t, 1));
}

TEST(many_keys_set_again_read_in_linear_passes)
{
    /* Reading once looked ahead for a later value of each key, recursively: 30 keys took
     * minutes. Now a value set again is marked where it stands. */
    tspan_t t = tspan(mf_span_begin_root(MF_SPAN_INTERNAL, "wide", 4), 10, 20);
    t.s->resets = 1;
    char key[16];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 100; i++) {
            snprintf(key, sizeof key, "k%d", i);
            if (round)
                set_int(&t, key, i);
            else
                mf_span_set_int(t.s, key, -i);
        }
    ASSERT_TRUE(check_spans(&source, &t, 1));
}

TEST(status_error_with_a_message_ok_and_error_without_one)
{
    tspan_t ts[3];
    ts[0] = tspan(mf_span_begin_root(MF_SPAN_SERVER, "GET /fail", 9), 1, 2);
    ts[0].message = "handler error: boom \"quoted\"\n";
    mf_span_error(ts[0].s, ts[0].message, strlen(ts[0].message));
    ts[1] = tspan(mf_span_begin_root(MF_SPAN_SERVER, "GET /ok", 7), 1, 2);
    mf_span_error(ts[1].s, "forgotten", 9);
    mf_span_ok(ts[1].s);
    ts[2] = tspan(mf_span_begin_root(MF_SPAN_SERVER, "GET /504", 8), 1, 2);
    mf_span_error(ts[2].s, NULL, 0);
    ASSERT_EQ_INT(ts[0].s->status, MF_SPAN_ERROR);
    ASSERT_EQ_INT(ts[1].s->status, MF_SPAN_OK);
    ASSERT_EQ_INT(ts[2].s->status, MF_SPAN_ERROR);
    ASSERT_TRUE(check_spans(&source, ts, 3));
}

TEST(unicode_and_invalid_utf8)
{
    /* A byte that begins no valid sequence becomes U+FFFD in both encodings. */
#define FFFD "\xef\xbf\xbd"
    tspan_t ts[2];
    static const char name[] = "GET /caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80";
    ts[0] = tspan(mf_span_begin_root(MF_SPAN_SERVER, name, sizeof name - 1), 1, 2);
    set_str(&ts[0], "greeting",
            "\xe4\xbd\xa0\xe5\xa5\xbd, \xd0\xbc\xd0\xb8\xd1\x80 \xf0\x9f\x8c\x8d");
    set_str(&ts[0], "ctl", "tab\there\nnew \"q\" back\\slash \x01\x1f\x7f end");
    set_str(&ts[0], "\xe2\x9c\x93.key", "valid key");
    static const char bad_name[] = "a\xff" /* (two literals: 'b' would extend the escape) */
                                   "b\xc3";
    ts[1] = tspan(mf_span_begin_root(MF_SPAN_SERVER, bad_name, 4), 1, 2);
    ts[1].name = "a" FFFD "b" FFFD;
    ts[1].name_len = strlen(ts[1].name);
    /* A lone continuation byte, an overlong '/', a surrogate, past U+10FFFF, cut short. */
    static const char bad[] = "x\x80y \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x9c";
    static const char good[] =
        "x" FFFD "y " FFFD FFFD " " FFFD FFFD FFFD " " FFFD FFFD FFFD FFFD " " FFFD FFFD;
    set_str_as(&ts[1], "bad", "bad", bad, sizeof bad - 1, good, sizeof good - 1);
    set_str_as(&ts[1], "k\xfe", "k" FFFD, "v", 1, "v", 1);
    event_as(&ts[1], "ev\xff", 3, "ev" FFFD, 5);
    static const char message[] = "bad \xff message";
    mf_span_error(ts[1].s, message, sizeof message - 1);
    ts[1].message = "bad " FFFD " message";
    ASSERT_TRUE(check_spans(&source, ts, 2));
#undef FFFD
}

TEST(empty_strings)
{
    tspan_t t = tspan(mf_span_begin_root(MF_SPAN_INTERNAL, "", 0), 1, 2);
    set_str(&t, "empty", "");
    set_str(&t, "", "empty key");
    event(&t, "");
    event_str(&t, "empty", "");
    mf_span_error(t.s, "", 0);
    static const mf_otel_attr_t res[] = {{"service.name", "", 0}, {"", "x", 0}};
    const mf_otlp_source_t src = {res, 2, "mayfly", ""};
    ASSERT_TRUE(check_spans(&src, &t, 1));
}

/* A string of n bytes: ASCII with a two-byte and a four-byte character now and then. */
static char *big_string(size_t n, int invalid)
{
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    for (size_t i = 100; i + 504 < n; i += 1000) {
        memcpy(s + i, "\xc3\xa9", 2);
        memcpy(s + i + 500, "\xf0\x9f\x98\x80", 4);
    }
    if (invalid)
        s[n / 2] = (char)0xff;
    return s;
}

TEST(a_100_kb_value)
{
    tspan_t t = tspan(mf_span_begin_root(MF_SPAN_INTERNAL, "big", 3), 1, 2);
    char *v = big_string(BIG_VALUE, 0), *bad = big_string(BIG_VALUE, 1);
    set_str_as(&t, "big", "big", v, BIG_VALUE, v, BIG_VALUE);
    char *clean = malloc(BIG_VALUE + 2);
    memcpy(clean, bad, BIG_VALUE / 2);
    memcpy(clean + BIG_VALUE / 2, "\xef\xbf\xbd", 3);
    memcpy(clean + BIG_VALUE / 2 + 3, bad + BIG_VALUE / 2 + 1, BIG_VALUE - BIG_VALUE / 2 - 1);
    set_str_as(&t, "big.invalid", "big.invalid", bad, BIG_VALUE, clean, BIG_VALUE + 2);
    event(&t, "big event");
    mf_span_event_str(t.s, "big", v, BIG_VALUE);
    want_key(&t.events, "event_attr ", "big", 3);
    want_str(&t.events, v, BIG_VALUE);
    free(v);
    free(bad);
    free(clean);
    ASSERT_TRUE(check_spans(&source, &t, 1));
}

TEST(a_batch_of_1000_spans)
{
    /* Spans of every size from a few dozen bytes to a few KB, so that lengths of one, two and
     * three bytes all occur, and the batch is over 2 MB (a four-byte length). */
    enum { N = 1000 };
    tspan_t *ts = calloc(N, sizeof *ts);
    char *text = malloc(5000); /* ASCII: cut anywhere, it stays valid */
    for (int i = 0; i < 5000; i++)
        text[i] = (char)('a' + i % 26);
    for (int i = 0; i < N; i++) {
        char name[32], key[32];
        int n = snprintf(name, sizeof name, "span %d", i);
        ts[i] = tspan(mf_span_begin_root(1 + i % 3, name, (size_t)n), 1000 * i, 1000 * i + i);
        for (int a = 0; a < i % 5; a++) {
            snprintf(key, sizeof key, "attr.%d", a);
            size_t len = (size_t)(i * 37 + a * 1009) % 5000;
            set_str_as(&ts[i], key, key, text, len, text, len);
        }
        if (i % 7 == 0)
            set_int(&ts[i], "i", i);
    }
    free(text);
    ASSERT_TRUE(check_spans(&source, ts, N));
    free(ts);
}

TEST(appends_to_what_the_buffer_holds)
{
    char storage[64];
    for (int json = 0; json < 2; json++) {
        mf_buf_t out;
        mf_buf_init(&out, storage, sizeof storage);
        mf_buf_append(&out, "prefix", 6);
        tspan_t t = tspan(server_span("b7ad6b7169203331"), 1, 2);
        set_str(&t, "k", "v");
        if (json)
            mf_otlp_encode_json(&out, &source, t.s, WALL_OFFSET);
        else
            mf_otlp_encode_protobuf(&out, &source, t.s, WALL_OFFSET);
        int ok = out.len > 6 && !memcmp(out.data, "prefix", 6);
        mf_buf_t got = {0};
        int status = decode(json ? "json" : "protobuf", out.data + 6, out.len - 6, &got);
        if (json && ok) {
            /* OTLP/JSON's ids in lowercase hex (the decoder checks the case too) */
            mf_buf_append(&out, "", 1);
            ok = strstr(out.data, "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\"") &&
                 strstr(out.data, "\"parentSpanId\":\"b7ad6b7169203331\"");
        }
        if (status)
            printf("%s\n", got.data);
        mf_buf_free(&got);
        mf_buf_free(&out);
        tspan_free(&t);
        ASSERT_TRUE(ok);
        ASSERT_EQ_INT(status, 0);
    }
}

int main(void)
{
    mf_span_setup(&(mf_sampler_t){MF_SAMPLE_ALWAYS_ON, 0, 1}, &limits);
    RUN(the_decoder_runs);
    RUN(the_decoder_refuses_what_is_not_otlp);
    RUN(server_client_and_root_spans_with_every_value_type);
    RUN(events_carry_their_own_attributes);
    RUN(an_attribute_set_again_is_encoded_once_with_its_last_value);
    RUN(dropped_attributes_and_events_are_counted);
    RUN(a_key_set_again_counts_once_against_the_limit);
    RUN(many_keys_set_again_read_in_linear_passes);
    RUN(status_error_with_a_message_ok_and_error_without_one);
    RUN(unicode_and_invalid_utf8);
    RUN(empty_strings);
    RUN(a_100_kb_value);
    RUN(a_batch_of_1000_spans);
    RUN(appends_to_what_the_buffer_holds);
    TEST_MAIN_END();
}
