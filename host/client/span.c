/* The client span of an attempt (OpenTelemetry's HTTP client conventions), and the traceparent
 * that names it to the upstream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/private.h"

/* url.full as the conventions ask for it: credentials and the query's values replaced by
 * REDACTED (keys stay: they say what was asked, values may be tokens), no fragment. */
static void redact_url(const char *url, mf_buf_t *out)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    mf_buf_append(out, url, (size_t)(p - url));
    size_t auth_len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth_len);
    if (at) {
        mf_buf_lit(out, "REDACTED:REDACTED@");
        auth_len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t path_len = auth_len + strcspn(p + auth_len, "?#");
    mf_buf_append(out, p, path_len);
    p += path_len;
    if (*p != '?')
        return;
    mf_buf_lit(out, "?");
    p++;
    size_t query_len = strcspn(p, "#");
    for (const char *end = p + query_len; p < end;) {
        size_t member = strcspn(p, "&");
        if (p + member > end)
            member = (size_t)(end - p);
        const char *eq = memchr(p, '=', member);
        if (eq) {
            mf_buf_append(out, p, (size_t)(eq - p));
            mf_buf_lit(out, "=REDACTED");
        } else {
            mf_buf_append(out, p, member);
        }
        p += member;
        if (p < end) {
            mf_buf_lit(out, "&");
            p++;
        }
    }
}

void mf_http_client__span_begin(mf_http_xfer_t *x)
{
    const mf_http_call_t *call = &x->call;
    if (!call->traced)
        return;
    mf_span_t *s = mf_span_begin_under(&call->trace_parent, MF_SPAN_CLIENT, call->method,
                                       strlen(call->method));
    x->span = s;
    mf_span_set_str(s, "http.request.method", call->method, strlen(call->method));
    char *url = NULL;
    CURLU *parsed = call->url->text ? NULL : mf_http_url_curl(call->url);
    if (call->url->text || (parsed && curl_url_get(parsed, CURLUPART_URL, &url, 0) == CURLUE_OK)) {
        mf_buf_t full = {0};
        redact_url(call->url->text ? call->url->text : url, &full);
        mf_span_set_str(s, "url.full", full.data, full.len);
        mf_buf_free(&full);
        curl_free(url);
    }
    const char *up = call->url->upstream, *colon = strrchr(up, ':');
    if (colon) {
        size_t host_len = (size_t)(colon - up);
        if (host_len >= 2 && up[0] == '[' && up[host_len - 1] == ']')
            mf_span_set_str(s, "server.address", up + 1, host_len - 2);
        else
            mf_span_set_str(s, "server.address", up, host_len);
        mf_span_set_int(s, "server.port", strtol(colon + 1, NULL, 10));
    }
    if (x->n > 1)
        mf_span_set_int(s, "http.request.resend_count", x->n - 1);
}

int mf_http_client__span_header(const mf_http_xfer_t *x, char *line, size_t size)
{
    if (!x->span || !x->call.propagate || size < 14 + MF_TRACEPARENT_LEN)
        return 0;
    memcpy(line, "traceparent: ", 13);
    mf_span_traceparent(x->span, line + 13);
    return 1;
}

void mf_http_client__span_end(mf_http_xfer_t *x, int aborted)
{
    mf_span_t *s = x->span;
    if (!s)
        return;
    x->span = NULL;
    const mf_http_result_t *res = x->res;
    if (aborted) {
        mf_span_set_str(s, "error.type", "aborted", 7);
        mf_span_error(s, "the call ended before a response", 32);
    } else if (res->err) {
        const char *kind = mf_http_err_name(res->err);
        mf_span_set_str(s, "error.type", kind, strlen(kind));
        mf_span_error(s, res->message, strlen(res->message));
    } else {
        mf_span_set_int(s, "http.response.status_code", res->status);
        if (res->status >= 400) { /* a client span's 4xx is an error too */
            char code[8];
            int n = snprintf(code, sizeof code, "%d", res->status);
            mf_span_set_str(s, "error.type", code, (size_t)n);
            mf_span_error(s, NULL, 0);
        }
    }
    mf_span_end(s);
}
