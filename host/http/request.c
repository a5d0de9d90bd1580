#include "http/request.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/random.h"
#include "observe/metrics.h"
#include "observe/span.h"

/* ---- building ---- */

void mf_request_begin(mf_request_t *r, const char *target)
{
    /* Field by field: a reused request is not cleared whole, its buffers are large. */
    r->conn = NULL;
    r->fields = NULL;
    r->method = NULL;
    r->query = NULL;
    r->query_len = 0;
    r->id[0] = '\0';
    mf_buf_init(&r->body, NULL, 0);
    r->headers_done = 0;
    r->body_too_large = 0;
    r->match.handler = NULL;
    r->match.route = NULL;
    r->match.nparams = 0;
    r->status = 0;
    r->route = NULL;
    r->metric_route = MF_METRICS_UNMATCHED;
    r->trace_done = 0;
    r->span = NULL;
    r->span_done = 0;
    r->method_copy = NULL;
    r->start_ns = mf_now_ns();
    /* absolute-form (a proxy's request line): keep only the path */
    if (!strncmp(target, "http://", 7) || !strncmp(target, "https://", 8)) {
        const char *slash = strchr(strstr(target, "//") + 2, '/');
        target = slash ? slash : "/";
    }
    size_t len = strlen(target);
    r->target = len < sizeof r->target_buf ? memcpy(r->target_buf, target, len + 1)
                                           : mf_xstrndup(target, len);
    char *hash = strchr(r->target, '#'); /* a fragment is the client's own; none is sent */
    if (hash)
        *hash = '\0';
    char *q = strchr(r->target, '?');
    if (q) {
        r->path_len = (size_t)(q - r->target);
        r->query = q + 1;
        r->query_len = strlen(q + 1);
    } else {
        r->path_len = strlen(r->target);
    }
}

void mf_request_begin_local(mf_request_t *r, const char *method, const char *target,
                            const char *const *fields, const char *body, size_t body_len,
                            size_t max_body)
{
    mf_request_begin(r, target);
    r->method = method;
    r->fields = fields;
    if (body_len)
        mf_request_body_add(r, body, body_len, max_body);
}

void mf_request_body_add(mf_request_t *r, const char *data, size_t n, size_t max_body)
{
    if (r->body_too_large)
        return;
    if (r->body.len + n > max_body) {
        /* Kept no further: the caller refuses it at once when it can, or after the rest is
         * read (a chunked body past the limit). */
        r->body_too_large = 1;
        mf_buf_free(&r->body);
        return;
    }
    mf_buf_append(&r->body, data, n);
}

void mf_request_end(mf_request_t *r)
{
    if (r->target != r->target_buf)
        free(r->target);
    mf_buf_free(&r->body);
    mf_span_free(r->span); /* a span its owner did not end (mf_request_span_end) is not sent */
    r->span = NULL;
    free(r->method_copy);
    r->method_copy = NULL;
}

void mf_request_detach(mf_request_t *r)
{
    if (r->method && !r->method_copy)
        r->method = r->method_copy = mf_xstrdup(r->method);
    r->conn = NULL;
}

/* ---- reading ---- */

/* Dotted quad into buf: what inet_ntop writes, without its printf (every traced request). */
static void format_ipv4(const struct in_addr *a, char *buf)
{
    const unsigned char *b = (const unsigned char *)&a->s_addr;
    char *p = buf;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
}

const char *mf_request_client_address(const mf_request_t *r, char buf[MF_REQUEST_ADDR_MAX])
{
    buf[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            format_ipv4(&((const struct sockaddr_in *)sa)->sin_addr, buf);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                      MF_REQUEST_ADDR_MAX);
    }
    return buf;
}

static int request_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= MF_REQUEST_ID_MAX ||
            !(c == '-' || c == '_' || c == '.' || c == ':' || (c >= '0' && c <= '9') ||
              ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return 0;
    }
    return n > 0;
}

const char *mf_request_id(mf_request_t *r)
{
    if (!r->id[0]) {
        const char *given = mf_request_header(r, "X-Request-Id");
        if (given && request_id_ok(given))
            strcpy(r->id, given);
        else
            mf_random_hex(r->id, 16);
    }
    return r->id;
}

const char *mf_request_field(const mf_request_t *r, const char *name)
{
    for (const char *const *f = r->fields; f && f[0]; f += 2)
        if (!strcasecmp(f[0], name))
            return f[1];
    return NULL;
}

const char *mf_request_header(const mf_request_t *r, const char *name)
{
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name)
                   : mf_request_field(r, name);
}

const mf_trace_t *mf_request_trace(mf_request_t *r)
{
    if (!r->trace_done) {
        mf_trace_begin(&r->trace, mf_request_header(r, "traceparent"));
        r->trace_done = 1;
    }
    return &r->trace;
}
