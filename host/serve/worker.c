#define _GNU_SOURCE /* accept4 */
#include "serve/worker.h"

#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "app/dispatch.h"
#include "app/lifecycle.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/syntax.h"
#include "event/loop.h"
#include "http/conn.h"
#include "http/cors.h"
#include "http/framing.h"
#include "http/request_log.h"
#include "http/response.h"
#include "http/stream.h"
#include "lua/vm.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "serve/probes.h"

/* ---- one request ---- */

/* Where a request stands once its body is in. */
enum { READY, WAITING, HELD, ANSWERED };

/* The request and what this layer keeps beside it. */
typedef struct worker_request {
    mf_request_t r; /* first: the worker's free list holds these */
    int phase;
    struct MHD_Response *resp; /* ANSWERED: the response to queue */
    struct worker_request *next_held;
    mf_http_stall_t stall; /* a chunked body being read */
    int own_cors;          /* a probe's answer, or a preflight's: queue adds no CORS headers */
    mf_stream_t *stream;   /* a streamed response's body: this request is its consumer */
    int probe;             /* the host's own endpoint: no span (the app's traces only) */
    /* Orphaned: its connection completed while its stream's run still reads it. */
    mf_worker_t *worker;
    struct worker_request *orphan_prev, *orphan_next;
} worker_request_t;

/* Settings every worker shares, set before the first daemon starts serving. */
static atomic_int trace_response; /* MAYFLY_TRACE_RESPONSE */
static atomic_int metrics_on;     /* MAYFLY_METRICS */
/* MAYFLY_CORS_*: NULL when off. Built by the first mf_worker_start, before any worker thread
 * runs, and kept for the process's life as the settings are. */
static mf_cors_t *cors;

/* Called by libmicrohttpd with the raw request target, before it decodes anything: the router
 * works on raw segments so that an encoded '/' (%2F) stays inside its segment. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    mf_worker_t *w = cls;
    mf_request_t *r = w->free_requests;

    if (r) {
        w->free_requests = r->next_free;
        w->nfree--;
    } else {
        r = mf_xmalloc(sizeof(worker_request_t));
    }
    worker_request_t *h = (worker_request_t *)r;
    h->phase = READY;
    h->resp = NULL;
    h->own_cors = 0;
    h->probe = 0;
    h->stream = NULL;
    mf_http_stall_init(&h->stall, w->loop);
    mf_http_conn_requested(conn);
    mf_request_begin(r, uri);
    atomic_fetch_add_explicit(&w->in_flight, 1, memory_order_relaxed);
    if (atomic_load_explicit(&metrics_on, memory_order_relaxed))
        mf_metrics_request_begin(mf_metrics_shard());
    return r;
}

#define MAX_FREE_REQUESTS 256

static void recycle(mf_worker_t *w, mf_request_t *r)
{
    mf_request_end(r);
    if (w->nfree < MAX_FREE_REQUESTS) {
        r->next_free = w->free_requests;
        w->free_requests = r;
        w->nfree++;
    } else {
        free(r);
    }
}

/* The run of an orphan ended: the request goes as a completed one would have. */
static void orphan_over(void *ud)
{
    worker_request_t *h = ud;
    mf_worker_t *w = h->worker;
    if (h->orphan_prev)
        h->orphan_prev->orphan_next = h->orphan_next;
    else
        w->orphans = h->orphan_next;
    if (h->orphan_next)
        h->orphan_next->orphan_prev = h->orphan_prev;
    mf_stream_unref(h->stream);
    recycle(w, &h->r);
    atomic_fetch_sub_explicit(&w->in_flight, 1, memory_order_relaxed);
}

/* The request is over for its connection. Returns 1 when it is kept as an orphan: its stream's
 * run goes on (its client left) and still reads it, so it must neither be reused for another
 * request nor read the connection libmicrohttpd frees; it goes when the run ends, and counts
 * as in flight until then (the drain waits for it). */
static int request_release(mf_worker_t *w, mf_request_t *r)
{
    worker_request_t *h = (worker_request_t *)r;
    mf_http_stall_stop(&h->stall);
    if (h->resp) /* answered, and the client left before it was sent */
        MHD_destroy_response(h->resp);
    h->resp = NULL;
    if (h->stream) {
        mf_stream_completed(h->stream);
        if (!mf_stream_ended(h->stream)) {
            mf_request_detach(r);
            h->worker = w;
            h->orphan_prev = NULL;
            h->orphan_next = w->orphans;
            if (w->orphans)
                w->orphans->orphan_prev = h;
            w->orphans = h;
            mf_stream_on_end(h->stream, orphan_over, h);
            return 1;
        }
        mf_stream_unref(h->stream);
    }
    recycle(w, r);
    return 0;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mf_worker_t *w = cls;
    mf_request_t *r = *con_cls;
    (void)conn;
    if (!r)
        return;
    int64_t end_ns = mf_now_ns(), duration_ns = end_ns - r->start_ns;
    if (atomic_load_explicit(&metrics_on, memory_order_relaxed)) {
        mf_metrics_shard_t *m = mf_metrics_shard();
        mf_metrics_request_end(m, r->method, r->metric_route, r->status, duration_ns);
        mf_metrics_lua_memory(m, w->id, mf_vm_memory(w->run.vm));
    }
    if (!((worker_request_t *)r)->probe)
        mf_request_span_end(r, end_ns);
    if (r->status && mf_log_access_enabled() && mf_log_enabled(MF_LOG_INFO))
        mf_request_log_access(r, duration_ns);
    else if (!r->status && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
             mf_log_enabled(MF_LOG_DEBUG))
        mf_log_msg(MF_LOG_DEBUG, "connection ended before a response (code %d)", (int)toe);
    *con_cls = NULL;
    if (!request_release(w, r))
        atomic_fetch_sub_explicit(&w->in_flight, 1, memory_order_relaxed);
}

static const char *request_header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static void add_cors_headers(struct MHD_Response *resp, const mf_cors_headers_t *cors_headers)
{
    for (int i = 0; i < cors_headers->n; i++)
        MHD_add_response_header(resp, cors_headers->h[i].name, cors_headers->h[i].value);
}

/* Every response of the host's, errors included, goes through here: r is a worker_request_t. */
static enum MHD_Result queue(struct MHD_Connection *conn, mf_request_t *r, int status,
                             struct MHD_Response *resp)
{
    /* A handler that set Access-Control-Allow-Origin itself has taken CORS in hand: a second
     * one would make the browser refuse the response. */
    if (cors && !((worker_request_t *)r)->own_cors &&
        !MHD_get_response_header(resp, "Access-Control-Allow-Origin")) {
        mf_cors_headers_t cors_headers;
        mf_cors_response(cors, request_header(conn, "Origin"), &cors_headers);
        add_cors_headers(resp, &cors_headers);
    }
    if (mf_lifecycle_get() >= MF_DRAINING)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (atomic_load_explicit(&trace_response, memory_order_relaxed))
        MHD_add_response_header(resp, "traceparent", mf_request_trace(r)->traceparent);
    r->status = status;
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, mf_request_t *r, int status,
                                   const char *message)
{
    return queue(conn, r, status, mf_response_error(message, mf_request_id(r)));
}

static enum MHD_Result queue_answer(struct MHD_Connection *conn, worker_request_t *h)
{
    struct MHD_Response *resp = h->resp;
    h->resp = NULL;
    h->phase = READY;
    return queue(conn, &h->r, h->r.status, resp);
}

/* The sink of a run: keeps the response, and wakes the connection of a run that waited. */
static void on_response(void *ud, const mf_response_t *resp)
{
    worker_request_t *h = ud;
    if (resp->stream) {
        h->stream = resp->stream;
        mf_stream_ref(h->stream);
    }
    h->resp = mf_response_for_request(&h->r, resp);
    if (h->phase == WAITING)
        MHD_resume_connection(h->r.conn);
    h->phase = ANSWERED;
}

/* A new version waits while runs of the old one are suspended: a run is wholly on one version,
 * so requests are held until those runs end (release_held), then served on the new one. */
static enum MHD_Result hold(mf_worker_t *w, struct MHD_Connection *conn, worker_request_t *h)
{
    h->phase = HELD;
    h->next_held = w->held;
    w->held = h;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

static void release_held(mf_worker_t *w)
{
    while (w->held) {
        worker_request_t *h = w->held;
        w->held = h->next_held;
        h->phase = READY;
        MHD_resume_connection(h->r.conn);
    }
}

/* A preflight is the host's to answer, whatever the routes (handlers never see one): 204 with
 * the policy's headers, or with none of them for an origin it does not allow. */
static enum MHD_Result queue_preflight(struct MHD_Connection *conn, worker_request_t *h,
                                       const char *origin, const char *request_method)
{
    mf_cors_headers_t cors_headers;
    mf_cors_preflight(cors, origin, request_method,
                      request_header(conn, "Access-Control-Request-Headers"), &cors_headers);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    add_cors_headers(resp, &cors_headers);
    h->own_cors = 1;
    return queue(conn, &h->r, 204, resp);
}

/* A request whose body is in: the host's own answers (probes, preflights, refusals), else its
 * route's run. */
static enum MHD_Result serve(mf_worker_t *w, struct MHD_Connection *conn, mf_request_t *r)
{
    worker_request_t *h = (worker_request_t *)r;
    char allow[128];
    int status;

    if (r->target[0] != '/')
        return queue_error(conn, r, 400, "request target must be a path");
    if (!mf_syntax_http_token(r->method, strlen(r->method)))
        return queue_error(conn, r, 400, "invalid method");
    if (mf_probes_owns(r->target, r->path_len)) {
        h->own_cors = 1;
        h->probe = 1;
        r->metric_route = mf_probes_metric_route(r->target, r->path_len);
        struct MHD_Response *resp = mf_probes_answer(
            r->target, r->path_len,
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT), &status);
        return resp ? queue(conn, r, status, resp) : MHD_NO;
    }
    if (cors && !strcmp(r->method, MHD_HTTP_METHOD_OPTIONS)) {
        const char *origin = request_header(conn, "Origin");
        const char *request_method = request_header(conn, "Access-Control-Request-Method");
        if (mf_cors_is_preflight(r->method, origin, request_method))
            return queue_preflight(conn, h, origin, request_method);
    }
    if (mf_lifecycle_get() == MF_STARTING)
        return queue_error(conn, r, 503, "starting");
    if (mf_follow_sync(&w->run) < 0)
        return hold(w, conn, h);
    int rc = mf_dispatch_start(w->run.vm, w->id, r, on_response, h, allow, sizeof allow);
    if (rc == MF_ROUTER_NOT_FOUND)
        return queue_error(conn, r, 404, "not found");
    if (rc == MF_ROUTER_METHOD_NOT_ALLOWED) {
        struct MHD_Response *resp = mf_response_error("method not allowed", mf_request_id(r));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        return queue(conn, r, 405, resp);
    }
    if (rc || h->phase == ANSWERED) /* the run ended, or streams its response */
        return queue_answer(conn, h);
    h->phase = WAITING;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

/* ---- the access handler ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    mf_worker_t *w = cls;
    mf_request_t *r = *con_cls;
    worker_request_t *h = (worker_request_t *)r;
    (void)url;
    (void)version;

    if (!r)
        return MHD_NO; /* on_uri always runs first; without it there is nothing to serve */
    if (!r->headers_done) {
        /* The first call carries the head. Answering here would make libmicrohttpd close
         * the connection, so only refusals that must not read the body answer now. */
        r->headers_done = 1;
        r->conn = conn;
        r->method = method;
        int chunked;
        const char *why;
        int status = mf_http_head_check(conn, w->opts->max_body, &chunked, &why);
        if (status) /* answered in this first call: the connection closes after it */
            return queue_error(conn, r, status, why);
        if (chunked)
            mf_http_stall_watch(&h->stall, conn);
        return MHD_YES;
    }
    if (*upload_data_size) {
        mf_http_stall_progress(&h->stall);
        mf_request_body_add(r, upload_data, *upload_data_size, w->opts->max_body);
        *upload_data_size = 0;
        return MHD_YES;
    }
    mf_http_stall_stop(&h->stall); /* the body is in */
    if (r->body_too_large)
        return queue_error(conn, r, 413, "request body too large");
    if (h->phase == ANSWERED) /* called again after the run that waited ended */
        return queue_answer(conn, h);
    if (h->phase != READY)
        return MHD_YES;
    return serve(w, conn, r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    while (n > 0 && (size_t)n < sizeof msg && msg[n - 1] == '\n')
        msg[--n] = '\0';
    if (mf_log_enabled(MF_LOG_DEBUG))
        mf_log_msg(MF_LOG_DEBUG, "http: %s", msg);
}

/* ---- the worker thread ---- */

static void on_daemon_ready(void *ud, uint32_t events)
{
    (void)ud;
    (void)events; /* MHD_run follows every turn */
}

static void *worker_main(void *arg)
{
    mf_worker_t *w = arg;
    mf_vm_t *vm = w->run.vm;
    for (;;) {
        MHD_UNSIGNED_LONG_LONG mhd_ms;
        int64_t wait = MHD_get_timeout(w->daemon, &mhd_ms) == MHD_YES ? (int64_t)mhd_ms : -1;
        mf_loop_turn(w->loop, mf_vm_woken(vm) ? 0 : wait);
        /* A run is wholly on one version: streams of the old one end for the new to begin. */
        if (mf_vm_streaming(vm) && mf_follow_behind(&w->run))
            mf_vm_end_streams(vm);
        if (mf_vm_woken(vm)) {
            mf_lifecycle_busy(w->id, mf_now_ns(), "resumed requests");
            mf_vm_resume_woken(vm);
            mf_lifecycle_busy(w->id, 0, NULL);
        }
        if (w->held && !mf_vm_waiting(vm))
            release_held(w);
        MHD_run(w->daemon);
        mf_http_conn_daemon_ran();
        /* What the daemon's requests armed at 0 (Redis commands to flush) goes now, not after
         * one more wait on the loop. */
        mf_loop_run_due(w->loop);
        if (w->stopping && !mf_vm_waiting(vm) && !w->held)
            break;
    }
    return NULL;
}

int mf_worker_start(mf_worker_t *w, char *err, size_t errlen)
{
    const mf_options_t *o = w->opts;
    atomic_store(&trace_response, o->trace_response);
    atomic_store(&metrics_on, o->metrics);
    mf_probes_serve_metrics(o->metrics);
    if (!cors && mf_cors_new(o, &cors, err, errlen))
        return -1;
    w->loop = mf_loop_new();
    if (!w->loop) {
        snprintf(err, errlen, "worker %d: no event loop: %s", w->id, strerror(errno));
        return -1;
    }
    unsigned timeout_s = (unsigned)((o->idle_timeout_ms + 999) / 1000);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, w->listen_fd, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, timeout_s ? timeout_s : 1, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->max_header, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_ip, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, w},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)mf_http_conn_notify, w->loop},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, w},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* No thread of its own: the worker's loop waits on the daemon's epoll descriptor beside
     * the sockets its runs wait on. */
    w->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
                                 NULL, NULL, on_request, w, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!w->daemon) {
        snprintf(err, errlen, "worker %d: the HTTP daemon did not start", w->id);
        return -1;
    }
    w->accept_fd = w->listen_fd;
    w->listen_fd = -1; /* the daemon owns it now */
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    w->daemon_watch = mf_loop_watch_new(w->loop, info->epoll_fd, on_daemon_ready, w);
    if (mf_loop_watch_set(w->daemon_watch, EPOLLIN)) {
        snprintf(err, errlen, "worker %d: cannot watch the daemon: %s", w->id, strerror(errno));
        return -1;
    }
    mf_vm_set_loop(w->run.vm, w->loop);
    if (pthread_create(&w->thread, NULL, worker_main, w)) {
        snprintf(err, errlen, "worker %d: cannot start its thread", w->id);
        return -1;
    }
    w->thread_started = 1;
    return 0;
}

/* ---- work handed to the worker thread ---- */

typedef struct {
    mf_worker_t *w;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} adoption_t;

static void adopt_now(void *ud)
{
    adoption_t *a = ud;
    /* On failure libmicrohttpd has closed the descriptor itself; on success the connection
     * counts as fresh from its start notification on. */
    MHD_add_connection(a->w->daemon, a->fd, (const struct sockaddr *)&a->addr, a->addrlen);
    mf_http_conn_adopted();
    free(a);
}

int mf_worker_adopt(mf_worker_t *w, int fd, const struct sockaddr *addr, unsigned addrlen)
{
    if (addrlen > sizeof(struct sockaddr_storage) || !w->thread_started) {
        close(fd);
        return -1;
    }
    adoption_t *a = mf_xmalloc(sizeof *a);
    a->w = w;
    a->fd = fd;
    memcpy(&a->addr, addr, addrlen);
    a->addrlen = addrlen;
    /* Fresh while it waits for the worker too: the drain must not end before it is read. */
    mf_http_conn_adopting();
    mf_loop_post(w->loop, adopt_now, a);
    return 0;
}

/* ---- the listener's close ---- */

/* Closing (or shutting down) a listening socket resets every connection in its accept queue and
 * every handshake still under way on it, though each client's connect has already succeeded.
 * So the close comes in steps: no new handshake starts (a socket filter drops a segment with
 * SYN and not ACK; the ACK that completes one under way still passes), the accept queue is
 * emptied until the handshakes under way have completed, and only then the socket shut. */
static int refuse_new_handshakes(int fd)
{
    static struct sock_filter drop_syn[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13), /* the TCP header's flags byte */
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1), /* SYN without ACK */
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
    };
    struct sock_fprog prog = {.len = sizeof drop_syn / sizeof drop_syn[0], .filter = drop_syn};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

/* Takes every connection waiting in the listening socket's accept queue and hands it to the
 * worker: those clients connected before the listener closed. Returns how many. */
static int take_backlog(mf_worker_t *w, int fd)
{
    int n = 0;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return n;
        mf_worker_adopt(w, c, (struct sockaddr *)&ss, len);
        n++;
    }
}

int mf_worker_quiesce(mf_worker_t *w)
{
    if (!w->daemon || w->listen_fd >= 0)
        return 0;
    /* From this thread, not the worker's: a worker busy in a long run must not hold the drain
     * back (libmicrohttpd wakes its loop through the daemon's ITC). */
    MHD_socket fd = MHD_quiesce_daemon(w->daemon);
    if (fd == MHD_INVALID_SOCKET)
        return 0;
    w->listen_fd = fd;
    if (refuse_new_handshakes(fd))
        mf_log_msg(MF_LOG_WARN,
                   "worker %d: new connections are not held off while the listener "
                   "closes (%s)",
                   w->id, strerror(errno));
    return take_backlog(w, fd);
}

int mf_worker_take_backlog(mf_worker_t *w)
{
    return w->listen_fd >= 0 ? take_backlog(w, w->listen_fd) : 0;
}

void mf_worker_close_listener(mf_worker_t *w)
{
    if (w->listen_fd < 0)
        return;
    take_backlog(w, w->listen_fd);
    /* The kernel now refuses new clients or sends them to another socket on the port. */
    shutdown(w->listen_fd, SHUT_RDWR);
}

static void drain_streams_now(void *ud)
{
    mf_vm_drain_streams(((mf_worker_t *)ud)->run.vm);
}

void mf_worker_drain_streams(mf_worker_t *w)
{
    if (w->thread_started)
        mf_loop_post(w->loop, drain_streams_now, w);
}

static void stop_now(void *ud)
{
    ((mf_worker_t *)ud)->stopping = 1;
}

void mf_worker_stop(mf_worker_t *w)
{
    if (w->thread_started) {
        /* The thread ends once no run waits: a suspended connection must not meet
         * MHD_stop_daemon. */
        mf_loop_post(w->loop, stop_now, w);
        pthread_join(w->thread, NULL);
        w->thread_started = 0;
    }
    if (w->run.vm)
        mf_vm_set_loop(w->run.vm, NULL);
    if (w->daemon) {
        MHD_stop_daemon(w->daemon);
        w->daemon = NULL;
    }
    mf_loop_watch_free(w->daemon_watch);
    w->daemon_watch = NULL;
    mf_loop_free(w->loop);
    w->loop = NULL;
    /* Runs never resume once the loop stopped: their orphans go with the worker. */
    while (w->orphans) {
        worker_request_t *h = w->orphans;
        w->orphans = h->orphan_next;
        mf_stream_on_end(h->stream, NULL, NULL);
        mf_stream_unref(h->stream);
        mf_request_end(&h->r);
        free(h);
    }
    while (w->free_requests) {
        mf_request_t *r = w->free_requests;
        w->free_requests = r->next_free;
        free(r);
    }
    w->nfree = 0;
    if (w->listen_fd >= 0) {
        close(w->listen_fd);
        w->listen_fd = -1;
    }
}
