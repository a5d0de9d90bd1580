/* A response read from its bytes, for the native engine: Node's http-parser (as Debian packages
 * it) does the framing (Content-Length, chunked, until close; interim heads; HEAD); this file
 * keeps what a call hands over: the final head's lines, as libcurl hands them over, and the body
 * within its bound. No I/O here: tests/fuzz/fuzz_http_reader.c feeds it any bytes, in any
 * pieces. */
#include <string.h>

#include "client/private.h"

static const http_parser_settings settings;

enum { NO_LINE, IN_NAME, IN_VALUE }; /* where in a header line the last piece was */

void mf_http_reader_start(mf_http_reader_t *r, int head_only, size_t max_body, mf_buf_t *body)
{
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    r->head_only = head_only;
    r->max_body = max_body;
    r->head.len = 0;
    r->body = body;
    body->len = 0;
    r->in_line = NO_LINE;
    r->switched = 0;
    r->stop_at_head = 0;
    r->head_done = 0;
    r->head_complete = 0;
    r->in_body = 0;
    r->status = 0;
    r->complete = 0;
    r->too_large = 0;
}

void mf_http_reader_body(mf_http_reader_t *r, mf_buf_t *body)
{
    r->in_body = 1;
    r->body = body;
    r->max_body = (size_t)-1;
    if (HTTP_PARSER_ERRNO(&r->parser) == HPE_PAUSED) /* http-parser asserts on any other */
        http_parser_pause(&r->parser, 0);
}

void mf_http_reader_free(mf_http_reader_t *r)
{
    mf_buf_free(&r->head);
}

mf_http_read_t mf_http_reader_feed(mf_http_reader_t *r, const char *data, size_t n, int *keep,
                                   const char **why, size_t *used)
{
    http_parser *p = &r->parser;
    size_t consumed = http_parser_execute(p, &settings, data, n);
    enum http_errno e = HTTP_PARSER_ERRNO(p);
    *keep = 0;
    if (r->head_done && !r->in_body) {
        *used = consumed;
        return MF_HTTP_READ_HEAD;
    }
    if (r->complete) {
        /* Bytes after the response, or a response that ends with its connection, leave the
         * connection to no other exchange. */
        *keep = consumed == n && n > 0 && http_should_keep_alive(p);
        return MF_HTTP_READ_DONE;
    }
    if (r->too_large)
        return MF_HTTP_READ_TOO_LARGE;
    if (r->switched || p->upgrade) {
        *why = "it switches protocols (101), which no call asked for";
        return MF_HTTP_READ_BAD;
    }
    if (n == 0 || e == HPE_INVALID_EOF_STATE)
        return MF_HTTP_READ_CUT;
    if (e != HPE_OK) {
        *why = http_errno_description(e);
        return MF_HTTP_READ_BAD;
    }
    return MF_HTTP_READ_MORE;
}

const char *mf_http_reader_header(const mf_http_reader_t *r, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    if (!r->head.len)
        return NULL;
    const char *p = r->head.data, *end = p + r->head.len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) >= nl + 2 && !memcmp(p, name, nl) && p[nl] == ':') {
            *len = (size_t)(eol - p) - nl - 2;
            return p + nl + 2;
        }
        p = eol + 1;
    }
    return NULL;
}

/* ---- http-parser's callbacks ---- */

/* A header line ends: its value without trailing blanks, as libcurl hands values over; a name
 * without a value gets an empty one. */
static void end_line(mf_http_reader_t *r)
{
    mf_buf_t *h = &r->head;
    if (r->in_line == NO_LINE)
        return;
    if (r->in_line == IN_NAME) {
        mf_buf_lit(h, ": ");
        r->value_at = h->len;
    }
    while (h->len > r->value_at && (h->data[h->len - 1] == ' ' || h->data[h->len - 1] == '\t'))
        h->len--;
    mf_buf_lit(h, "\n");
    r->in_line = NO_LINE;
}

/* A name may come in pieces, and so may a value: the line goes on until the other begins. */
static int on_header_field(http_parser *p, const char *at, size_t len)
{
    mf_http_reader_t *r = p->data;
    mf_buf_t *h = &r->head;
    if (r->head_complete)
        return 0; /* a chunked body's trailers: libcurl leaves them out of the head too */
    if (r->in_line == IN_VALUE)
        end_line(r);
    r->in_line = IN_NAME;
    mf_buf_reserve(h, len);
    for (size_t i = 0; i < len; i++) {
        char ch = at[i];
        h->data[h->len++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    mf_http_reader_t *r = p->data;
    if (r->head_complete)
        return 0;
    if (r->in_line != IN_VALUE) {
        mf_buf_lit(&r->head, ": ");
        r->value_at = r->head.len;
        r->in_line = IN_VALUE;
    }
    mf_buf_append(&r->head, at, len);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    mf_http_reader_t *r = p->data;
    end_line(r);
    r->status = (int)p->status_code;
    if (p->status_code == 101 || p->upgrade) {
        r->switched = 1; /* to a protocol no call asked for */
        return -1;
    }
    if (p->status_code >= 100 && p->status_code < 200)
        return 1; /* an interim head, dropped when it completes: it ends with its header section
                   * (RFC 9110 15.2), whatever framing header it carries */
    r->head_complete = 1;
    if (r->stop_at_head) { /* the caller decides whether the body is read, and its bound */
        r->head_done = 1;
        http_parser_pause(p, 1);
        return r->head_only ? 1 : 0;
    }
    if (r->head_only)
        return 1; /* no body follows */
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->max_body) {
        r->too_large = 1;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    mf_http_reader_t *r = p->data;
    if (len > r->max_body - r->body->len) {
        r->too_large = 1;
        return -1;
    }
    mf_buf_append(r->body, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    mf_http_reader_t *r = p->data;
    if (p->status_code >= 100 && p->status_code < 200) {
        r->head.len = 0;
        return 0;
    }
    r->complete = 1;
    http_parser_pause(p, 1); /* what follows is not this exchange's */
    return 0;
}

static const http_parser_settings settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};
