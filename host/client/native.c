/* The native engine's exchange: a plain http:// call's attempt on a worker's loop without
 * libcurl. The request is written by hand, the response read with http-parser (Node's, packaged
 * by Debian), redirects followed within the attempt as libcurl follows them (a redirect to
 * https goes on in libcurl), a reused connection that turns out closed tried again once on a new
 * one. What an attempt is (its timeout, its outcome, retries, the breaker, its span) is
 * call.c's, shared with libcurl's calls. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "client/private.h"

#define SCRATCH 65536 /* read at most this much per readiness */

/* ---- the attempt's end ---- */

/* The attempt ends: with the response in x (err NONE) or with err. The connection goes back to
 * its pool when the exchange left it clean. */
static void attempt_end(mf_http_xfer_t *x, mf_http_err_t err, const char *detail, int keep)
{
    mf_http_native_t *nat = &x->nat;
    mf_http_result_t *res = x->res;
    mf_loop_timer_stop(x->c->loop, &nat->timer);
    mf_http_client__conn_forget(x);
    if (nat->conn)
        mf_http_client__conn_put(x, keep && !err);
    mf_http_url_free(&nat->hop_url);
    if (nat->in_body) { /* a streamed body ended: its head was the attempt's outcome */
        nat->in_body = 0;
        mf_http_client__stream_end(x, err, detail);
        return;
    }
    free(res->headers);
    res->headers = NULL;
    res->headers_len = 0;
    res->status = 0;
    res->err = MF_HTTP_ERR_NONE;
    if (err) {
        mf_http_client__attempt_error(x, err, detail);
    } else {
        res->status = nat->reader.status;
        res->headers = mf_buf_take(&nat->reader.head, &res->headers_len);
    }
    mf_http_client__attempt_over(x, mf_http_client__attempt_judge(x));
}

static void on_timeout(void *ud)
{
    attempt_end(ud, MF_HTTP_ERR_TIMEOUT, "", 0);
}

/* ---- the request ---- */

static int header_named(const char *line, const char *name, size_t len)
{
    return !strncasecmp(line, name, len) && line[len] == ':';
}

/* A line with nothing after its colon: libcurl sends none such (an empty value asks it to leave
 * out a header of its own), and the two engines send the same. */
static int empty_value(const char *line)
{
    const char *v = strchr(line, ':');
    if (!v)
        return 1;
    for (v++; *v == ' ' || *v == '\t'; v++)
        ;
    return !*v;
}

/* A Connection header's value that holds the close option. */
static int asks_close(const char *value)
{
    for (const char *p = value; *p; p++)
        if (!strncasecmp(p, "close", 5))
            return 1;
    return 0;
}

static void put_str(mf_buf_t *b, const char *s)
{
    mf_buf_append(b, s, strlen(s));
}

/* The hop's request head into nat->out. */
static void write_head(mf_http_xfer_t *x)
{
    mf_http_native_t *nat = &x->nat;
    const mf_http_call_t *call = &x->call;
    mf_buf_t *b = &nat->out;
    int has_host = 0, has_agent = 0, has_accept = 0;
    nat->close_after = 0;
    b->len = 0;
    put_str(b, nat->method);
    mf_buf_lit(b, " ");
    put_str(b, nat->url->target);
    mf_buf_lit(b, " HTTP/1.1\r\n");
    for (int i = 0; call->headers && call->headers[i]; i++) {
        const char *h = call->headers[i];
        has_host |= header_named(h, "host", 4);
        has_agent |= header_named(h, "user-agent", 10);
        has_accept |= header_named(h, "accept", 6);
    }
    if (!has_host) {
        mf_buf_lit(b, "Host: ");
        put_str(b, nat->url->authority);
        mf_buf_lit(b, "\r\n");
    }
    if (!has_agent)
        mf_buf_lit(b, "User-Agent: mayfly/" MAYFLY_VERSION "\r\n");
    if (!has_accept)
        mf_buf_lit(b, "Accept: */*\r\n");
    for (int i = 0; call->headers && call->headers[i]; i++) {
        const char *h = call->headers[i];
        if (empty_value(h) || (nat->strip_auth && mf_http_client__credential(h)))
            continue;
        if (header_named(h, "connection", 10) && asks_close(h + 11))
            nat->close_after = 1;
        put_str(b, h);
        mf_buf_lit(b, "\r\n");
    }
    char line[192];
    int n;
    if (call->budget_header) {
        n = snprintf(line, sizeof line, "%.120s: %lld\r\n", call->budget_header,
                     (long long)x->timeout_ms);
        mf_buf_append(b, line, (size_t)n);
    }
    if (mf_http_client__span_header(x, line, sizeof line - 2)) {
        put_str(b, line);
        mf_buf_lit(b, "\r\n");
    }
    if (nat->with_body) {
        n = snprintf(line, sizeof line, "Content-Length: %zu\r\n",
                     nat->with_body ? call->body_len : 0);
        mf_buf_append(b, line, (size_t)n);
    }
    mf_buf_lit(b, "\r\n");
    nat->out_sent = 0;
}

/* Sends what is left of the request. Returns 1 when all of it is out, 0 when the socket is
 * full, -1 on an error (errno). */
static int send_request(mf_http_xfer_t *x)
{
    mf_http_native_t *nat = &x->nat;
    size_t body_len = nat->with_body ? x->call.body_len : 0, total = nat->out.len + body_len;
    while (nat->out_sent < total) {
        struct iovec iov[2];
        int n = 0;
        if (nat->out_sent < nat->out.len) {
            iov[n].iov_base = nat->out.data + nat->out_sent;
            iov[n++].iov_len = nat->out.len - nat->out_sent;
        }
        if (body_len) {
            size_t off = nat->out_sent > nat->out.len ? nat->out_sent - nat->out.len : 0;
            iov[n].iov_base = (char *)x->call.body + off;
            iov[n++].iov_len = body_len - off;
        }
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t sent = sendmsg(nat->conn->fd, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        nat->out_sent += (size_t)sent;
    }
    return 1;
}

/* ---- a hop ---- */

/* The hop on nat->url starts: a connection, then the request. */
static void hop_start(mf_http_xfer_t *x)
{
    mf_http_native_t *nat = &x->nat;
    nat->got_bytes = 0;
    mf_http_reader_start(&nat->reader, !strcmp(nat->method, "HEAD"), x->c->opts->http_max_body,
                         &x->body);
    nat->reader.stop_at_head = x->stream != NULL;
    mf_http_client__conn_get(x);
}

void mf_http_client__native_attempt(mf_http_xfer_t *x)
{
    mf_http_native_t *nat = &x->nat;
    if (!x->c->scratch)
        x->c->scratch = mf_xmalloc(SCRATCH);
    nat->url = x->call.url;
    nat->method = x->call.method;
    nat->with_body = mf_http_client__sends_body(x->call.method, x->call.body);
    nat->redirects = 0;
    nat->strip_auth = 0;
    nat->fresh_retry = 0;
    nat->in_body = 0;
    nat->paused = 0;
    mf_timer_init(&nat->timer, on_timeout, x);
    mf_loop_timer_start(x->c->loop, &nat->timer, x->attempt_start + x->timeout_ms * 1000000);
    write_head(x);
    hop_start(x);
}

void mf_http_client__native_failed(mf_http_xfer_t *x, mf_http_err_t err, const char *message)
{
    attempt_end(x, err, message, 0);
}

void mf_http_client__native_connected(mf_http_xfer_t *x)
{
    mf_http_native_t *nat = &x->nat;
    int rc = send_request(x);
    if (rc < 0) {
        mf_http_client__native_ready(x, EPOLLERR);
        return;
    }
    mf_http_client__conn_watch(nat->conn, rc ? EPOLLIN : EPOLLOUT);
}

/* The final response is in. A redirect to follow starts the next hop (or hands the attempt to
 * libcurl for https); anything else is the attempt's response. */
/* The Location of a redirect the call follows (*len bytes), or NULL when the head is none. */
static const char *redirect_location(const mf_http_xfer_t *x, size_t *len)
{
    int status = x->nat.reader.status;
    if (x->call.max_redirects <= 0 || (status != 301 && status != 302 && status != 303 &&
                                       status != 307 && status != 308))
        return NULL;
    return mf_http_reader_header(&x->nat.reader, "location", len);
}

static void response_done(mf_http_xfer_t *x, int keep)
{
    mf_http_native_t *nat = &x->nat;
    int status = nat->reader.status;
    size_t loc_len = 0;
    const char *loc = redirect_location(x, &loc_len);
    if (!loc) {
        attempt_end(x, MF_HTTP_ERR_NONE, NULL, keep);
        return;
    }
    char err[256], *location = mf_xstrndup(loc, loc_len);
    mf_http_url_t next;
    if (nat->redirects >= x->call.max_redirects) {
        snprintf(err, sizeof err, "Maximum (%d) redirects followed", x->call.max_redirects);
        free(location);
        attempt_end(x, MF_HTTP_ERR_REDIRECT, err, 0);
        return;
    }
    int bad = mf_http_url_resolve(&next, nat->url, location, err, sizeof err);
    free(location);
    if (bad) {
        attempt_end(x, MF_HTTP_ERR_REDIRECT, err, 0);
        return;
    }
    mf_http_client__conn_put(x, keep);
    nat->redirects++;
    if (strcmp(next.upstream, x->call.url->upstream) != 0)
        nat->strip_auth = 1;
    /* As libcurl and browsers: a 303 is followed by a GET, and so is a POST's 301 or 302. */
    if ((status == 303 && strcmp(nat->method, "HEAD") != 0) ||
        ((status == 301 || status == 302) && !strcmp(nat->method, "POST"))) {
        nat->method = "GET";
        nat->with_body = 0;
    }
    mf_http_url_free(&nat->hop_url);
    nat->hop_url = next;
    nat->url = &nat->hop_url;
    nat->fresh_retry = 0;
    if (next.https) {
        int64_t left_ms = (x->attempt_start - mf_now_ns()) / 1000000 + x->timeout_ms;
        mf_loop_timer_stop(x->c->loop, &nat->timer);
        x->body.len = 0;
        left_ms = left_ms > 1 ? left_ms : 1;
        mf_http_client__attempt_curl(x, &nat->hop_url, left_ms);
        if (x->stream)
            mf_http_client__stream_curl_go(x, left_ms);
        else
            mf_http_client__curl_go(x);
        return;
    }
    write_head(x);
    hop_start(x);
}

/* The connection broke (err, errno in sys) before the response ended. A connection that had
 * served before and said nothing yet was closed by the upstream while idle: the hop goes again
 * on a new one, once, as libcurl does. */
static void broke(mf_http_xfer_t *x, int sys)
{
    mf_http_native_t *nat = &x->nat;
    int reused = nat->conn->exchanges > 0;
    char msg[320];
    if (reused && !nat->got_bytes && !nat->fresh_retry && !nat->in_body) {
        nat->fresh_retry = 1;
        mf_http_client__conn_put(x, 0);
        nat->out_sent = 0;
        hop_start(x);
        return;
    }
    if (nat->in_body)
        snprintf(msg, sizeof msg, "the body broke off: the connection to %s closed%s%s",
                 nat->url->upstream, sys ? ": " : "", sys ? strerror(sys) : "");
    else if (!nat->got_bytes)
        snprintf(msg, sizeof msg, "empty reply from %s%s%s", x->call.url->upstream,
                 sys ? ": " : "", sys ? strerror(sys) : "");
    else
        snprintf(msg, sizeof msg, "the connection to %s broke before the response ended%s%s",
                 nat->url->upstream, sys ? ": " : "", sys ? strerror(sys) : "");
    attempt_end(x, MF_HTTP_ERR_IO, msg, 0);
}

static int parse(mf_http_xfer_t *x, const char *data, size_t n);

/* A streamed call's final head is in, used of the n bytes read: a redirect is followed (its body
 * unread: the connection closes), a head to retry is dropped with its connection, and a head
 * that stands is handed over, its body read on into the stream's buffer. */
static int stream_head(mf_http_xfer_t *x, const char *data, size_t n, size_t used)
{
    mf_http_native_t *nat = &x->nat;
    mf_http_result_t *res = x->res;
    size_t len;
    int status = nat->reader.status;
    if (redirect_location(x, &len)) {
        response_done(x, 0);
        return 0;
    }
    mf_loop_timer_stop(x->c->loop, &nat->timer); /* the attempt's timeout bounds its head */
    free(res->headers);
    res->err = MF_HTTP_ERR_NONE;
    res->status = status;
    res->headers = mf_buf_take(&nat->reader.head, &res->headers_len);
    int64_t wait = mf_http_client__attempt_judge(x);
    if (wait >= 0) {
        mf_http_client__conn_put(x, 0);
        mf_http_url_free(&nat->hop_url);
        mf_http_client__stream_attempt_over(x, wait);
        return 0;
    }
    nat->in_body = 1;
    mf_http_reader_body(&nat->reader, mf_http_client__stream_buffer(x));
    mf_http_client__stream_head(x);
    return used < n ? parse(x, data + used, n - used) : 1;
}

/* Feeds n bytes (0: the end of the stream) to the response. Returns 1 while it goes on, 0 when
 * the attempt or its hop moved on. */
static int parse(mf_http_xfer_t *x, const char *data, size_t n)
{
    mf_http_native_t *nat = &x->nat;
    const char *why = "";
    int keep;
    size_t used = 0, before = nat->in_body ? nat->reader.body->len : 0;
    char msg[320];
    mf_http_read_t r = mf_http_reader_feed(&nat->reader, data, n, &keep, &why, &used);
    if (nat->in_body && nat->reader.body->len > before)
        mf_http_client__stream_body(x, nat->reader.body->len - before);
    switch (r) {
    case MF_HTTP_READ_MORE:
        return 1;
    case MF_HTTP_READ_HEAD:
        return stream_head(x, data, n, used);
    case MF_HTTP_READ_DONE:
        if (nat->in_body)
            attempt_end(x, MF_HTTP_ERR_NONE, NULL, keep && !nat->close_after);
        else
            response_done(x, keep && !nat->close_after);
        return 0;
    case MF_HTTP_READ_TOO_LARGE:
        attempt_end(x, MF_HTTP_ERR_TOO_LARGE, "", 0);
        return 0;
    case MF_HTTP_READ_CUT:
        broke(x, 0);
        return 0;
    case MF_HTTP_READ_BAD:
        break;
    }
    snprintf(msg, sizeof msg, "%s from %s: %s",
             nat->in_body ? "the body broke off: bad framing" : "not a valid HTTP response",
             nat->url->upstream, why);
    attempt_end(x, MF_HTTP_ERR_PROTOCOL, msg, 0);
    return 0;
}

void mf_http_client__native_resume(mf_http_xfer_t *x)
{
    if (x->nat.paused && x->nat.conn) {
        x->nat.paused = 0;
        mf_http_client__conn_watch(x->nat.conn, EPOLLIN);
    }
}

void mf_http_client__native_abort(mf_http_xfer_t *x)
{
    mf_http_native_t *nat = &x->nat;
    mf_loop_timer_stop(x->c->loop, &nat->timer);
    mf_http_client__conn_forget(x);
    mf_http_client__conn_put(x, 0);
    mf_http_url_free(&nat->hop_url);
    nat->in_body = 0;
    nat->paused = 0;
}

void mf_http_client__native_ready(mf_http_xfer_t *x, uint32_t events)
{
    mf_http_native_t *nat = &x->nat;
    mf_http_conn_t *conn = nat->conn;
    if (nat->out_sent < nat->out.len + (nat->with_body ? x->call.body_len : 0)) {
        int rc = (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT) ? -1 : send_request(x);
        if (rc < 0) {
            int sys = errno;
            if (events & (EPOLLERR | EPOLLHUP)) {
                socklen_t len = sizeof sys;
                getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &sys, &len);
            }
            broke(x, sys);
            return;
        }
        if (rc)
            mf_http_client__conn_watch(conn, EPOLLIN);
        return;
    }
    char *buf = x->c->scratch;
    for (;;) {
        size_t room = SCRATCH;
        if (nat->in_body) { /* what waits in mayfly stays within the stream's buffer */
            size_t held = nat->reader.body->len;
            if (held >= MF_HTTP_STREAM_BUFFER) {
                /* Unwatched, not asked for nothing: a hang-up would be reported again and
                 * again. It is heard when the buffer is read and the socket watched again. */
                nat->paused = 1;
                mf_http_client__conn_unwatch(conn);
                return;
            }
            if (room > MF_HTTP_STREAM_BUFFER - held)
                room = MF_HTTP_STREAM_BUFFER - held;
        }
        ssize_t n = recv(conn->fd, buf, room, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            broke(x, errno);
            return;
        }
        if (n > 0)
            nat->got_bytes = 1;
        if (!parse(x, buf, (size_t)n) || (size_t)n < room)
            return;
    }
}
