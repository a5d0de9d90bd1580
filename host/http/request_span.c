/* A request's server span: begun on first use, named and described from the request when it
 * completes (OpenTelemetry's HTTP server conventions). */
#include <stdio.h>
#include <string.h>

#include "base/syntax.h"
#include "http/request.h"
#include "observe/span.h"

struct mf_span *mf_request_span(mf_request_t *r)
{
    if (!r->span && !r->span_done && mf_span_enabled()) {
        const mf_trace_t *t = mf_request_trace(r);
        r->span = mf_span_begin_server(t, r->start_ns, r->method ? r->method : "HTTP",
                                       r->method ? strlen(r->method) : 4);
    }
    return r->span;
}

/* server.address and server.port from the Host header: "name", "name:port", "[v6]:port". */
static void set_server(mf_span_t *s, const char *host)
{
    if (!host || !*host)
        return;
    size_t len = strlen(host);
    const char *port = NULL;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close)
            return;
        if (close[1] == ':')
            port = close + 2;
        mf_span_set_str(s, "server.address", host + 1, (size_t)(close - host - 1));
    } else {
        const char *colon = strchr(host, ':');
        if (colon)
            port = colon + 1;
        mf_span_set_str(s, "server.address", host, colon ? (size_t)(colon - host) : len);
    }
    if (port && *port) {
        long v = 0;
        for (const char *p = port; *p; p++) {
            if (*p < '0' || *p > '9' || v > 65535)
                return;
            v = v * 10 + (*p - '0');
        }
        if (v > 0 && v <= 65535)
            mf_span_set_int(s, "server.port", v);
    }
}

void mf_request_span_end(mf_request_t *r, int64_t end_ns)
{
    if (!r->span && !r->method) /* a connection that ended before its request's head */
        return;
    mf_span_t *s = mf_request_span(r);
    if (!s)
        return;
    const char *method = r->method ? r->method : "";
    /* Any other method is "_OTHER" with the original beside it, so that a client cannot make
     * span names of its own choosing. */
    int known = mf_syntax_http_method(method) != 0;
    /* The route key is "METHOD /pattern" (http/router.h); the span has the pattern. */
    const char *route = r->route ? strchr(r->route, ' ') : NULL;
    if (route)
        route++;
    /* "{method} {route}", or the method alone; mf_span_rename cuts it to the span's bound. */
    char name[2 * (MF_SPAN_NAME_MAX + 1)];
    size_t n = strnlen(known ? method : "HTTP", MF_SPAN_NAME_MAX);
    memcpy(name, known ? method : "HTTP", n);
    if (route) {
        name[n++] = ' ';
        size_t route_len = strnlen(route, MF_SPAN_NAME_MAX);
        memcpy(name + n, route, route_len);
        n += route_len;
    }
    mf_span_rename(s, name, n);
    mf_span_set_str(s, "http.request.method", known ? method : "_OTHER",
                    known ? strlen(method) : 6);
    if (!known && *method)
        mf_span_set_str(s, "http.request.method_original", method, strlen(method));
    mf_span_set_str(s, "url.path", r->target, r->path_len);
    mf_span_set_str(s, "url.scheme", "http", 4);
    if (route)
        mf_span_set_str(s, "http.route", route, strlen(route));
    set_server(s, mf_request_header(r, "Host"));
    char addr[MF_REQUEST_ADDR_MAX];
    if (*mf_request_client_address(r, addr))
        mf_span_set_str(s, "client.address", addr, strlen(addr));
    const char *ua = mf_request_header(r, "User-Agent");
    if (ua)
        mf_span_set_str(s, "user_agent.original", ua, strlen(ua));
    if (r->status) {
        mf_span_set_int(s, "http.response.status_code", r->status);
        if (r->status >= 500 && r->status <= 999) {
            char code[3] = {(char)('0' + r->status / 100), (char)('0' + r->status / 10 % 10),
                            (char)('0' + r->status % 10)};
            mf_span_set_str(s, "error.type", code, 3);
            if (s->status != MF_SPAN_ERROR)
                mf_span_error(s, NULL, 0);
        }
    } else {
        /* The connection ended before a response was queued. */
        mf_span_set_str(s, "error.type", "connection_closed", 17);
        mf_span_error(s, "the connection ended before a response", 38);
    }
    r->span = NULL;
    r->span_done = 1;
    mf_span_end_at(s, end_ns);
}
