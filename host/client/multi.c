/* Calls that wait on a worker's loop: libcurl's multi interface on the loop's epoll, one multi
 * handle per client keeping the worker's connections; a call's attempts and its backoff
 * between them are turns of the loop, and only the call's run waits. */
#include "client/http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "client/private.h"

#define MAX_LOOP_CONNECTIONS 256 /* connections a worker keeps open, all hosts together */

static void check_done(mf_http_client_t *c);

/* ---- sockets ---- */

/* A socket libcurl uses on the loop. Curl drops a kept-alive connection's socket from its set
 * when a call ends and adds it back when the next call reuses it; a socket curl opened itself
 * (call.c's on_open_socket) stays registered meanwhile, parked, which saves two epoll_ctl per
 * call. Curl closes those through mf_http_client__close_socket, which forgets them. Others (the
 * resolver's) are dropped when curl drops them: they may be closed without a word. */
typedef struct mf_http_sock {
    mf_http_client_t *c;
    curl_socket_t fd;
    mf_watcher_t *watch; /* NULL: not registered */
    int opened;          /* by on_open_socket: closed by mf_http_client__close_socket */
    int parked;          /* curl waits for nothing on it */
} mf_http_sock_t;

static void on_socket_ready(void *ud, uint32_t events)
{
    mf_http_sock_t *s = ud;
    mf_http_client_t *c = s->c;
    if (s->parked) {
        /* The upstream closed the idle connection or sent something unasked: stop watching.
         * Curl finds out when it next looks at the connection. */
        mf_loop_watch_free(s->watch);
        s->watch = NULL;
        return;
    }
    int running, mask = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(c->multi, s->fd, mask, &running);
    check_done(c);
}

static void sock_free(mf_http_sock_t *s)
{
    mf_http_client_t *c = s->c;
    if (s->opened)
        c->socks[s->fd] = NULL;
    mf_loop_watch_free(s->watch);
    free(s);
}

static mf_http_sock_t *sock_new(mf_http_client_t *c, curl_socket_t fd, int opened)
{
    mf_http_sock_t *s = mf_xcalloc(1, sizeof *s);
    s->c = c;
    s->fd = fd;
    s->opened = opened;
    if (opened) {
        if (fd >= c->nsocks) {
            int n = c->nsocks ? c->nsocks : 64;
            while (n <= fd)
                n *= 2;
            c->socks = mf_xrealloc(c->socks, (size_t)n * sizeof *c->socks);
            memset(c->socks + c->nsocks, 0, (size_t)(n - c->nsocks) * sizeof *c->socks);
            c->nsocks = n;
        }
        if (c->socks[fd]) /* closed behind curl's back: cannot be registered any more */
            sock_free(c->socks[fd]);
        c->socks[fd] = s;
    }
    return s;
}

void mf_http_client__socket_opened(mf_http_client_t *c, curl_socket_t fd)
{
    sock_new(c, fd, 1);
}

int mf_http_client__close_socket(void *ud, curl_socket_t fd)
{
    mf_http_client_t *c = ud;
    if (fd < c->nsocks && c->socks[fd]) {
        if (c->multi) /* curl says REMOVE first; should it not, it must not keep the pointer */
            curl_multi_assign(c->multi, fd, NULL);
        sock_free(c->socks[fd]);
    }
    return close(fd);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    mf_http_client_t *c = userp;
    mf_http_sock_t *s = socketp;
    (void)e;
    if (!s && fd < c->nsocks)
        s = c->socks[fd];
    if (what == CURL_POLL_REMOVE) {
        if (s && s->opened)
            s->parked = 1;
        else if (s)
            sock_free(s);
        return 0;
    }
    if (!s)
        s = sock_new(c, fd, 0);
    if (!socketp)
        curl_multi_assign(c->multi, fd, s);
    s->parked = 0;
    if (!s->watch)
        s->watch = mf_loop_watch_new(c->loop, fd, on_socket_ready, s);
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    mf_loop_watch_set(s->watch, ev);
    return 0;
}

/* ---- curl's timeouts ---- */

static void on_curl_timer_due(void *ud)
{
    mf_http_client_t *c = ud;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    mf_http_client_t *c = userp;
    (void)multi;
    if (timeout_ms < 0)
        mf_loop_timer_stop(c->loop, &c->timer);
    else
        mf_loop_timer_start(c->loop, &c->timer, mf_now_ns() + (int64_t)timeout_ms * 1000000);
    return 0;
}

/* ---- calls ---- */

static void attempt_start_async(mf_http_xfer_t *x);

static void call_end_async(mf_http_xfer_t *x)
{
    void (*done)(void *, int) = x->done;
    void *ud = x->ud;
    done(ud, mf_http_client__call_end(x));
}

/* The attempt x readied goes out, on its engine. */
static void attempt_go(mf_http_xfer_t *x)
{
    if (x->native)
        mf_http_client__native_attempt(x);
    else
        attempt_start_async(x);
}

static void on_backoff_over(void *ud)
{
    mf_http_xfer_t *x = ud;
    if (x->end_pending) {
        x->end_pending = 0;
        call_end_async(x);
    } else if (mf_http_client__attempt_begin(x))
        attempt_go(x);
    else
        call_end_async(x);
}

void mf_http_client__attempt_over(mf_http_xfer_t *x, int64_t wait_ms)
{
    if (x->stream) { /* a native engine's streamed call: stream.c decides */
        mf_http_client__stream_attempt_over(x, wait_ms);
        return;
    }
    if (wait_ms < 0 && x->starting) { /* done is never called before start returns */
        x->end_pending = 1;
        mf_loop_timer_start(x->c->loop, &x->backoff, 0);
    } else if (wait_ms < 0)
        call_end_async(x);
    else
        mf_loop_timer_start(x->c->loop, &x->backoff, mf_now_ns() + wait_ms * 1000000);
}

static void attempt_start_async(mf_http_xfer_t *x)
{
    mf_http_client_t *c = x->c;
    char err[128];
    if (mf_http_client__multi(c, err, sizeof err) ||
        curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
        mf_http_client__attempt_over(x, mf_http_client__attempt_end(x, CURLE_OUT_OF_MEMORY));
}

void mf_http_client__curl_go(mf_http_xfer_t *x)
{
    attempt_start_async(x);
}

static void check_done(mf_http_client_t *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        mf_http_xfer_t *x;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(c->multi, e);
        if (x->stream) {
            mf_http_client__stream_done(x, rc);
            continue;
        }
        mf_http_client__attempt_over(x, mf_http_client__attempt_end(x, rc));
    }
}

int mf_http_client__multi(mf_http_client_t *c, char *err, size_t errlen)
{
    if (c->multi)
        return 0;
    c->multi = curl_multi_init();
    if (!c->multi) {
        snprintf(err, errlen, "libcurl: out of memory");
        return -1;
    }
    mf_timer_init(&c->timer, on_curl_timer_due, c);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)MAX_LOOP_CONNECTIONS);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_LOOP_CONNECTIONS);
    return 0;
}

int mf_http_client_start(mf_http_client_t *c, const mf_http_call_t *call, mf_http_result_t *res,
                         void (*done)(void *ud, int rc), void *ud, int *rc)
{
    mf_http_xfer_t *x;
    if (mf_http_client__call_begin(c, &x, call, res, 1)) {
        *rc = -1;
        return 1;
    }
    if (!x->native && mf_http_client__multi(c, res->message, sizeof res->message)) {
        res->err = MF_HTTP_ERR_IO;
        mf_http_client__call_end(x);
        *rc = -1;
        return 1;
    }
    if (!mf_http_client__attempt_begin(x)) {
        *rc = mf_http_client__call_end(x);
        return 1;
    }
    x->done = done;
    x->ud = ud;
    mf_timer_init(&x->backoff, on_backoff_over, x);
    x->starting = 1;
    attempt_go(x);
    x->starting = 0;
    return 0;
}

void mf_http_client__loop_free(mf_http_client_t *c)
{
    mf_http_client__conns_free(c);
    mf_http_client__names_free(c->names);
    if (c->multi) {
        curl_multi_cleanup(c->multi); /* closes its connections: mf_http_client__close_socket */
        mf_loop_timer_stop(c->loop, &c->timer);
    }
    free(c->socks);
}

/* ---- one per loop ---- */

static const mf_loop_key_t client_key;

static void client_free(void *c)
{
    mf_http_client_free(c);
}

mf_http_client_t *mf_http_client_of(mf_loop_t *loop, const mf_options_t *opts)
{
    mf_http_client_t *c = mf_loop_service(loop, &client_key);
    if (!c) {
        c = mf_http_client_new(opts, loop);
        mf_loop_set_service(loop, &client_key, c, client_free);
    }
    return c;
}
