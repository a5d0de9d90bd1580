#include "observe/otlp_encode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonbuf.h"

/* Both encoders run on the exporter thread for every span, so neither allocates per span or
 * per attribute: everything is written straight into out. */

/* Unix-epoch nanoseconds of a mf_now_ns() time; never negative, so that the fixed64 of the
 * protobuf and the decimal of the JSON say the same. */
static uint64_t wall_ns(int64_t t, int64_t wall_offset_ns)
{
    int64_t w = t + wall_offset_ns;
    return w < 0 ? 0 : (uint64_t)w;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* SpanFlags (trace.proto): the W3C trace flags in the low byte (only sampled spans are
 * recorded), and whether the parent is remote, which mayfly always knows. */
enum {
    SPAN_FLAGS_SAMPLED = 0x01,
    SPAN_FLAGS_HAS_IS_REMOTE = 0x100,
    SPAN_FLAGS_IS_REMOTE = 0x200,
};

static uint32_t span_flags(const mf_span_t *s)
{
    return SPAN_FLAGS_SAMPLED | SPAN_FLAGS_HAS_IS_REMOTE |
           (s->parent_remote ? SPAN_FLAGS_IS_REMOTE : 0);
}

/* ---- UTF-8 ----
 * Protobuf strings must be UTF-8 (a decoder may refuse the whole request otherwise), so a byte
 * that begins no valid sequence becomes U+FFFD, as mf_jsonbuf_escape does for the JSON. */

static const char replacement[3] = {(char)0xef, (char)0xbf, (char)0xbd};

/* The length of s once cleaned: n when it is valid UTF-8, the common case, found 8 bytes at a
 * time while they are ASCII. */
static size_t utf8_clean_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, out = 0;
    while (i < n) {
        uint64_t w;
        if (n - i >= 8 && (memcpy(&w, p + i, 8), !(w & 0x8080808080808080ull))) {
            i += 8, out += 8;
        } else if (p[i] < 0x80) {
            i++, out++;
        } else {
            size_t seq = mf_utf8_seq(p + i, n - i);
            i += seq ? seq : 1;
            out += seq ? seq : sizeof replacement;
        }
    }
    return out;
}

/* Appends s (n bytes, clean_len of them once cleaned) cleaned. */
static void put_utf8(mf_buf_t *b, const char *s, size_t n, size_t clean_len)
{
    if (clean_len == n) {
        mf_buf_append(b, s, n);
        return;
    }
    mf_buf_reserve(b, clean_len);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t seq = p[i] < 0x80 ? 1 : mf_utf8_seq(p + i, n - i);
        if (seq) {
            memcpy(b->data + b->len, p + i, seq);
            b->len += seq;
            i += seq;
        } else {
            memcpy(b->data + b->len, replacement, sizeof replacement);
            b->len += sizeof replacement;
            i++;
        }
    }
}

/* ---- protobuf ----
 * Tags are (field number << 3 | wire type), of the fields of opentelemetry-proto's messages
 * (tests/integration/fixtures/otlp/ has them written down). All but Span.flags fit a byte. */

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };
#define TAG(field, wire) ((field) << 3 | (wire))

enum {
    /* ExportTraceServiceRequest */
    REQUEST_RESOURCE_SPANS = TAG(1, WIRE_LEN),
    /* ResourceSpans */
    RESOURCE_SPANS_RESOURCE = TAG(1, WIRE_LEN),
    RESOURCE_SPANS_SCOPE_SPANS = TAG(2, WIRE_LEN),
    /* Resource */
    RESOURCE_ATTRIBUTES = TAG(1, WIRE_LEN),
    /* ScopeSpans */
    SCOPE_SPANS_SCOPE = TAG(1, WIRE_LEN),
    SCOPE_SPANS_SPANS = TAG(2, WIRE_LEN),
    /* InstrumentationScope */
    SCOPE_NAME = TAG(1, WIRE_LEN),
    SCOPE_VERSION = TAG(2, WIRE_LEN),
    /* Span */
    SPAN_TRACE_ID = TAG(1, WIRE_LEN),
    SPAN_SPAN_ID = TAG(2, WIRE_LEN),
    SPAN_PARENT_SPAN_ID = TAG(4, WIRE_LEN),
    SPAN_NAME = TAG(5, WIRE_LEN),
    SPAN_KIND = TAG(6, WIRE_VARINT),
    SPAN_START_TIME = TAG(7, WIRE_I64),
    SPAN_END_TIME = TAG(8, WIRE_I64),
    SPAN_ATTRIBUTES = TAG(9, WIRE_LEN),
    SPAN_DROPPED_ATTRIBUTES = TAG(10, WIRE_VARINT),
    SPAN_EVENTS = TAG(11, WIRE_LEN),
    SPAN_DROPPED_EVENTS = TAG(12, WIRE_VARINT),
    SPAN_STATUS = TAG(15, WIRE_LEN),
    SPAN_FLAGS = TAG(16, WIRE_I32),
    /* Span.Event */
    EVENT_TIME = TAG(1, WIRE_I64),
    EVENT_NAME = TAG(2, WIRE_LEN),
    EVENT_ATTRIBUTES = TAG(3, WIRE_LEN),
    EVENT_DROPPED_ATTRIBUTES = TAG(4, WIRE_VARINT),
    /* Status */
    STATUS_MESSAGE = TAG(2, WIRE_LEN),
    STATUS_CODE = TAG(3, WIRE_VARINT),
    /* KeyValue */
    KEY_VALUE_KEY = TAG(1, WIRE_LEN),
    KEY_VALUE_VALUE = TAG(2, WIRE_LEN),
    /* AnyValue */
    ANY_STRING = TAG(1, WIRE_LEN),
    ANY_BOOL = TAG(2, WIRE_VARINT),
    ANY_INT = TAG(3, WIRE_VARINT),
    ANY_DOUBLE = TAG(4, WIRE_I64),
};

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v at p (room for 10 bytes); returns its length. */
static size_t write_varint(char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (char)v;
    return n;
}

static void put_varint(mf_buf_t *b, uint64_t v)
{
    mf_buf_reserve(b, 10);
    b->len += write_varint(b->data + b->len, v);
}

static void put_byte(mf_buf_t *b, unsigned v)
{
    mf_buf_reserve(b, 1);
    b->data[b->len++] = (char)v;
}

/* Little-endian, as the wire format has them, whatever the host's order. */
static void put_fixed(mf_buf_t *b, uint64_t v, size_t n)
{
    mf_buf_reserve(b, n);
    for (size_t i = 0; i < n; i++)
        b->data[b->len++] = (char)(v >> (8 * i));
}

/* A fixed64 time, left out when 0 (proto3's default). */
static void put_time(mf_buf_t *b, unsigned tag, uint64_t ns)
{
    if (!ns)
        return;
    put_byte(b, tag);
    put_fixed(b, ns, 8);
}

static void put_bytes_field(mf_buf_t *b, unsigned tag, const uint8_t *p, size_t n)
{
    put_byte(b, tag);
    put_byte(b, (unsigned)n); /* ids: 8 or 16 bytes */
    mf_buf_append(b, p, n);
}

/* A string field; an empty one is left out, as proto3 leaves out defaults (an attribute's
 * value is not written by this: in AnyValue's oneof even "" must be present). */
static void put_str_field(mf_buf_t *b, unsigned tag, const char *s, size_t n)
{
    if (!n)
        return;
    size_t clean = utf8_clean_len(s, n);
    put_byte(b, tag);
    put_varint(b, clean);
    put_utf8(b, s, n, clean);
}

/* A nested message: its tag, then room for its length in width bytes, what most messages of
 * its kind need. Returns where the message begins, for msg_close. */
static size_t msg_open(mf_buf_t *b, unsigned tag, size_t width)
{
    put_byte(b, tag);
    mf_buf_reserve(b, width);
    b->len += width;
    return b->len;
}

/* Writes the length of the message begun at start (by msg_open with width) before it; when
 * that length takes another number of bytes than width, the message moves, so that every
 * varint stays minimal. */
static void msg_close(mf_buf_t *b, size_t start, size_t width)
{
    size_t len = b->len - start, need = varint_size(len);
    if (need != width) {
        if (need > width)
            mf_buf_reserve(b, need - width);
        memmove(b->data + start - width + need, b->data + start, len);
        b->len = b->len - width + need;
    }
    write_varint(b->data + start - width, len);
}

/* A KeyValue under tag: sized first (an attribute's value is a leaf, its size known from its
 * cleaned lengths), so that it never moves. */
static void put_attr(mf_buf_t *b, unsigned tag, const mf_span_item_t *it)
{
    size_t key_len = utf8_clean_len(it->key, it->key_len), str_len = 0, value_size;
    switch (it->type) {
    case MF_SPAN_STR:
        str_len = utf8_clean_len(it->str, it->str_len);
        value_size = 1 + varint_size(str_len) + str_len;
        break;
    case MF_SPAN_INT:
        value_size = 1 + varint_size((uint64_t)it->i);
        break;
    case MF_SPAN_DOUBLE:
        value_size = 1 + 8;
        break;
    default:
        value_size = 1 + 1;
        break;
    }
    size_t kv_size = (key_len ? 1 + varint_size(key_len) + key_len : 0) + 1 +
                     varint_size(value_size) + value_size;
    put_byte(b, tag);
    put_varint(b, kv_size);
    if (key_len) {
        put_byte(b, KEY_VALUE_KEY);
        put_varint(b, key_len);
        put_utf8(b, it->key, it->key_len, key_len);
    }
    put_byte(b, KEY_VALUE_VALUE);
    put_varint(b, value_size);
    switch (it->type) {
    case MF_SPAN_STR:
        put_byte(b, ANY_STRING);
        put_varint(b, str_len);
        put_utf8(b, it->str, it->str_len, str_len);
        break;
    case MF_SPAN_INT:
        put_byte(b, ANY_INT);
        put_varint(b, (uint64_t)it->i); /* int64: a negative one in ten bytes */
        break;
    case MF_SPAN_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &it->d, sizeof bits);
        put_byte(b, ANY_DOUBLE);
        put_fixed(b, bits, 8);
        break;
    }
    default:
        put_byte(b, ANY_BOOL);
        put_byte(b, it->i != 0);
        break;
    }
}

/* Ends an event: its count of attributes dropped (field 4, after them) and its length. */
static void event_close(mf_buf_t *b, size_t event, int dropped)
{
    if (dropped) {
        put_byte(b, EVENT_DROPPED_ATTRIBUTES);
        put_varint(b, (uint64_t)dropped);
    }
    msg_close(b, event, 1);
}

/* The span's events, each followed by its attributes among the items. */
static void put_events(mf_buf_t *b, const mf_span_t *s, int64_t wall_offset_ns)
{
    size_t pos = 0, event = 0;
    int dropped = 0; /* the open event's */
    mf_span_item_t it;
    while (mf_span_next_item(s, &pos, &it)) {
        if (it.kind == MF_SPAN_ITEM_EVENT) {
            if (event)
                event_close(b, event, dropped);
            dropped = it.dropped;
            event = msg_open(b, SPAN_EVENTS, 1);
            put_time(b, EVENT_TIME, wall_ns(it.time_ns, wall_offset_ns));
            put_str_field(b, EVENT_NAME, it.key, it.key_len);
        } else if (it.kind == MF_SPAN_ITEM_EVENT_ATTR && event) {
            put_attr(b, EVENT_ATTRIBUTES, &it);
        }
    }
    if (event)
        event_close(b, event, dropped);
}

static void put_span(mf_buf_t *b, const mf_span_t *s, int64_t wall_offset_ns)
{
    /* Fields in field-number order, as protobuf's own serializers write them. */
    size_t span = msg_open(b, SCOPE_SPANS_SPANS, 2);
    put_bytes_field(b, SPAN_TRACE_ID, s->trace_id, sizeof s->trace_id);
    put_bytes_field(b, SPAN_SPAN_ID, s->span_id, sizeof s->span_id);
    if (!all_zero(s->parent_id, sizeof s->parent_id))
        put_bytes_field(b, SPAN_PARENT_SPAN_ID, s->parent_id, sizeof s->parent_id);
    put_str_field(b, SPAN_NAME, s->name, s->name_len);
    if (s->kind) {
        put_byte(b, SPAN_KIND);
        put_varint(b, s->kind);
    }
    put_time(b, SPAN_START_TIME, wall_ns(s->start_ns, wall_offset_ns));
    put_time(b, SPAN_END_TIME, wall_ns(s->end_ns, wall_offset_ns));

    size_t pos = 0;
    mf_span_item_t it;
    while (mf_span_next_item(s, &pos, &it))
        if (it.kind == MF_SPAN_ITEM_ATTR && !it.replaced)
            put_attr(b, SPAN_ATTRIBUTES, &it);
    if (s->dropped_attrs) {
        put_byte(b, SPAN_DROPPED_ATTRIBUTES);
        put_varint(b, s->dropped_attrs);
    }
    if (s->nevents)
        put_events(b, s, wall_offset_ns);
    if (s->dropped_events) {
        put_byte(b, SPAN_DROPPED_EVENTS);
        put_varint(b, s->dropped_events);
    }
    if (s->status != MF_SPAN_UNSET || s->message_len) {
        size_t status = msg_open(b, SPAN_STATUS, 1);
        if (s->message)
            put_str_field(b, STATUS_MESSAGE, s->message, s->message_len);
        if (s->status) {
            put_byte(b, STATUS_CODE);
            put_varint(b, s->status);
        }
        msg_close(b, status, 1);
    }
    put_varint(b, SPAN_FLAGS);
    put_fixed(b, span_flags(s), 4);
    msg_close(b, span, 2);
}

static mf_span_item_t resource_item(const mf_otel_attr_t *a)
{
    mf_span_item_t it = {.kind = MF_SPAN_ITEM_ATTR, .type = MF_SPAN_STR};
    it.key = a->key;
    it.key_len = strlen(a->key);
    if (a->integer) {
        it.type = MF_SPAN_INT;
        it.i = strtoll(a->value, NULL, 10);
        return it;
    }
    it.str = a->value;
    it.str_len = strlen(a->value);
    return it;
}

void mf_otlp_encode_protobuf(mf_buf_t *out, const mf_otlp_source_t *src, const mf_span_t *spans,
                             int64_t wall_offset_ns)
{
    /* A batch's two outer messages are a few hundred KB: three bytes of length. */
    size_t resource_spans = msg_open(out, REQUEST_RESOURCE_SPANS, 3);
    size_t resource = msg_open(out, RESOURCE_SPANS_RESOURCE, 2);
    for (size_t i = 0; i < src->nresource; i++) {
        mf_span_item_t it = resource_item(&src->resource[i]);
        put_attr(out, RESOURCE_ATTRIBUTES, &it);
    }
    msg_close(out, resource, 2);
    size_t scope_spans = msg_open(out, RESOURCE_SPANS_SCOPE_SPANS, 3);
    size_t scope = msg_open(out, SCOPE_SPANS_SCOPE, 1);
    if (src->scope_name)
        put_str_field(out, SCOPE_NAME, src->scope_name, strlen(src->scope_name));
    if (src->scope_version)
        put_str_field(out, SCOPE_VERSION, src->scope_version, strlen(src->scope_version));
    msg_close(out, scope, 1);
    for (const mf_span_t *s = spans; s; s = s->next)
        put_span(out, s, wall_offset_ns);
    msg_close(out, scope_spans, 3);
    msg_close(out, resource_spans, 3);
}

/* ---- JSON ----
 * OTLP's JSON mapping: proto3's (lowerCamelCase names, 64-bit integers as decimal strings,
 * doubles as numbers or "NaN", "Infinity", "-Infinity"), with ids in hex instead of base64 and
 * enums as numbers only. Strings go through mf_jsonbuf_escape. */

#define lit(j, literal) mf_jsonbuf_lit((j), literal)

static void json_str(mf_jsonbuf_t *j, const char *s, size_t n)
{
    lit(j, "\"");
    mf_jsonbuf_escape(j, s, n);
    lit(j, "\"");
}

static void json_hex(mf_jsonbuf_t *j, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char b[2 + 2 * 16];
    size_t len = 0;
    b[len++] = '"';
    for (size_t i = 0; i < n; i++) {
        b[len++] = hex[p[i] >> 4];
        b[len++] = hex[p[i] & 15];
    }
    b[len++] = '"';
    mf_jsonbuf_append(j, b, len);
}

/* A fixed64 as the decimal string proto3's JSON writes. */
static void json_time(mf_jsonbuf_t *j, uint64_t ns)
{
    char b[24], *end = b + sizeof b, *p = end;
    *--p = '"';
    do
        *--p = (char)('0' + ns % 10);
    while (ns /= 10);
    *--p = '"';
    mf_jsonbuf_append(j, p, (size_t)(end - p));
}

static void json_double(mf_jsonbuf_t *j, double v)
{
    if (isnan(v)) {
        lit(j, "\"NaN\"");
    } else if (isinf(v)) {
        if (v > 0)
            lit(j, "\"Infinity\"");
        else
            lit(j, "\"-Infinity\"");
    } else if (v == 0 && signbit(v)) {
        lit(j, "-0.0"); /* "%.17g" gives "-0", which JSON readers take for the integer 0 */
    } else {
        char b[32];
        /* 17 significant digits read back as the same double. */
        mf_jsonbuf_append(j, b, (size_t)snprintf(b, sizeof b, "%.17g", v));
    }
}

static void json_attr(mf_jsonbuf_t *j, const mf_span_item_t *it)
{
    lit(j, "{\"key\":");
    json_str(j, it->key, it->key_len);
    switch (it->type) {
    case MF_SPAN_STR:
        lit(j, ",\"value\":{\"stringValue\":");
        json_str(j, it->str, it->str_len);
        break;
    case MF_SPAN_INT:
        lit(j, ",\"value\":{\"intValue\":\"");
        mf_jsonbuf_append_int(j, it->i);
        lit(j, "\"");
        break;
    case MF_SPAN_DOUBLE:
        lit(j, ",\"value\":{\"doubleValue\":");
        json_double(j, it->d);
        break;
    default:
        if (it->i)
            lit(j, ",\"value\":{\"boolValue\":true");
        else
            lit(j, ",\"value\":{\"boolValue\":false");
        break;
    }
    lit(j, "}}");
}

static void json_event_dropped(mf_jsonbuf_t *j, int dropped)
{
    if (dropped) {
        lit(j, ",\"droppedAttributesCount\":");
        mf_jsonbuf_append_int(j, dropped);
    }
}

static void json_events(mf_jsonbuf_t *j, const mf_span_t *s, int64_t wall_offset_ns)
{
    size_t pos = 0;
    int events = 0, attrs = -1; /* attrs: of the open event; -1: none open */
    int dropped = 0;           /* the open event's */
    mf_span_item_t it;
    lit(j, ",\"events\":[");
    while (mf_span_next_item(s, &pos, &it)) {
        if (it.kind == MF_SPAN_ITEM_EVENT) {
            if (attrs >= 0) {
                lit(j, "]");
                json_event_dropped(j, dropped);
                lit(j, "},");
            }
            dropped = it.dropped;
            lit(j, "{\"timeUnixNano\":");
            json_time(j, wall_ns(it.time_ns, wall_offset_ns));
            lit(j, ",\"name\":");
            json_str(j, it.key, it.key_len);
            lit(j, ",\"attributes\":[");
            events++;
            attrs = 0;
        } else if (it.kind == MF_SPAN_ITEM_EVENT_ATTR && attrs >= 0) {
            if (attrs++)
                lit(j, ",");
            json_attr(j, &it);
        }
    }
    if (events) {
        lit(j, "]");
        json_event_dropped(j, dropped);
        lit(j, "}");
    }
    lit(j, "]");
}

static void json_span(mf_jsonbuf_t *j, const mf_span_t *s, int64_t wall_offset_ns)
{
    lit(j, "{\"traceId\":");
    json_hex(j, s->trace_id, sizeof s->trace_id);
    lit(j, ",\"spanId\":");
    json_hex(j, s->span_id, sizeof s->span_id);
    if (!all_zero(s->parent_id, sizeof s->parent_id)) {
        lit(j, ",\"parentSpanId\":");
        json_hex(j, s->parent_id, sizeof s->parent_id);
    }
    lit(j, ",\"flags\":");
    mf_jsonbuf_append_int(j, span_flags(s));
    lit(j, ",\"name\":");
    json_str(j, s->name, s->name_len);
    lit(j, ",\"kind\":");
    mf_jsonbuf_append_int(j, s->kind);
    lit(j, ",\"startTimeUnixNano\":");
    json_time(j, wall_ns(s->start_ns, wall_offset_ns));
    lit(j, ",\"endTimeUnixNano\":");
    json_time(j, wall_ns(s->end_ns, wall_offset_ns));

    lit(j, ",\"attributes\":[");
    size_t pos = 0;
    int n = 0;
    mf_span_item_t it;
    while (mf_span_next_item(s, &pos, &it)) {
        if (it.kind != MF_SPAN_ITEM_ATTR || it.replaced)
            continue;
        if (n++)
            lit(j, ",");
        json_attr(j, &it);
    }
    lit(j, "]");
    if (s->dropped_attrs) {
        lit(j, ",\"droppedAttributesCount\":");
        mf_jsonbuf_append_int(j, s->dropped_attrs);
    }
    if (s->nevents)
        json_events(j, s, wall_offset_ns);
    if (s->dropped_events) {
        lit(j, ",\"droppedEventsCount\":");
        mf_jsonbuf_append_int(j, s->dropped_events);
    }
    if (s->status != MF_SPAN_UNSET || s->message_len) {
        lit(j, ",\"status\":{\"code\":");
        mf_jsonbuf_append_int(j, s->status);
        if (s->message && s->message_len) {
            lit(j, ",\"message\":");
            json_str(j, s->message, s->message_len);
        }
        lit(j, "}");
    }
    lit(j, "}");
}

void mf_otlp_encode_json(mf_buf_t *out, const mf_otlp_source_t *src, const mf_span_t *spans,
                         int64_t wall_offset_ns)
{
    /* The escaper writes into a jsonbuf's out: lend it ours, and take it back at the end (the
     * jsonbuf's own inline storage is never used). */
    mf_jsonbuf_t j;
    j.out = *out;
    j.fields = 0;
    lit(&j, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    for (size_t i = 0; i < src->nresource; i++) {
        mf_span_item_t it = resource_item(&src->resource[i]);
        if (i)
            lit(&j, ",");
        json_attr(&j, &it);
    }
    lit(&j, "]},\"scopeSpans\":[{\"scope\":{\"name\":");
    const char *name = src->scope_name ? src->scope_name : "";
    const char *version = src->scope_version ? src->scope_version : "";
    json_str(&j, name, strlen(name));
    lit(&j, ",\"version\":");
    json_str(&j, version, strlen(version));
    lit(&j, "},\"spans\":[");
    for (const mf_span_t *s = spans; s; s = s->next) {
        if (s != spans)
            lit(&j, ",");
        json_span(&j, s, wall_offset_ns);
    }
    lit(&j, "]}]}]}");
    *out = j.out;
}
