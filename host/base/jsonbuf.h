/* A JSON object written into a growable buffer: log lines and the host's error bodies. Strings
 * are escaped so that no input can break the object: quotes, backslashes and control bytes
 * escaped, invalid UTF-8 replaced by U+FFFD. Lives on the caller's stack. */
#ifndef MF_JSONBUF_H
#define MF_JSONBUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct {
    mf_buf_t out; /* the text so far, in inline_buf while it fits */
    int fields;
    char inline_buf[1024];
} mf_jsonbuf_t;

/* Appends raw bytes (no escaping, no separator). Inline: the host's lines are mostly literal
 * pieces of a few bytes, which the compiler then copies without a call. */
static inline void mf_jsonbuf_append(mf_jsonbuf_t *j, const char *s, size_t n)
{
    mf_buf_append(&j->out, s, n);
}

/* Appends a string literal. */
#define mf_jsonbuf_lit(j, literal) mf_jsonbuf_append((j), "" literal, sizeof(literal) - 1)

void mf_jsonbuf_open(mf_jsonbuf_t *j);
void mf_jsonbuf_str(mf_jsonbuf_t *j, const char *key, const char *s, size_t len);
void mf_jsonbuf_cstr(mf_jsonbuf_t *j, const char *key, const char *s);
void mf_jsonbuf_int(mf_jsonbuf_t *j, const char *key, int64_t v);
void mf_jsonbuf_num(mf_jsonbuf_t *j, const char *key, double v);
void mf_jsonbuf_bool(mf_jsonbuf_t *j, const char *key, int v);
/* key and an already encoded JSON value */
void mf_jsonbuf_raw(mf_jsonbuf_t *j, const char *key, const char *json, size_t len);
/* A nested object under key: fields written until mf_jsonbuf_end go into it. */
void mf_jsonbuf_begin(mf_jsonbuf_t *j, const char *key);
void mf_jsonbuf_end(mf_jsonbuf_t *j);
/* Appends s as the inside of a JSON string. */
void mf_jsonbuf_escape(mf_jsonbuf_t *j, const char *s, size_t len);
/* Appends a number as a JSON value: v; v / 1000 with exactly three decimals ("12.345" for 12345,
 * "-0.007" for -7). */
void mf_jsonbuf_append_int(mf_jsonbuf_t *j, int64_t v);
void mf_jsonbuf_append_milli(mf_jsonbuf_t *j, int64_t v);
/* Closes the object and returns it as a malloc'd NUL-terminated string the caller frees
 * (*len gets its length when not NULL); j is finished. */
char *mf_jsonbuf_close(mf_jsonbuf_t *j, size_t *len);
/* Length of the valid UTF-8 sequence at s (1..4 bytes of avail), or 0 when it is not one. */
size_t mf_utf8_seq(const unsigned char *s, size_t avail);
/* Frees what j allocated without producing anything. */
void mf_jsonbuf_discard(mf_jsonbuf_t *j);

#endif
