#include "base/jsonbuf.h"

#include <stdio.h>
#include <string.h>

void mf_jsonbuf_open(mf_jsonbuf_t *j)
{
    mf_buf_init(&j->out, j->inline_buf, sizeof j->inline_buf);
    j->fields = 0;
    mf_jsonbuf_append(j, "{", 1);
}

size_t mf_utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (avail < n)
        return 0;
    cp = c & (0x3f >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII but '"' and '\\'. A table:
 * every byte of every string of every log line goes through this test. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70: DEL */
    /* 0x80-0xff: UTF-8, checked sequence by sequence */
};

void mf_jsonbuf_escape(mf_jsonbuf_t *j, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        /* Plain bytes copied one by one into room for all that is left (mostly all of it):
         * cheaper than finding the run's end first and copying it with a call. */
        mf_buf_reserve(&j->out, (size_t)(end - p));
        char *o = j->out.data + j->out.len;
        size_t n = 0, left = (size_t)(end - p);
        while (n < left && plain[p[n]]) {
            o[n] = (char)p[n];
            n++;
        }
        j->out.len += n;
        p += n;
        if (p >= end)
            break;
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            mf_jsonbuf_append(j, e, 2);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (named) {
                mf_jsonbuf_append(j, named, 2);
            } else {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                mf_jsonbuf_append(j, e, 6);
            }
            p++;
        } else {
            size_t seq = mf_utf8_seq(p, (size_t)(end - p));
            if (seq) {
                mf_jsonbuf_append(j, (const char *)p, seq);
                p += seq;
            } else {
                mf_jsonbuf_append(j, "\\ufffd", 6);
                p++;
            }
        }
    }
}

static void key(mf_jsonbuf_t *j, const char *k)
{
    if (j->fields++)
        mf_jsonbuf_append(j, ",", 1);
    mf_jsonbuf_append(j, "\"", 1);
    mf_jsonbuf_escape(j, k, strlen(k));
    mf_jsonbuf_append(j, "\":", 2);
}

void mf_jsonbuf_str(mf_jsonbuf_t *j, const char *k, const char *s, size_t len)
{
    key(j, k);
    mf_jsonbuf_append(j, "\"", 1);
    mf_jsonbuf_escape(j, s, len);
    mf_jsonbuf_append(j, "\"", 1);
}

void mf_jsonbuf_cstr(mf_jsonbuf_t *j, const char *k, const char *s)
{
    mf_jsonbuf_str(j, k, s, strlen(s));
}

/* The decimal digits of v, written backwards so that they end at end; returns the first. */
static char *digits(char *end, uint64_t v)
{
    do
        *--end = (char)('0' + v % 10);
    while (v /= 10);
    return end;
}

/* Numbers without printf: a log line has a few, and printf's parsing costs more than they. */
void mf_jsonbuf_append_int(mf_jsonbuf_t *j, int64_t v)
{
    char b[24], *end = b + sizeof b;
    char *p = digits(end, v < 0 ? -(uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--p = '-';
    mf_jsonbuf_append(j, p, (size_t)(end - p));
}

void mf_jsonbuf_append_milli(mf_jsonbuf_t *j, int64_t v)
{
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    char b[28], *end = b + sizeof b;
    end[-1] = (char)('0' + u % 10);
    end[-2] = (char)('0' + u / 10 % 10);
    end[-3] = (char)('0' + u / 100 % 10);
    end[-4] = '.';
    char *p = digits(end - 4, u / 1000);
    if (v < 0)
        *--p = '-';
    mf_jsonbuf_append(j, p, (size_t)(end - p));
}

void mf_jsonbuf_int(mf_jsonbuf_t *j, const char *k, int64_t v)
{
    key(j, k);
    mf_jsonbuf_append_int(j, v);
}

void mf_jsonbuf_num(mf_jsonbuf_t *j, const char *k, double v)
{
    char b[40];
    key(j, k);
    if (v != v || v > 1e300 || v < -1e300)
        mf_jsonbuf_append(j, "null", 4);
    else
        mf_jsonbuf_append(j, b, (size_t)snprintf(b, sizeof b, "%.17g", v));
}

void mf_jsonbuf_bool(mf_jsonbuf_t *j, const char *k, int v)
{
    key(j, k);
    mf_jsonbuf_append(j, v ? "true" : "false", v ? 4 : 5);
}

void mf_jsonbuf_raw(mf_jsonbuf_t *j, const char *k, const char *json, size_t len)
{
    key(j, k);
    mf_jsonbuf_append(j, json, len);
}

void mf_jsonbuf_begin(mf_jsonbuf_t *j, const char *k)
{
    key(j, k);
    mf_jsonbuf_append(j, "{", 1);
    j->fields = 0;
}

void mf_jsonbuf_end(mf_jsonbuf_t *j)
{
    mf_jsonbuf_append(j, "}", 1);
    j->fields = 1; /* the enclosing object has at least this field */
}

char *mf_jsonbuf_close(mf_jsonbuf_t *j, size_t *len)
{
    mf_jsonbuf_append(j, "}", 1);
    return mf_buf_take(&j->out, len);
}

void mf_jsonbuf_discard(mf_jsonbuf_t *j)
{
    mf_buf_free(&j->out);
}
