/* multipart/form-data (http/form.c): the input's first line is a Content-Type value, the rest
 * the body, read from an exact-size copy. Any input parses or is refused with a message; what
 * parses stays within the limits, every part's headers and body lie inside the body in order,
 * header names are tokens, and every byte of a name, a filename and a body is read (so a read
 * past what the parser points at is caught). The boundary the Content-Type names, or "X" when
 * it names none, delimits the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/syntax.h"
#include "http/form.h"

typedef struct {
    const char *body, *end, *last; /* the end of the previous part's body */
    int parts;
    unsigned sum;
} seen_t;

static unsigned sum_of(const char *s, size_t len)
{
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += (unsigned char)s[i];
    return sum;
}

static int inside(const seen_t *s, const char *p, size_t len)
{
    return p >= s->body && p <= s->end && len <= (size_t)(s->end - p);
}

static void on_part(void *ctx, const mf_form_part_t *p)
{
    seen_t *s = ctx;
    if (++s->parts > MF_FORM_MAX_PARTS || p->nheaders < 1 || p->nheaders > MF_FORM_MAX_PART_HEADERS)
        abort();
    if (!inside(s, p->body, p->body_len) || p->body < s->last)
        abort();
    for (int i = 0; i < p->nheaders; i++) {
        const mf_form_header_t *h = &p->headers[i];
        if (!inside(s, h->name, h->name_len) || !inside(s, h->value, h->value_len) ||
            h->value + h->value_len > p->body || h->name < s->last ||
            !mf_syntax_http_header(h->name, h->name_len, h->value, h->value_len))
            abort();
    }
    if (!p->name || p->name_len > MF_FORM_MAX_PART_HEADER_BYTES ||
        p->filename_len > MF_FORM_MAX_PART_HEADER_BYTES ||
        (p->content_type && !inside(s, p->content_type, p->content_type_len)))
        abort();
    s->sum += sum_of(p->name, p->name_len) + sum_of(p->body, p->body_len);
    if (p->filename)
        s->sum += sum_of(p->filename, p->filename_len);
    s->last = p->body + p->body_len;
}

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - (const char *)data) : 0;
    size_t body_len = nl ? size - ct_len - 1 : size;
    char *content_type = malloc(ct_len + 1);
    memcpy(content_type, data, ct_len);
    content_type[ct_len] = '\0';
    char *body = malloc(body_len ? body_len : 1);
    memcpy(body, nl ? nl + 1 : (const char *)data, body_len);

    const char *boundary = "X", *err = NULL;
    size_t boundary_len = 1;
    if (mf_form_boundary(content_type, &boundary, &boundary_len) == 0 &&
        (boundary < content_type || boundary_len < 1 || boundary_len > MF_FORM_MAX_BOUNDARY ||
         boundary + boundary_len > content_type + ct_len))
        abort();
    (void)mf_form_media_type_is(content_type, "multipart/form-data");
    seen_t seen = {body, body + body_len, body, 0, 0};
    int rc = mf_form_multipart_parse(body, body_len, boundary, boundary_len, on_part, &seen, &err);
    if ((rc == 0) == (err != NULL))
        abort();
    free(body);
    free(content_type);
    sink = seen.sum;
    return 0;
}
