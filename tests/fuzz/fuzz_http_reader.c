/* The native engine's response reader (client/response.c) on any bytes. The first byte chooses
 * a HEAD or not and the body's bound, the second how the rest is cut into pieces and whether the
 * reading stops at the final head (a streamed call's, whose body is then read on unbounded into
 * a buffer of its own); the rest is what an upstream sent. Read whole and read in pieces (then, if it asked for more, ended), the
 * outcome must be the same: the same kind, and when complete the same status, head, body and
 * keep-alive verdict. Every head line is "name: value" with a lower-case name, the body within
 * its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/private.h"

typedef struct {
    mf_http_read_t kind;
    int keep, status;
    mf_buf_t body, streamed;
} outcome_t;

static void read_all(mf_http_reader_t *r, outcome_t *o, const uint8_t *data, size_t size,
                     int head_only, size_t max_body, unsigned cut, int stream)
{
    const char *why;
    size_t at = 0, used;
    memset(o, 0, sizeof *o);
    mf_http_reader_start(r, head_only, max_body, &o->body);
    r->stop_at_head = stream;
    o->kind = MF_HTTP_READ_MORE;
    while (at < size && o->kind == MF_HTTP_READ_MORE) {
        size_t n = cut ? 1 + (at * 7 + cut) % (cut * 3 + 1) : size;
        if (n > size - at)
            n = size - at;
        o->kind = mf_http_reader_feed(r, (const char *)data + at, n, &o->keep, &why, &used);
        if (o->kind == MF_HTTP_READ_HEAD) {
            if (used > n || o->body.len)
                abort();
            mf_http_reader_body(r, &o->streamed);
            n = used; /* the rest of the piece is read again, as the body */
            o->kind = MF_HTTP_READ_MORE;
        }
        at += n;
        /* A piece that ends where the response ends leaves nothing after it. */
        if (o->kind == MF_HTTP_READ_DONE && at < size)
            o->keep = 0;
    }
    if (o->kind == MF_HTTP_READ_MORE)
        o->kind = mf_http_reader_feed(r, NULL, 0, &o->keep, &why, &used);
    o->status = r->status;
}

static void check_head(const mf_buf_t *h)
{
    if (!h->len)
        return;
    const char *p = h->data, *end = p + h->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            abort(); /* every line ends */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p || colon + 1 >= eol + 1 || colon[1] != ' ')
            abort();
        for (const char *c = p; c < colon; c++)
            if (*c >= 'A' && *c <= 'Z')
                abort();
        p = eol + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int head_only = data[0] & 1;
    size_t max_body = (size_t)(data[0] >> 1) * 64;
    unsigned cut = data[1] % 16 + 1;
    int stream = data[1] >> 7;
    data += 2;
    size -= 2;
    mf_http_reader_t whole = {0}, pieces = {0};
    outcome_t a, b;
    read_all(&whole, &a, data, size, head_only, max_body, 0, stream);
    read_all(&pieces, &b, data, size, head_only, max_body, cut, stream);
    if (a.kind != b.kind)
        abort();
    if (a.streamed.len != b.streamed.len ||
        (a.streamed.len && memcmp(a.streamed.data, b.streamed.data, a.streamed.len)))
        abort();
    if (a.kind == MF_HTTP_READ_DONE) {
        if (a.status != b.status || a.keep != b.keep || a.body.len != b.body.len ||
            (a.body.len && memcmp(a.body.data, b.body.data, a.body.len)) ||
            whole.head.len != pieces.head.len ||
            (whole.head.len && memcmp(whole.head.data, pieces.head.data, whole.head.len)))
            abort();
        if (a.body.len > max_body || (head_only && a.body.len))
            abort();
        check_head(&whole.head);
    }
    mf_buf_free(&a.body);
    mf_buf_free(&b.body);
    mf_buf_free(&a.streamed);
    mf_buf_free(&b.streamed);
    mf_http_reader_free(&whole);
    mf_http_reader_free(&pieces);
    return 0;
}
