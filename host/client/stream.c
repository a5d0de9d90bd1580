/* Streamed responses: a call on a worker's loop whose body is handed over as it arrives. Until
 * a final head comes, its attempts are call.c's, each bounded by the attempt's timeout (connect
 * and head: libcurl's own timeout would bound the whole body); from the head on, the body goes
 * into a bounded buffer and the transfer is paused while the buffer is full. */
#include "client/http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "client/private.h"

#define KEEP_BUFFER (16 * 1024) /* an emptied buffer larger than this is freed */

struct mf_http_stream {
    mf_http_client_t *c;
    mf_http_xfer_t *x; /* the call's record while its transfer runs or waits to retry */
    int in_multi;      /* x's handle is in the multi handle */
    mf_http_stream_state_t state;
    mf_http_result_t res;
    mf_http_call_t call; /* a copy: its url is url, its strings are in strings */
    mf_http_url_t url;
    char *strings;
    mf_buf_t buf;        /* body received, not taken */
    int paused;          /* the body callback paused the transfer: buf is full */
    int quiet;           /* inside a function of the API: no notify */
    int64_t retry_in_ms; /* the head just refused is retried after this; -1: none was */
    mf_timer_t timer;    /* the attempt's timeout while in multi, else the wait to retry */
    void (*notify)(void *ud);
    void *ud;
};

static void notify(mf_http_stream_t *s)
{
    if (!s->quiet)
        s->notify(s->ud);
}

/* ---- the call's own copy ---- */

static char *put(char **at, const char *str, size_t len)
{
    char *p = *at;
    memcpy(p, str, len);
    p[len] = '\0';
    *at += len + 1;
    return p;
}

/* s->call as call, with copies of everything it points to in one block. Returns 0, or -1
 * when libcurl cannot copy the URL. */
static int copy_call(mf_http_stream_t *s, const mf_http_call_t *call)
{
    size_t nheaders = 0, size = strlen(call->method) + 1 + call->body_len + 1;
    for (; call->headers && call->headers[nheaders]; nheaders++)
        size += strlen(call->headers[nheaders]) + 1;
    if (call->budget_header)
        size += strlen(call->budget_header) + 1;
    if (call->request_id)
        size += strlen(call->request_id) + 1;
    size_t ptrs = (nheaders + 1) * sizeof(char *);
    s->strings = mf_xmalloc(ptrs + size);
    const char **lines = (const char **)s->strings;
    char *at = s->strings + ptrs;

    s->call = *call;
    s->call.method = put(&at, call->method, strlen(call->method));
    for (size_t i = 0; i < nheaders; i++)
        lines[i] = put(&at, call->headers[i], strlen(call->headers[i]));
    lines[nheaders] = NULL;
    s->call.headers = lines;
    s->call.body = call->body ? put(&at, call->body, call->body_len) : NULL;
    if (call->budget_header)
        s->call.budget_header = put(&at, call->budget_header, strlen(call->budget_header));
    if (call->request_id)
        s->call.request_id = put(&at, call->request_id, strlen(call->request_id));
    s->call.url = &s->url;
    return mf_http_url_copy(&s->url, call->url);
}

/* ---- the transfer ---- */

/* The call's transfer is over, in whatever state it leaves s: its record goes (with its
 * handle, whose options are the stream's own). A transfer still running is aborted. */
static void call_over(mf_http_stream_t *s)
{
    mf_http_xfer_t *x = s->x;
    if (!x)
        return;
    mf_loop_timer_stop(s->c->loop, &s->timer);
    if (s->in_multi) {
        curl_multi_remove_handle(s->c->multi, x->easy);
        s->in_multi = 0;
    }
    if (x->native)
        mf_http_client__native_abort(x);
    mf_http_client__attempt_release(x);
    x->stream = NULL;
    mf_http_client__call_end(x);
    s->x = NULL;
    s->paused = 0;
}

/* The call ended before its body: it failed, or a head stands without one (a retried one whose
 * retry could not be made). */
static void call_failed(mf_http_stream_t *s)
{
    s->state = s->res.err ? MF_HTTP_STREAM_FAILED : MF_HTTP_STREAM_ENDED;
    call_over(s);
    notify(s);
}

static void attempt_start(mf_http_stream_t *s);

/* The attempt ended before a head that stands: rc, or the head refused for a retry. */
static void attempt_over(mf_http_stream_t *s, CURLcode rc)
{
    mf_http_xfer_t *x = s->x;
    int64_t wait = s->retry_in_ms;
    if (wait < 0) {
        wait = mf_http_client__attempt_end(x, rc);
    } else {
        mf_http_client__attempt_release(x);
        s->retry_in_ms = -1;
    }
    if (wait < 0)
        call_failed(s);
    else
        mf_loop_timer_start(s->c->loop, &s->timer, mf_now_ns() + wait * 1000000);
}

static void on_timer(void *ud)
{
    mf_http_stream_t *s = ud;
    if (s->in_multi) { /* no head within the attempt's timeout */
        curl_multi_remove_handle(s->c->multi, s->x->easy);
        s->in_multi = 0;
        attempt_over(s, CURLE_OPERATION_TIMEDOUT);
    } else if (mf_http_client__attempt_begin(s->x)) {
        attempt_start(s);
    } else {
        call_failed(s);
    }
}

/* The attempt x readied goes on in libcurl: the call's, or a native one's redirect to https. */
static void curl_start(mf_http_stream_t *s, int64_t timeout_ms)
{
    mf_http_xfer_t *x = s->x;
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    if (curl_multi_add_handle(s->c->multi, x->easy) != CURLM_OK) {
        attempt_over(s, CURLE_OUT_OF_MEMORY);
        return;
    }
    s->in_multi = 1;
    mf_loop_timer_start(s->c->loop, &s->timer, x->attempt_start + x->timeout_ms * 1000000);
}

static void attempt_start(mf_http_stream_t *s)
{
    if (s->x->native)
        mf_http_client__native_attempt(s->x);
    else
        curl_start(s, s->x->timeout_ms);
}

/* ---- the native engine's side ---- */

void mf_http_client__stream_attempt_over(mf_http_xfer_t *x, int64_t wait_ms)
{
    mf_http_stream_t *s = x->stream;
    if (wait_ms < 0)
        call_failed(s);
    else
        mf_loop_timer_start(s->c->loop, &s->timer, mf_now_ns() + wait_ms * 1000000);
}

void mf_http_client__stream_curl_go(mf_http_xfer_t *x, int64_t timeout_ms)
{
    curl_start(x->stream, timeout_ms);
}

void mf_http_client__stream_head(mf_http_xfer_t *x)
{
    mf_http_stream_t *s = x->stream;
    s->state = MF_HTTP_STREAM_BODY;
    notify(s);
}

mf_buf_t *mf_http_client__stream_buffer(mf_http_xfer_t *x)
{
    return &x->stream->buf;
}

void mf_http_client__stream_body(mf_http_xfer_t *x, size_t n)
{
    mf_http_client__stream_bytes(x->u, n);
    notify(x->stream);
}

void mf_http_client__stream_end(mf_http_xfer_t *x, mf_http_err_t err, const char *message)
{
    mf_http_stream_t *s = x->stream;
    if (err) {
        s->state = MF_HTTP_STREAM_FAILED;
        s->res.err = err;
        snprintf(s->res.message, sizeof s->res.message, "%s", message);
        mf_http_client__call_refused(x->u, err);
    } else {
        s->state = MF_HTTP_STREAM_ENDED;
    }
    call_over(s);
    notify(s);
}

/* Each line of each head. At the end of the one that stands (not a 1xx, not a redirect curl
 * follows), the attempt's outcome is read as a call's is at its end. */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    mf_http_stream_t *s = ud;
    size_t len = size * n;
    if (s->state != MF_HTTP_STREAM_WAITING || len > 2 || (data[0] != '\r' && data[0] != '\n'))
        return len;
    mf_http_xfer_t *x = s->x;
    long status = 0;
    struct curl_header *location;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200)
        return len;
    if (status >= 300 && status < 400 && x->call.max_redirects > 0 &&
        curl_easy_header(x->easy, "Location", 0, CURLH_HEADER, -1, &location) == CURLHE_OK)
        return len; /* followed, or the call fails (too many, a scheme not allowed) */
    mf_loop_timer_stop(s->c->loop, &s->timer);
    int64_t wait = mf_http_client__attempt_outcome(x, CURLE_OK);
    if (wait >= 0) {
        s->retry_in_ms = wait;
        return 0; /* curl ends the transfer; check_done gets it */
    }
    s->state = MF_HTTP_STREAM_BODY;
    notify(s);
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    mf_http_stream_t *s = ud;
    size_t len = size * n;
    if (s->state != MF_HTTP_STREAM_BODY)
        return len;
    if (s->buf.len && s->buf.len + len > MF_HTTP_STREAM_BUFFER) {
        s->paused = 1;
        return CURL_WRITEFUNC_PAUSE; /* curl keeps data and hands it over again on resuming */
    }
    mf_buf_append(&s->buf, data, len);
    mf_http_client__stream_bytes(s->x->u, len);
    notify(s);
    return len;
}

void mf_http_client__stream_done(mf_http_xfer_t *x, CURLcode rc)
{
    mf_http_stream_t *s = x->stream;
    s->in_multi = 0;
    if (s->state == MF_HTTP_STREAM_WAITING) {
        mf_loop_timer_stop(s->c->loop, &s->timer);
        attempt_over(s, rc);
        return;
    }
    if (rc == CURLE_OK) {
        s->state = MF_HTTP_STREAM_ENDED;
    } else {
        s->state = MF_HTTP_STREAM_FAILED;
        s->res.err = mf_http_client__classify(x->easy, rc, 0);
        snprintf(s->res.message, sizeof s->res.message, "the body broke off: %.200s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        mf_http_client__call_refused(x->u, s->res.err);
    }
    call_over(s);
    notify(s);
}

/* ---- the API ---- */

mf_http_stream_t *mf_http_stream_start(mf_http_client_t *c, const mf_http_call_t *call,
                                       void (*notify_fn)(void *ud), void *ud)
{
    mf_http_stream_t *s = mf_xcalloc(1, sizeof *s);
    mf_http_xfer_t *x;
    s->c = c;
    s->notify = notify_fn;
    s->ud = ud;
    s->retry_in_ms = -1;
    s->state = MF_HTTP_STREAM_FAILED;
    s->quiet = 1;
    mf_timer_init(&s->timer, on_timer, s);
    if (copy_call(s, call)) {
        s->res.err = MF_HTTP_ERR_IO;
        snprintf(s->res.message, sizeof s->res.message, "libcurl: out of memory");
        goto out;
    }
    if (mf_http_client__multi(c, s->res.message, sizeof s->res.message)) {
        s->res.err = MF_HTTP_ERR_IO;
        goto out;
    }
    if (mf_http_client__call_begin(c, &x, &s->call, &s->res, 1))
        goto out;
    s->x = x;
    s->state = MF_HTTP_STREAM_WAITING;
    x->stream = s;
    x->discard = 1;
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(x->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(x->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L); /* a proxy's are no head */
    if (mf_http_client__attempt_begin(x))
        attempt_start(s);
    else
        call_failed(s);
out:
    s->quiet = 0;
    return s;
}

mf_http_stream_state_t mf_http_stream_state(const mf_http_stream_t *s)
{
    return s->state;
}

const mf_http_result_t *mf_http_stream_result(const mf_http_stream_t *s)
{
    return &s->res;
}

const char *mf_http_stream_peek(const mf_http_stream_t *s, size_t *len)
{
    *len = s->buf.len;
    return s->buf.data;
}

void mf_http_stream_consume(mf_http_stream_t *s)
{
    if (s->buf.cap > KEEP_BUFFER)
        mf_buf_free(&s->buf);
    else
        s->buf.len = 0;
    if (s->x && s->x->native && !s->x->on_curl)
        mf_http_client__native_resume(s->x);
    if (s->paused && s->in_multi) {
        s->paused = 0;
        s->quiet = 1; /* the data curl kept may come in right here */
        curl_easy_pause(s->x->easy, CURLPAUSE_CONT);
        s->quiet = 0;
    }
}

void mf_http_stream_fail(mf_http_stream_t *s, mf_http_err_t err, const char *message)
{
    if (s->state != MF_HTTP_STREAM_BODY)
        return;
    s->state = MF_HTTP_STREAM_FAILED;
    s->res.err = err;
    snprintf(s->res.message, sizeof s->res.message, "%s", message);
    if (s->x)
        mf_http_client__call_refused(s->x->u, err);
    call_over(s);
}

void mf_http_stream_free(mf_http_stream_t *s)
{
    if (!s)
        return;
    s->quiet = 1;
    call_over(s);
    mf_http_result_free(&s->res);
    mf_buf_free(&s->buf);
    mf_http_url_free(&s->url);
    free(s->strings);
    free(s);
}
