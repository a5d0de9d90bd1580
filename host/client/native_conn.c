/* The native engine's connections: per upstream host:port a pool of idle keep-alive
 * connections, most recent first; new ones resolved (resolve.c) and connected without blocking,
 * address after address; at most MAX_CONNECTIONS per worker, calls beyond that waiting for one
 * in order. An idle connection stays watched: when its upstream closes it (or sends what nobody
 * asked for) it is closed at once instead of failing the next call. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "client/private.h"

#define MAX_CONNECTIONS 256 /* per worker, all upstreams together (as libcurl's calls) */
#define POOL_BUCKETS 64
#define MAX_IDLE_NS (118 * 1000000000LL) /* an older idle connection is not reused (libcurl's) */

struct mf_http_pool {
    char name[128]; /* host:port */
    mf_http_conn_t *idle;
    mf_http_pool_t *next; /* in its bucket */
};

static void serve_queue(void *ud);

/* ---- connections ---- */

static void on_conn_event(void *ud, uint32_t events);

static mf_http_pool_t *pool_of(mf_http_client_t *c, const char *name)
{
    if (!c->pools) {
        c->pools = mf_xcalloc(POOL_BUCKETS, sizeof *c->pools);
        mf_timer_init(&c->queue_timer, serve_queue, c);
    }
    size_t b = mf_hash(MF_HASH_INIT, name, strlen(name)) % POOL_BUCKETS;
    mf_http_pool_t *p = c->pools[b];
    while (p && strcmp(p->name, name) != 0)
        p = p->next;
    if (!p) {
        p = mf_xcalloc(1, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", name);
        p->next = c->pools[b];
        c->pools[b] = p;
    }
    return p;
}

static void close_fd(mf_http_conn_t *conn)
{
    if (conn->watch)
        mf_loop_watch_free(conn->watch);
    if (conn->fd >= 0)
        close(conn->fd);
    conn->watch = NULL;
    conn->fd = -1;
    conn->events = 0;
}

/* conn is closed and forgotten; its place is free. */
static void conn_drop(mf_http_conn_t *conn)
{
    close_fd(conn);
    conn->c->open_conns--;
    free(conn);
}

/* conn is closed and its place given to the next call waiting for one. */
static void conn_close(mf_http_conn_t *conn)
{
    mf_http_client_t *c = conn->c;
    conn_drop(conn);
    if (c->conn_queue)
        mf_loop_timer_start(c->loop, &c->queue_timer, 0); /* not from inside another call */
}

void mf_http_client__conn_watch(mf_http_conn_t *conn, uint32_t events)
{
    if (!conn->watch) {
        conn->watch = mf_loop_watch_new(conn->c->loop, conn->fd, on_conn_event, conn);
        conn->events = 0;
    }
    if (conn->events != events && mf_loop_watch_set(conn->watch, events) == 0)
        conn->events = events;
}

void mf_http_client__conn_unwatch(mf_http_conn_t *conn)
{
    mf_loop_watch_free(conn->watch);
    conn->watch = NULL;
    conn->events = 0;
}

static void unlink_idle(mf_http_conn_t *conn)
{
    for (mf_http_conn_t **p = &conn->pool->idle; *p; p = &(*p)->next_idle)
        if (*p == conn) {
            *p = conn->next_idle;
            return;
        }
}

/* An idle connection of any upstream, closed to make room; 0 when none is idle. */
static int close_some_idle(mf_http_client_t *c)
{
    for (int b = 0; b < POOL_BUCKETS; b++)
        for (mf_http_pool_t *p = c->pools[b]; p; p = p->next)
            if (p->idle) {
                mf_http_conn_t *conn = p->idle;
                p->idle = conn->next_idle;
                conn_drop(conn);
                return 1;
            }
    return 0;
}

/* ---- connecting ---- */

/* The next of x's addresses, until one takes or none is left. */
static void try_connect(mf_http_xfer_t *x)
{
    mf_http_native_t *nat = &x->nat;
    mf_http_conn_t *conn = nat->conn;
    int sys = conn->last_errno;
    while (nat->next_addr < nat->addrs.n) {
        int i = nat->next_addr++;
        struct sockaddr_storage a = nat->addrs.addr[i];
        uint16_t port = htons((uint16_t)nat->url->port);
        if (a.ss_family == AF_INET)
            ((struct sockaddr_in *)&a)->sin_port = port;
        else
            ((struct sockaddr_in6 *)&a)->sin6_port = port;
        if (mf_http_client__own_listener((struct sockaddr *)&a, x->refused, sizeof x->refused)) {
            mf_http_client__native_failed(x, MF_HTTP_ERR_CONNECT, "");
            return;
        }
        int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            sys = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&a, nat->addrs.len[i]) < 0 && errno != EINPROGRESS) {
            sys = errno;
            close(fd);
            continue;
        }
        conn->fd = fd;
        conn->watch = mf_loop_watch_new(x->c->loop, fd, on_conn_event, conn);
        mf_http_client__conn_watch(conn, EPOLLOUT);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof msg, "could not connect to %s: %s", nat->url->upstream,
             sys ? strerror(sys) : "no address");
    mf_http_client__native_failed(x, MF_HTTP_ERR_CONNECT, msg);
}

static void connect_done(mf_http_conn_t *conn)
{
    int sys = 0;
    socklen_t len = sizeof sys;
    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &sys, &len) < 0)
        sys = errno;
    if (sys == 0) {
        conn->connected = 1;
        mf_http_client__native_connected(conn->x);
        return;
    }
    conn->last_errno = sys;
    close_fd(conn);
    try_connect(conn->x);
}

static void on_name(mf_http_name_wait_t *w, const mf_http_addrs_t *addrs, const char *err)
{
    mf_http_xfer_t *x = (mf_http_xfer_t *)((char *)w - offsetof(mf_http_xfer_t, nat.name_wait));
    if (!addrs) {
        mf_http_client__native_failed(x, MF_HTTP_ERR_RESOLVE, err);
        return;
    }
    x->nat.addrs = *addrs;
    x->nat.next_addr = 0;
    try_connect(x);
}

static void on_conn_event(void *ud, uint32_t events)
{
    mf_http_conn_t *conn = ud;
    if (!conn->x) { /* idle: closed by its upstream, or it spoke unasked */
        unlink_idle(conn);
        conn_close(conn);
    } else if (!conn->connected) {
        connect_done(conn);
    } else {
        mf_http_client__native_ready(conn->x, events);
    }
}

/* ---- the calls' side ---- */

/* A new connection for x: its slot is taken now, its address comes. */
static void open_new(mf_http_xfer_t *x, mf_http_pool_t *pool)
{
    mf_http_client_t *c = x->c;
    mf_http_native_t *nat = &x->nat;
    mf_http_conn_t *conn = mf_xcalloc(1, sizeof *conn);
    conn->c = c;
    conn->pool = pool;
    conn->fd = -1;
    conn->x = x;
    c->open_conns++;
    nat->conn = conn;
    if (!c->names)
        c->names = mf_http_client__names_new(c->loop);
    char host[128];
    const char *h = nat->url->upstream;
    int len = nat->url->host_len;
    if (len >= 2 && h[0] == '[') { /* an IPv6 address */
        h++;
        len -= 2;
    }
    snprintf(host, sizeof host, "%.*s", len, h);
    nat->name_wait.done = on_name;
    if (mf_http_client__resolve(c->names, host, &nat->addrs, &nat->name_wait)) {
        nat->next_addr = 0;
        try_connect(x);
    }
}

void mf_http_client__conn_get(mf_http_xfer_t *x)
{
    mf_http_client_t *c = x->c;
    mf_http_pool_t *pool = pool_of(c, x->nat.url->upstream);
    mf_http_conn_t *conn;
    int64_t now = mf_now_ns();
    /* Going again after a reused connection died: another idle one may be as stale. */
    while (!x->nat.fresh_retry && (conn = pool->idle)) {
        pool->idle = conn->next_idle;
        if (now - conn->idle_since > MAX_IDLE_NS) {
            conn_drop(conn);
            continue;
        }
        conn->x = x;
        x->nat.conn = conn;
        mf_http_client__native_connected(x);
        return;
    }
    if (c->open_conns >= MAX_CONNECTIONS && !close_some_idle(c)) {
        x->nat.waiting_conn = 1;
        x->nat.next_waiting = NULL;
        if (c->conn_queue_tail)
            c->conn_queue_tail->nat.next_waiting = x;
        else
            c->conn_queue = x;
        c->conn_queue_tail = x;
        return;
    }
    open_new(x, pool);
}

static void serve_queue(void *ud)
{
    mf_http_client_t *c = ud;
    while (c->conn_queue) {
        mf_http_xfer_t *x = c->conn_queue;
        if (!pool_of(c, x->nat.url->upstream)->idle && c->open_conns >= MAX_CONNECTIONS &&
            !close_some_idle(c))
            break;
        c->conn_queue = x->nat.next_waiting;
        if (!c->conn_queue)
            c->conn_queue_tail = NULL;
        x->nat.waiting_conn = 0;
        mf_http_client__conn_get(x);
    }
}

void mf_http_client__conn_forget(mf_http_xfer_t *x)
{
    mf_http_client_t *c = x->c;
    mf_http_native_t *nat = &x->nat;
    mf_http_client__resolve_cancel(&nat->name_wait);
    if (!nat->waiting_conn)
        return;
    mf_http_xfer_t *prev = NULL;
    for (mf_http_xfer_t *w = c->conn_queue; w; prev = w, w = w->nat.next_waiting)
        if (w == x) {
            if (prev)
                prev->nat.next_waiting = x->nat.next_waiting;
            else
                c->conn_queue = x->nat.next_waiting;
            if (c->conn_queue_tail == x)
                c->conn_queue_tail = prev;
            break;
        }
    nat->waiting_conn = 0;
}

void mf_http_client__conn_put(mf_http_xfer_t *x, int keep)
{
    mf_http_conn_t *conn = x->nat.conn;
    x->nat.conn = NULL;
    if (!conn)
        return;
    mf_http_client__resolve_cancel(&x->nat.name_wait);
    conn->x = NULL;
    if (!keep || !conn->connected) {
        conn_close(conn);
        return;
    }
    conn->exchanges++;
    conn->idle_since = mf_now_ns();
    mf_http_client__conn_watch(conn, EPOLLIN);
    conn->next_idle = conn->pool->idle;
    conn->pool->idle = conn;
    if (conn->c->conn_queue)
        mf_loop_timer_start(conn->c->loop, &conn->c->queue_timer, 0);
}

void mf_http_client__conns_free(mf_http_client_t *c)
{
    if (!c->pools)
        return;
    mf_loop_timer_stop(c->loop, &c->queue_timer);
    for (int b = 0; b < POOL_BUCKETS; b++)
        while (c->pools[b]) {
            mf_http_pool_t *p = c->pools[b];
            c->pools[b] = p->next;
            while (p->idle) {
                mf_http_conn_t *conn = p->idle;
                p->idle = conn->next_idle;
                close_fd(conn);
                free(conn);
            }
            free(p);
        }
    free(c->pools);
    c->pools = NULL;
}
