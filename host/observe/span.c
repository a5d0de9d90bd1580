#include "observe/span.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/random.h"
#include "observe/otlp_export.h"

/* Records of exported spans, reused by the next spans begun (any thread). */
#define SPARES_MAX 4096
static pthread_mutex_t spares_lock = PTHREAD_MUTEX_INITIALIZER;
static mf_span_t *spares;
static int nspares;

/* Set once before the workers start, read by them after: no lock. */
static int enabled;
static mf_sampler_t sampler;
static uint64_t ratio_bound; /* MF_SAMPLE_RATIO: sampled when the id's value is below it */
static mf_span_limits_t limits;

void mf_span_setup(const mf_sampler_t *s, const mf_span_limits_t *l)
{
    sampler = *s;
    limits = *l;
    /* As OpenTelemetry's TraceIdRatioBased: the trace id's last 8 bytes, big-endian, shifted to
     * 63 bits, against ratio * 2^63; so every service with the same ratio samples the same
     * traces. */
    double r = s->ratio < 0 ? 0 : s->ratio > 1 ? 1 : s->ratio;
    ratio_bound = r >= 1 ? UINT64_MAX : (uint64_t)ldexp(r, 63);
    enabled = 1;
}

int mf_span_enabled(void)
{
    return enabled;
}

int mf_span_sample(const uint8_t trace_id[16], int has_parent, int parent_sampled)
{
    if (has_parent && sampler.parent_based)
        return parent_sampled;
    switch (sampler.kind) {
    case MF_SAMPLE_ALWAYS_ON:
        return 1;
    case MF_SAMPLE_ALWAYS_OFF:
        return 0;
    case MF_SAMPLE_RATIO:
        break;
    }
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = v << 8 | trace_id[i];
    return ratio_bound == UINT64_MAX || (v >> 1) < ratio_bound;
}

/* ---- recording ---- */

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Where a string of n bytes may be cut to at most max without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t at = max;
    while (at > 0 && ((unsigned char)s[at] & 0xc0) == 0x80)
        at--;
    return at;
}

/* A span with a new id, or with none yet when the caller has one (own_id 0). */
static mf_span_t *span_new(int kind, const char *name, size_t len, int64_t start_ns, int own_id)
{
    pthread_mutex_lock(&spares_lock);
    mf_span_t *s = spares;
    if (s) {
        spares = s->next;
        nspares--;
    }
    pthread_mutex_unlock(&spares_lock);
    if (!s)
        s = mf_xmalloc(sizeof *s);
    memset(s, 0, offsetof(mf_span_t, name));
    mf_buf_init(&s->items, s->items_storage, sizeof s->items_storage);
    s->kind = (uint8_t)kind;
    s->start_ns = start_ns;
    mf_span_rename(s, name, len);
    while (own_id && all_zero(s->span_id, sizeof s->span_id))
        mf_random_bytes(s->span_id, sizeof s->span_id);
    return s;
}

mf_span_t *mf_span_begin_server(const mf_trace_t *t, int64_t start_ns, const char *name, size_t len)
{
    if (!enabled || !t->sampled)
        return NULL;
    mf_span_t *s = span_new(MF_SPAN_SERVER, name, len, start_ns, 0);
    memcpy(s->trace_id, t->trace_bytes, sizeof s->trace_id);
    memcpy(s->span_id, t->span_bytes, sizeof s->span_id); /* the id its logs carry */
    if (t->parent_id[0]) {
        memcpy(s->parent_id, t->parent_bytes, sizeof s->parent_id);
        s->parent_remote = 1;
    }
    return s;
}

mf_span_t *mf_span_begin_child(const mf_span_t *parent, int kind, const char *name, size_t len)
{
    if (!parent)
        return NULL;
    mf_span_context_t ctx;
    mf_span_context(parent, &ctx);
    return mf_span_begin_under(&ctx, kind, name, len);
}

void mf_span_context(const mf_span_t *s, mf_span_context_t *out)
{
    memcpy(out->trace_id, s->trace_id, sizeof out->trace_id);
    memcpy(out->span_id, s->span_id, sizeof out->span_id);
}

mf_span_t *mf_span_begin_under(const mf_span_context_t *parent, int kind, const char *name,
                               size_t len)
{
    mf_span_t *s = span_new(kind, name, len, mf_now_ns(), 1);
    memcpy(s->trace_id, parent->trace_id, sizeof s->trace_id);
    memcpy(s->parent_id, parent->span_id, sizeof s->parent_id);
    return s;
}

mf_span_t *mf_span_begin_root(int kind, const char *name, size_t len)
{
    if (!enabled)
        return NULL;
    uint8_t trace_id[16];
    do
        mf_random_bytes(trace_id, sizeof trace_id);
    while (all_zero(trace_id, sizeof trace_id));
    if (!mf_span_sample(trace_id, 0, 0))
        return NULL;
    mf_span_t *s = span_new(kind, name, len, mf_now_ns(), 1);
    memcpy(s->trace_id, trace_id, sizeof trace_id);
    return s;
}

void mf_span_rename(mf_span_t *s, const char *name, size_t len)
{
    if (!s)
        return;
    len = utf8_cut(name, len, MF_SPAN_NAME_MAX);
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    s->name_len = (uint16_t)len;
}

/* ---- items ----
 * An item is a tag byte, then for an attribute (tag 'a'; 'x' once set again, 'A' for an
 * event's) its type byte, its key (u16 length, bytes) and its value (a string as u32 length
 * and bytes; int64, double and bool as 8 bytes); for an event (tag 'e') its time (8 bytes),
 * the count of its attributes dropped (u16) and its name (u16 length, bytes). Numbers are
 * copied in native byte order: the buffer never leaves the process. */

static void put_u16(mf_buf_t *b, size_t v)
{
    uint16_t x = (uint16_t)v;
    mf_buf_append(b, &x, sizeof x);
}

static void put_u32(mf_buf_t *b, size_t v)
{
    uint32_t x = (uint32_t)v;
    mf_buf_append(b, &x, sizeof x);
}

static uint16_t get_u16(const char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t get_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The length of the attribute whose type byte is at p (its tag before it). */
static size_t attr_len(const char *p)
{
    size_t key_len = get_u16(p + 1), n = 1 + 2 + key_len;
    return p[0] == 's' ? n + 4 + get_u32(p + n) : n + 8;
}

/* Marks an earlier value of key replaced, so that the one about to be set is the only one sent
 * and the limit counts keys, not settings. */
static void replace_earlier(mf_span_t *s, const char *key, size_t key_len)
{
    char *p = s->items.data, *end = p + s->items.len;
    while (p < end) {
        char tag = *p++;
        if (tag == 'e') {
            p += 8 + 2;
            p += 2 + get_u16(p);
            continue;
        }
        if (tag == 'a' && get_u16(p + 1) == key_len && !memcmp(p + 3, key, key_len)) {
            p[-1] = 'x';
            s->nattrs--;
            return;
        }
        p += attr_len(p);
    }
}

/* Writes an attribute's tag, type and key: 0, or -1 when the limit on attributes drops it
 * (counted). */
static int attr_begin(mf_span_t *s, const char *key, char type)
{
    size_t key_len = utf8_cut(key, strlen(key), UINT16_MAX);
    if (s->resets)
        replace_earlier(s, key, key_len);
    if (s->nattrs >= limits.attr_count) {
        if (s->dropped_attrs < UINT16_MAX)
            s->dropped_attrs++;
        return -1;
    }
    s->nattrs++;
    char head[2] = {'a', type};
    mf_buf_append(&s->items, head, 2);
    put_u16(&s->items, key_len);
    mf_buf_append(&s->items, key, key_len);
    return 0;
}

void mf_span_set_str(mf_span_t *s, const char *key, const char *value, size_t len)
{
    if (!s)
        return;
    if (attr_begin(s, key, 's'))
        return;
    len = utf8_cut(value, len, limits.value_len);
    put_u32(&s->items, len);
    mf_buf_append(&s->items, value, len);
}

static void set_number(mf_span_t *s, const char *key, char type, const void *v)
{
    if (!s)
        return;
    if (attr_begin(s, key, type))
        return;
    mf_buf_append(&s->items, v, 8);
}

void mf_span_set_int(mf_span_t *s, const char *key, int64_t value)
{
    set_number(s, key, 'i', &value);
}

void mf_span_set_double(mf_span_t *s, const char *key, double value)
{
    set_number(s, key, 'd', &value);
}

void mf_span_set_bool(mf_span_t *s, const char *key, int value)
{
    int64_t v = value != 0;
    set_number(s, key, 'b', &v);
}

void mf_span_event(mf_span_t *s, const char *name, size_t len)
{
    if (!s)
        return;
    if (s->nevents >= limits.event_count) {
        if (s->dropped_events < UINT16_MAX)
            s->dropped_events++;
        s->event_dropped = 1;
        return;
    }
    s->nevents++;
    s->event_attrs = 0;
    s->event_dropped = 0;
    s->last_event = (uint32_t)s->items.len;
    int64_t now = mf_now_ns();
    len = utf8_cut(name, len, UINT16_MAX);
    mf_buf_append(&s->items, "e", 1);
    mf_buf_append(&s->items, &now, sizeof now);
    put_u16(&s->items, 0);
    put_u16(&s->items, len);
    mf_buf_append(&s->items, name, len);
}

void mf_span_event_str(mf_span_t *s, const char *key, const char *value, size_t len)
{
    if (!s || !s->nevents || s->event_dropped)
        return;
    if (s->event_attrs >= limits.event_attr_count) {
        char *dropped = s->items.data + s->last_event + 1 + 8;
        uint16_t n = get_u16(dropped);
        if (n < UINT16_MAX)
            n++;
        memcpy(dropped, &n, sizeof n);
        return;
    }
    s->event_attrs++;
    size_t key_len = utf8_cut(key, strlen(key), UINT16_MAX);
    len = utf8_cut(value, len, limits.value_len);
    mf_buf_append(&s->items, "As", 2);
    put_u16(&s->items, key_len);
    mf_buf_append(&s->items, key, key_len);
    put_u32(&s->items, len);
    mf_buf_append(&s->items, value, len);
}

void mf_span_error(mf_span_t *s, const char *message, size_t len)
{
    if (!s)
        return;
    s->status = MF_SPAN_ERROR;
    free(s->message);
    s->message = NULL;
    s->message_len = 0;
    if (message && len) {
        len = utf8_cut(message, len, limits.value_len);
        s->message = mf_xmalloc(len + 1);
        memcpy(s->message, message, len);
        s->message[len] = '\0';
        s->message_len = (uint32_t)len;
    }
}

void mf_span_ok(mf_span_t *s)
{
    if (!s)
        return;
    mf_span_error(s, NULL, 0);
    s->status = MF_SPAN_OK;
}

void mf_span_traceparent(const mf_span_t *s, char out[MF_TRACEPARENT_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    memcpy(p, "00-", 3);
    p += 3;
    for (int i = 0; i < 16; i++) {
        *p++ = hex[s->trace_id[i] >> 4];
        *p++ = hex[s->trace_id[i] & 15];
    }
    *p++ = '-';
    for (int i = 0; i < 8; i++) {
        *p++ = hex[s->span_id[i] >> 4];
        *p++ = hex[s->span_id[i] & 15];
    }
    memcpy(p, "-01", 4);
}

void mf_span_end_at(mf_span_t *s, int64_t end_ns)
{
    if (!s)
        return;
    s->end_ns = end_ns < s->start_ns ? s->start_ns : end_ns;
    mf_otlp_submit(s);
}

void mf_span_end(mf_span_t *s)
{
    if (s)
        mf_span_end_at(s, mf_now_ns());
}

/* What a span holds besides its record. */
static void span_clear(mf_span_t *s)
{
    free(s->message);
    mf_buf_free(&s->items);
}

void mf_span_free(mf_span_t *s)
{
    if (!s)
        return;
    span_clear(s);
    free(s);
}

void mf_span_free_list(mf_span_t *first)
{
    if (!first)
        return;
    mf_span_t *last = first;
    int n = 1;
    span_clear(first);
    for (; last->next; last = last->next, n++)
        span_clear(last->next);
    pthread_mutex_lock(&spares_lock);
    int keep = nspares + n <= SPARES_MAX;
    if (keep) {
        last->next = spares;
        spares = first;
        nspares += n;
    }
    pthread_mutex_unlock(&spares_lock);
    while (!keep && first) {
        mf_span_t *next = first->next;
        free(first);
        first = next;
    }
}

void mf_span_spares_free(void)
{
    pthread_mutex_lock(&spares_lock);
    mf_span_t *s = spares;
    spares = NULL;
    nspares = 0;
    pthread_mutex_unlock(&spares_lock);
    while (s) {
        mf_span_t *next = s->next;
        free(s);
        s = next;
    }
}

/* ---- reading ---- */

int mf_span_next_item(const mf_span_t *s, size_t *pos, mf_span_item_t *it)
{
    const char *base = s->items.data;
    size_t p = *pos;
    if (p >= s->items.len)
        return 0;
    memset(it, 0, sizeof *it);
    char tag = base[p++];
    if (tag == 'e') {
        it->kind = MF_SPAN_ITEM_EVENT;
        memcpy(&it->time_ns, base + p, 8);
        it->dropped = get_u16(base + p + 8);
        it->key_len = get_u16(base + p + 10);
        it->key = base + p + 12;
        *pos = p + 12 + it->key_len;
        return 1;
    }
    it->kind = tag == 'A' ? MF_SPAN_ITEM_EVENT_ATTR : MF_SPAN_ITEM_ATTR;
    it->replaced = tag == 'x';
    const char *a = base + p;
    it->key_len = get_u16(a + 1);
    it->key = a + 3;
    const char *v = it->key + it->key_len;
    switch (a[0]) {
    case 's':
        it->type = MF_SPAN_STR;
        it->str_len = get_u32(v);
        it->str = v + 4;
        break;
    case 'i':
    case 'b':
        it->type = a[0] == 'i' ? MF_SPAN_INT : MF_SPAN_BOOL;
        memcpy(&it->i, v, 8);
        break;
    default:
        it->type = MF_SPAN_DOUBLE;
        memcpy(&it->d, v, 8);
    }
    *pos = p + attr_len(a);
    return 1;
}
