#include "observe/trace.h"

#include <string.h>

#include "base/random.h"
#include "base/syntax.h"
#include "observe/span.h"

/* n lowercase hex digits at s; uppercase is invalid in traceparent. */
static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int bytes_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* The n bytes the 2n hex digits at hex (checked already) stand for. */
static void unhex(uint8_t *out, const char *hex, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] =
            (uint8_t)(mf_syntax_hex_digit(hex[2 * i]) << 4 | mf_syntax_hex_digit(hex[2 * i + 1]));
}

static int all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return 0;
    return 1;
}

int mf_trace_parse(const char *v, size_t len, mf_trace_t *t)
{
    if (!v || len < MF_TRACEPARENT_LEN || !lower_hex(v, 2) || !memcmp(v, "ff", 2))
        return -1;
    /* Version 00 has exactly these fields; a later version may append "-..." after them. */
    if (!memcmp(v, "00", 2) ? len != MF_TRACEPARENT_LEN
                            : len > MF_TRACEPARENT_LEN && v[MF_TRACEPARENT_LEN] != '-')
        return -1;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-')
        return -1;
    if (!lower_hex(v + 3, 32) || !lower_hex(v + 36, 16) || !lower_hex(v + 53, 2))
        return -1;
    if (all_zero(v + 3, 32) || all_zero(v + 36, 16))
        return -1;
    memcpy(t->trace_id, v + 3, 32);
    t->trace_id[32] = '\0';
    memcpy(t->parent_id, v + 36, 16);
    t->parent_id[16] = '\0';
    unhex(t->trace_bytes, t->trace_id, sizeof t->trace_bytes);
    unhex(t->parent_bytes, t->parent_id, sizeof t->parent_bytes);
    t->sampled = (mf_syntax_hex_digit(v[54]) & 1) != 0;
    return 0;
}

/* An id of n random bytes, not all zero, into bytes and as 2n hex digits and a NUL into hex. */
static void new_id(uint8_t *bytes, char *hex, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    do
        mf_random_bytes(bytes, n);
    while (bytes_zero(bytes, n));
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[2 * n] = '\0';
}

void mf_trace_begin(mf_trace_t *t, const char *traceparent)
{
    int continued = traceparent && !mf_trace_parse(traceparent, strlen(traceparent), t);
    if (!continued) {
        new_id(t->trace_bytes, t->trace_id, sizeof t->trace_bytes);
        t->parent_id[0] = '\0';
        memset(t->parent_bytes, 0, sizeof t->parent_bytes);
        t->sampled = 0;
    }
    if (mf_span_enabled())
        t->sampled = mf_span_sample(t->trace_bytes, continued, t->sampled);
    new_id(t->span_bytes, t->span_id, sizeof t->span_bytes);
    char *p = t->traceparent;
    memcpy(p, "00-", 3);
    memcpy(p + 3, t->trace_id, 32);
    p[35] = '-';
    memcpy(p + 36, t->span_id, 16);
    memcpy(p + 52, t->sampled ? "-01" : "-00", 4);
}

int mf_trace_state_ok(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++)
        if (n >= MF_TRACESTATE_MAX || (unsigned char)v[n] < 0x20 || (unsigned char)v[n] > 0x7e)
            return 0;
    return n > 0;
}
