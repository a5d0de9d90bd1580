#define _GNU_SOURCE /* memmem */
#include "http/form.h"

#include <string.h>
#include <strings.h>

#include "base/syntax.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && is_space(*p))
        p++;
    return p;
}

static int token_char(char c)
{
    return mf_syntax_http_token(&c, 1);
}

/* ---- Content-Type ---- */

int mf_form_media_type_is(const char *content_type, const char *type)
{
    if (!content_type)
        return 0;
    const char *end = content_type + strlen(content_type);
    const char *p = skip_spaces(content_type, end);
    size_t n = strlen(type);
    if ((size_t)(end - p) < n || strncasecmp(p, type, n))
        return 0;
    p = skip_spaces(p + n, end);
    return p == end || *p == ';';
}

/* RFC 2046's bchars: a space anywhere but last. */
static int boundary_ok(const char *b, size_t len)
{
    static const char extra[] = "'()+_,-./:=? ";
    if (len == 0 || len > MF_FORM_MAX_BOUNDARY || b[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
              (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

int mf_form_boundary(const char *content_type, const char **boundary, size_t *len)
{
    if (!content_type)
        return -1;
    const char *end = content_type + strlen(content_type);
    const char *p = memchr(content_type, ';', (size_t)(end - content_type));
    while (p && p < end) {
        const char *name = skip_spaces(p + 1, end);
        const char *eq = name;
        while (eq < end && token_char(*eq))
            eq++;
        size_t name_len = (size_t)(eq - name);
        eq = skip_spaces(eq, end);
        if (eq == end || *eq != '=')
            return -1;
        const char *v = skip_spaces(eq + 1, end), *v_end;
        if (v < end && *v == '"') {
            v++;
            v_end = memchr(v, '"', (size_t)(end - v));
            if (!v_end)
                return -1;
            p = memchr(v_end, ';', (size_t)(end - v_end));
        } else {
            p = memchr(v, ';', (size_t)(end - v));
            v_end = p ? p : end;
            while (v_end > v && is_space(v_end[-1]))
                v_end--;
        }
        if (name_len == 8 && !strncasecmp(name, "boundary", 8)) {
            if (!boundary_ok(v, (size_t)(v_end - v)))
                return -1;
            *boundary = v;
            *len = (size_t)(v_end - v);
            return 0;
        }
    }
    return -1;
}

/* ---- Content-Disposition: form-data; name="..."; filename="..." ---- */

/* Reads one parameter value at *p (a token or a quoted string), decoded into out, which has
 * room for the rest of the value; returns its length, or -1 for an unterminated quoted string
 * or an empty token. */
static long read_param_value(const char **p, const char *end, char *out)
{
    const char *s = *p;
    size_t n = 0;
    if (s < end && *s == '"') {
        for (s++; s < end && *s != '"'; s++) {
            if (*s == '\\' && s + 1 < end && (s[1] == '"' || s[1] == '\\'))
                s++;
            out[n++] = *s;
        }
        if (s == end)
            return -1;
        *p = s + 1;
        return (long)n;
    }
    while (s < end && *s != ';' && !is_space(*s))
        out[n++] = *s++;
    *p = s;
    return n ? (long)n : -1;
}

static const char *parse_disposition(const char *v, size_t len, char *scratch, mf_form_part_t *part)
{
    const char *end = v + len, *p = v;
    while (p < end && token_char(*p))
        p++;
    if (p - v != 9 || strncasecmp(v, "form-data", 9))
        return "a part's Content-Disposition is not form-data";
    size_t used = 0;
    for (p = skip_spaces(p, end); p < end;) {
        if (*p != ';')
            return "a part's Content-Disposition is malformed";
        p = skip_spaces(p + 1, end);
        if (p == end)
            break;
        const char *name = p;
        while (p < end && token_char(*p) && *p != '=')
            p++;
        size_t name_len = (size_t)(p - name);
        p = skip_spaces(p, end);
        if (!name_len || p == end || *p != '=')
            return "a part's Content-Disposition is malformed";
        p = skip_spaces(p + 1, end);
        char *out = scratch + used;
        long n = read_param_value(&p, end, out);
        if (n < 0)
            return "a part's Content-Disposition is malformed";
        /* The first of a repeated parameter wins; filename* (RFC 5987) is not read, as RFC
         * 7578 tells senders not to use it. */
        if (name_len == 4 && !strncasecmp(name, "name", 4) && !part->name) {
            part->name = out, part->name_len = (size_t)n, used += (size_t)n;
        } else if (name_len == 8 && !strncasecmp(name, "filename", 8) && !part->filename) {
            part->filename = out, part->filename_len = (size_t)n, used += (size_t)n;
        }
        p = skip_spaces(p, end);
    }
    if (!part->name)
        return "a part's Content-Disposition has no name";
    return NULL;
}

/* ---- the parts ---- */

/* Reads a part's header lines at *pos, up to and including the blank line. */
static const char *read_headers(const char *body, size_t len, size_t *pos,
                                mf_form_header_t *headers, int *nheaders)
{
    size_t start = *pos;
    *nheaders = 0;
    for (;;) {
        size_t budget = MF_FORM_MAX_PART_HEADER_BYTES - (*pos - start);
        size_t window = len - *pos < budget ? len - *pos : budget;
        const char *line = body + *pos;
        const char *eol = memmem(line, window, "\r\n", 2);
        if (!eol)
            return len - *pos < budget ? "the body ends in a part's headers"
                                       : "a part's headers are longer than 8 KiB";
        size_t line_len = (size_t)(eol - line);
        *pos += line_len + 2;
        if (line_len == 0)
            return NULL;
        const char *colon = memchr(line, ':', line_len);
        if (!colon)
            return "a part's header line has no colon";
        if (!mf_syntax_http_token(line, (size_t)(colon - line)))
            return "a part's header name is not a token";
        const char *v = skip_spaces(colon + 1, eol), *v_end = eol;
        while (v_end > v && is_space(v_end[-1]))
            v_end--;
        if (!mf_syntax_http_value(v, (size_t)(v_end - v)))
            return "a part's header value holds a control byte";
        if (*nheaders == MF_FORM_MAX_PART_HEADERS)
            return "a part has more than 32 headers";
        headers[*nheaders] =
            (mf_form_header_t){line, (size_t)(colon - line), v, (size_t)(v_end - v)};
        (*nheaders)++;
    }
}

static const mf_form_header_t *find_header(const mf_form_header_t *h, int n, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < n; i++)
        if (h[i].name_len == len && !strncasecmp(h[i].name, name, len))
            return &h[i];
    return NULL;
}

int mf_form_multipart_parse(const char *body, size_t len, const char *boundary, size_t boundary_len,
                            mf_form_on_part_fn on_part, void *ctx, const char **err)
{
    char delim[4 + MF_FORM_MAX_BOUNDARY];
    mf_form_header_t headers[MF_FORM_MAX_PART_HEADERS];
    /* Decoded parameters are never longer than the header block they come from. */
    char scratch[MF_FORM_MAX_PART_HEADER_BYTES];
    size_t pos;

    if (!boundary_ok(boundary, boundary_len)) {
        *err = "the boundary is not 1 to 70 of RFC 2046's characters";
        return -1;
    }
    /* Each part ends at CRLF "--" boundary: the body may hold anything else. */
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, boundary_len);
    size_t dlen = boundary_len + 4;
    if (len >= dlen - 2 && !memcmp(body, delim + 2, dlen - 2)) {
        pos = dlen - 2;
    } else {
        const char *d = memmem(body, len, delim, dlen);
        if (!d) {
            *err = "no boundary line";
            return -1;
        }
        pos = (size_t)(d - body) + dlen;
    }
    for (int nparts = 0;; nparts++) {
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
            return 0; /* the closing boundary; what follows is the epilogue */
        while (pos < len && is_space(body[pos]))
            pos++;
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n') {
            *err = pos == len ? "no closing boundary" : "a boundary line does not end in CRLF";
            return -1;
        }
        pos += 2;
        if (nparts == MF_FORM_MAX_PARTS) {
            *err = "more than 1000 parts";
            return -1;
        }
        mf_form_part_t part = {.headers = headers};
        if ((*err = read_headers(body, len, &pos, headers, &part.nheaders)))
            return -1;
        const mf_form_header_t *cd = find_header(headers, part.nheaders, "content-disposition");
        if (!cd) {
            *err = "a part has no Content-Disposition";
            return -1;
        }
        if ((*err = parse_disposition(cd->value, cd->value_len, scratch, &part)))
            return -1;
        const mf_form_header_t *ct = find_header(headers, part.nheaders, "content-type");
        if (ct) {
            part.content_type = ct->value;
            part.content_type_len = ct->value_len;
        }
        const char *d = memmem(body + pos, len - pos, delim, dlen);
        if (!d) {
            *err = "no closing boundary";
            return -1;
        }
        part.body = body + pos;
        part.body_len = (size_t)(d - part.body);
        on_part(ctx, &part);
        pos = (size_t)(d - body) + dlen;
    }
}
