#include "http/conn.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "base/alloc.h"
#include "event/loop.h"

/* libmicrohttpd 0.9.75 in epoll mode reads until a short read, then waits for the socket's next
 * edge. A FIN that arrived with the last bytes raises no further edge, so a client that shut
 * its write side mid-request was left waiting for bytes that cannot come until the idle
 * timeout. Each connection is also watched here for the peer's FIN; after the daemon's next
 * run has taken what was readable, its read side is shut, which raises a fresh edge: the
 * daemon reads the end, drops an incomplete request at once and still answers a complete one. */
typedef struct http_conn {
    mf_watcher_t *watch;
    int fd;
    int requested;  /* a request has begun on it */
    int shut;       /* the peer's FIN was seen (and its read side is, or will be, shut) */
    int first_seen; /* its first byte was checked */
    void (*gone_fn)(void *ud); /* mf_http_conn_on_peer_gone's */
    void *gone_ud;
    struct http_conn *next_shut;
} http_conn_t;

/* Connections accepted that have not begun a request: the drain waits a moment for them. */
static atomic_long fresh_connections;

/* Runs of the daemon on this thread: a stall is judged only once the daemon has run (and could
 * have read) since the last check. */
static _Thread_local unsigned long daemon_runs;

/* Connections whose read side is shut after the daemon's current run (this thread's). */
static _Thread_local http_conn_t *to_shut;

/* The first byte a client sends starts a method (a token) or an empty line. Anything else (a
 * TLS handshake on the plain port, binary junk) can never become a request, but
 * libmicrohttpd would wait for the end of its line until the idle timeout: refused at once. */
static void first_byte_seen(http_conn_t *c)
{
    c->first_seen = 1;
    mf_loop_watch_set(c->watch, EPOLLRDHUP | EPOLLET); /* the end only, from now on */
}

static void check_first_byte(http_conn_t *c)
{
    static const char refusal[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                                  "Content-Length: 0\r\n\r\n";
    unsigned char b;
    /* The daemon may have read the head before this watcher ran: what is left to peek at is
     * the body's. */
    if (c->requested) {
        first_byte_seen(c);
        return;
    }
    if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
        return; /* nothing yet: the next edge tells */
    first_byte_seen(c);
    if (isalnum(b) || b == '\r' || b == '\n' || (b && strchr("!#$%&'*+-.^_`|~", b)))
        return;
    /* Best effort: when the answer does not go out, the close alone refuses. */
    ssize_t sent = send(c->fd, refusal, sizeof refusal - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)sent;
    shutdown(c->fd, SHUT_RDWR); /* the daemon sees a hang-up and closes it */
}

static void on_peer_shut(void *ud, uint32_t events)
{
    http_conn_t *c = ud;
    if (!c->first_seen && (events & EPOLLIN))
        check_first_byte(c);
    /* Once: the shutdown itself wakes every watcher of the socket again. */
    if (!c->shut && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        c->shut = 1;
        c->next_shut = to_shut;
        to_shut = c;
        void (*fn)(void *) = c->gone_fn;
        c->gone_fn = NULL;
        if (fn)
            fn(c->gone_ud);
    }
}

void mf_http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode code)
{
    mf_loop_t *loop = cls;
    http_conn_t *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = mf_xmalloc(sizeof *c);
        c->fd = ci->connect_fd;
        c->requested = 0;
        c->shut = 0;
        c->first_seen = 0;
        c->gone_fn = NULL;
        c->watch = mf_loop_watch_new(loop, c->fd, on_peer_shut, c);
        /* on failure, the idle timeout stays the bound */
        mf_loop_watch_set(c->watch, EPOLLIN | EPOLLRDHUP | EPOLLET);
        check_first_byte(c); /* what came with the handshake, before the daemon reads it */
        *socket_context = c;
        atomic_fetch_add_explicit(&fresh_connections, 1, memory_order_relaxed);
        return;
    }
    if (!c)
        return;
    if (!c->requested)
        atomic_fetch_sub_explicit(&fresh_connections, 1, memory_order_relaxed);
    for (http_conn_t **p = &to_shut; *p; p = &(*p)->next_shut) {
        if (*p == c) {
            *p = c->next_shut;
            break;
        }
    }
    mf_loop_watch_free(c->watch);
    free(c);
    *socket_context = NULL;
}

void mf_http_conn_requested(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    http_conn_t *c = ci ? ci->socket_context : NULL;
    if (c && !c->requested) {
        c->requested = 1;
        atomic_fetch_sub_explicit(&fresh_connections, 1, memory_order_relaxed);
        if (!c->first_seen)
            first_byte_seen(c);
    }
}

int mf_http_conn_on_peer_gone(struct MHD_Connection *conn, void (*fn)(void *ud), void *ud)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    http_conn_t *c = ci ? ci->socket_context : NULL;
    if (!c)
        return -1;
    c->gone_fn = c->shut ? NULL : fn;
    c->gone_ud = ud;
    if (fn && c->shut)
        fn(ud);
    return 0;
}

void mf_http_conn_daemon_ran(void)
{
    daemon_runs++;
    while (to_shut) {
        http_conn_t *c = to_shut;
        to_shut = c->next_shut;
        shutdown(c->fd, SHUT_RD);
    }
}

unsigned long mf_http_conn_daemon_runs(void)
{
    return daemon_runs;
}

long mf_http_conn_fresh(void)
{
    return atomic_load_explicit(&fresh_connections, memory_order_relaxed);
}

void mf_http_conn_adopting(void)
{
    atomic_fetch_add_explicit(&fresh_connections, 1, memory_order_relaxed);
}

void mf_http_conn_adopted(void)
{
    atomic_fetch_sub_explicit(&fresh_connections, 1, memory_order_relaxed);
}
