#include "redis/link.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "redis/tls.h"

/* What a read takes from the socket at once: a reply of this size arrives in one call. */
#define READ_CHUNK 16384
/* An output buffer grown past this by a large pipeline is let go once written. */
#define OUT_KEEP 65536
/* The setup commands a link sends at most: those of a setup set, or a PING. */
#define MAX_SETUP (sizeof(((mf_redis_setup_set_t *)0)->cmd) / sizeof(mf_redis_setup_t) + 1)

_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT, "the link's events are poll's too");

typedef enum { TCP_CONNECTING, TLS_HANDSHAKE, SETUP, OPEN, FAILED } phase_t;

struct mf_redis_link {
    phase_t phase;
    int fd;
    SSL *ssl; /* NULL: plain TCP */
    int tls;
    char host[256];
    char where[270]; /* host:port, [host]:port for an IPv6 address: what messages name */
    struct addrinfo *addrs, *addr; /* the addresses the host resolved to; the one being tried */
    mf_buf_t out;
    size_t out_sent;            /* of out.len, written already */
    uint64_t appended, written; /* bytes since the link opened */
    uint32_t read_wants;        /* EPOLLIN; EPOLLOUT while TLS must write to go on reading */
    uint32_t write_wants;       /* EPOLLOUT; EPOLLIN while TLS must read to go on writing */
    uint32_t handshake_wants;
    redisReader *reader;
    int setup_left; /* setup replies still to come */
    int nsetup;
    char setup_names[MAX_SETUP][16];
    int64_t started_ns; /* of the connect, or of the blocking exchange under way */
    mf_redis_link_error_t error;
    char errstr[768];
};

/* SSL_get_error reads the thread's OpenSSL error queue, which must hold nothing older than the
 * call it explains. Emptying it costs more than looking: look first (once per TLS call). */
static void forget_tls_errors(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

/* ---- failing ---- */

/* Marks the link failed with kind and a message, fmt's %s being the server then why. Returns
 * -1. */
static int fail(mf_redis_link_t *l, mf_redis_link_error_t kind, const char *fmt, const char *why)
{
    l->phase = FAILED;
    l->error = kind;
    snprintf(l->errstr, sizeof l->errstr, fmt, l->where, why);
    return -1;
}

static int fail_io(mf_redis_link_t *l, const char *why)
{
    if (l->phase == OPEN)
        return fail(l, MF_REDIS_LINK_EIO, "Redis connection to %s failed: %s", why);
    return fail(l, MF_REDIS_LINK_EIO, "cannot connect to Redis at %s: %s", why);
}

static int fail_tls(mf_redis_link_t *l, int err)
{
    char why[256];
    int verify;
    mf_redis_tls_error(l->ssl, err, &verify, why, sizeof why);
    if (verify)
        return fail(l, MF_REDIS_LINK_EVERIFY,
                    "cannot connect to Redis at %s: its TLS certificate did not verify: %s", why);
    /* A TLS 1.3 handshake ends on the client's side before the server has checked the client's
     * certificate: a refusal comes as an alert in the first read, while setting up. */
    if (l->phase == TLS_HANDSHAKE || (l->phase == SETUP && err == SSL_ERROR_SSL))
        return fail(l, MF_REDIS_LINK_ETLS,
                    "cannot connect to Redis at %s: TLS handshake failed: %s", why);
    return fail_io(l, why);
}

int mf_redis_link_fail(mf_redis_link_t *l, const char *why)
{
    return fail_io(l, why);
}

int mf_redis_link_time_out(mf_redis_link_t *l, int64_t waited_ns)
{
    char why[32];
    snprintf(why, sizeof why, "%lldms", (long long)(waited_ns / 1000000));
    return fail(l, MF_REDIS_LINK_ETIMEOUT,
                l->phase == OPEN ? "Redis at %s did not answer within %s"
                                 : "cannot connect to Redis at %s: no answer within %s",
                why);
}

mf_redis_link_error_t mf_redis_link_error(const mf_redis_link_t *l)
{
    return l->error;
}

const char *mf_redis_link_errstr(const mf_redis_link_t *l)
{
    return l->errstr;
}

/* ---- commands ---- */

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

size_t mf_redis_format_len(const mf_redis_cmd_t *cmds, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        len += 3 + digits((size_t)cmds[i].argc); /* *<argc>\r\n */
        for (int a = 0; a < cmds[i].argc; a++)
            len += 5 + digits(cmds[i].lens[a]) + cmds[i].lens[a]; /* $<len>\r\n<arg>\r\n */
    }
    return len;
}

static char *put_count(char *p, char kind, size_t v)
{
    size_t d = digits(v);
    *p++ = kind;
    for (size_t i = d; i > 0; i--, v /= 10)
        p[i - 1] = (char)('0' + v % 10);
    p += d;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

void mf_redis_format(char *out, const mf_redis_cmd_t *cmds, int n)
{
    for (int i = 0; i < n; i++) {
        out = put_count(out, '*', (size_t)cmds[i].argc);
        for (int a = 0; a < cmds[i].argc; a++) {
            out = put_count(out, '$', cmds[i].lens[a]);
            memcpy(out, cmds[i].argv[a], cmds[i].lens[a]);
            out += cmds[i].lens[a];
            *out++ = '\r';
            *out++ = '\n';
        }
    }
}

void mf_redis_link_append(mf_redis_link_t *l, const char *bytes, size_t len)
{
    mf_buf_append(&l->out, bytes, len);
    l->appended += len;
}

static void append_cmds(mf_redis_link_t *l, const mf_redis_cmd_t *cmds, int n)
{
    size_t len = mf_redis_format_len(cmds, n);
    mf_buf_reserve(&l->out, len);
    mf_redis_format(l->out.data + l->out.len, cmds, n);
    l->out.len += len;
    l->appended += len;
}

uint64_t mf_redis_link_appended(const mf_redis_link_t *l)
{
    return l->appended;
}

uint64_t mf_redis_link_written(const mf_redis_link_t *l)
{
    return l->written;
}

/* ---- bytes ---- */

int mf_redis_link_flush(mf_redis_link_t *l)
{
    if (l->phase == FAILED)
        return -1;
    while (l->out_sent < l->out.len) {
        const char *p = l->out.data + l->out_sent;
        size_t left = l->out.len - l->out_sent;
        ssize_t n;
        if (l->ssl) {
            forget_tls_errors();
            n = SSL_write(l->ssl, p, left > INT32_MAX ? INT32_MAX : (int)left);
            if (n <= 0) {
                int e = SSL_get_error(l->ssl, (int)n);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    l->write_wants = e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
                    return 1;
                }
                return fail_tls(l, e);
            }
        } else {
            n = send(l->fd, p, left, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    l->write_wants = EPOLLOUT;
                    return 1;
                }
                return fail_io(l, strerror(errno));
            }
        }
        l->out_sent += (size_t)n;
        l->written += (uint64_t)n;
    }
    l->out.len = l->out_sent = 0;
    if (l->out.cap > OUT_KEEP)
        mf_buf_free(&l->out);
    l->write_wants = EPOLLOUT;
    return 0;
}

static int feed(mf_redis_link_t *l, const char *buf, size_t n)
{
    if (redisReaderFeed(l->reader, buf, n) != REDIS_OK)
        return fail_io(l, "out of memory for a reply");
    return 0;
}

int mf_redis_link_read(mf_redis_link_t *l)
{
    char buf[READ_CHUNK];
    if (l->phase == FAILED)
        return -1;
    if (l->ssl) {
        /* Records OpenSSL has already taken off the socket show in no event: read them all. */
        do {
            forget_tls_errors();
            int n = SSL_read(l->ssl, buf, sizeof buf);
            if (n <= 0) {
                int e = SSL_get_error(l->ssl, n);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    l->read_wants = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
                    return 0;
                }
                return fail_tls(l, e);
            }
            if (feed(l, buf, (size_t)n))
                return -1;
        } while (SSL_has_pending(l->ssl));
        l->read_wants = EPOLLIN;
        return 0;
    }
    for (;;) {
        ssize_t n = recv(l->fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (feed(l, buf, (size_t)n))
                return -1;
            if ((size_t)n < sizeof buf)
                return 0;
        } else if (n == 0) {
            return fail_io(l, "connection closed by the server");
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        } else if (errno != EINTR) {
            return fail_io(l, strerror(errno));
        }
    }
}

int mf_redis_link_reply(mf_redis_link_t *l, redisReply **reply)
{
    void *r = NULL;
    if (l->phase == FAILED)
        return -1;
    if (redisReaderGetReply(l->reader, &r) != REDIS_OK) {
        char why[160];
        snprintf(why, sizeof why, "not a Redis reply (%s)", l->reader->errstr);
        return fail_io(l, why);
    }
    *reply = r;
    return r != NULL;
}

/* ---- connecting ---- */

/* Tries the addresses left, from l->addr on, until one connects or is connecting. */
static int tcp_start(mf_redis_link_t *l, int err)
{
    for (; l->addr; l->addr = l->addr->ai_next) {
        const struct addrinfo *a = l->addr;
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
            l->fd = fd;
            return 0;
        }
        err = errno;
        close(fd);
    }
    return fail(l, MF_REDIS_LINK_ECONNECT, "cannot connect to Redis at %s: %s",
                strerror(err ? err : ECONNREFUSED));
}

mf_redis_link_t *mf_redis_link_open(const char *host, int port, int tls,
                                    const mf_redis_setup_set_t *setup)
{
    mf_redis_link_t *l = mf_xcalloc(1, sizeof *l);
    l->fd = -1;
    l->tls = tls;
    snprintf(l->host, sizeof l->host, "%s", host);
    snprintf(l->where, sizeof l->where, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    l->read_wants = EPOLLIN;
    l->write_wants = EPOLLOUT;
    l->reader = redisReaderCreate();
    l->started_ns = mf_now_ns();
    l->phase = TCP_CONNECTING;
    for (int i = 0; setup && i < setup->n; i++) {
        const mf_redis_setup_t *s = &setup->cmd[i];
        mf_redis_cmd_t c = {s->argc, (const char **)s->argv, s->lens}; /* only read */
        append_cmds(l, &c, 1);
        snprintf(l->setup_names[l->nsetup++], sizeof l->setup_names[0], "%s", s->argv[0]);
    }
    if (tls && l->nsetup == 0) {
        /* A server that refuses the client's certificate says so after a TLS 1.3 handshake has
         * ended on the client's side: one round trip finds out while still connecting. */
        static const char *ping[] = {"PING"};
        static const size_t ping_len[] = {4};
        append_cmds(l, &(mf_redis_cmd_t){1, ping, ping_len}, 1);
        snprintf(l->setup_names[l->nsetup++], sizeof l->setup_names[0], "PING");
    }
    l->setup_left = l->nsetup;

    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(host, portstr, &hints, &l->addrs);
    if (rc) {
        char why[300];
        snprintf(why, sizeof why, "cannot resolve %s: %s", host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        fail(l, MF_REDIS_LINK_ECONNECT, "cannot connect to Redis at %s: %s", why);
        return l;
    }
    l->addr = l->addrs;
    tcp_start(l, 0);
    return l;
}

/* Whether the TCP connect under way has ended: 0 connected, 1 not yet, -1 no address took it. */
static int tcp_connected(mf_redis_link_t *l)
{
    /* connect(2) again says how the first one went, without waiting. */
    if (connect(l->fd, l->addr->ai_addr, l->addr->ai_addrlen) == 0 || errno == EISCONN)
        return 0;
    if (errno == EALREADY || errno == EINPROGRESS || errno == EINTR)
        return 1;
    int err = errno;
    close(l->fd);
    l->fd = -1;
    l->addr = l->addr->ai_next;
    if (tcp_start(l, err))
        return -1;
    return 1;
}

/* Reads the setup replies that have come: each must be other than an error. */
static int setup_replies(mf_redis_link_t *l)
{
    while (l->setup_left > 0) {
        redisReply *r;
        int got = mf_redis_link_reply(l, &r);
        if (got <= 0)
            return got;
        int refused = r->type == REDIS_REPLY_ERROR;
        if (refused) {
            const char *name = l->setup_names[l->nsetup - l->setup_left];
            char what[64];
            snprintf(what, sizeof what, "Redis %s failed: ", name);
            l->phase = FAILED;
            l->error = strcmp(name, "AUTH") ? MF_REDIS_LINK_ESETUP : MF_REDIS_LINK_EAUTH;
            snprintf(l->errstr, sizeof l->errstr, "%s%.*s (at %s)", what, (int)r->len, r->str,
                     l->where);
        }
        freeReplyObject(r);
        if (refused)
            return -1;
        l->setup_left--;
    }
    return 0;
}

int mf_redis_link_connect(mf_redis_link_t *l)
{
    switch (l->phase) {
    case TCP_CONNECTING: {
        int rc = tcp_connected(l);
        if (rc)
            return rc;
        if (l->tls) {
            l->ssl = mf_redis_tls_session(l->fd, l->host);
            if (!l->ssl)
                return fail(l, MF_REDIS_LINK_ETLS, "cannot connect to Redis at %s: %s",
                            "no TLS session (out of memory)");
            l->phase = TLS_HANDSHAKE;
        } else {
            l->phase = SETUP;
        }
        return mf_redis_link_connect(l);
    }
    case TLS_HANDSHAKE: {
        forget_tls_errors();
        int rc = SSL_do_handshake(l->ssl);
        if (rc != 1) {
            int e = SSL_get_error(l->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                l->handshake_wants = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
                return 1;
            }
            return fail_tls(l, e);
        }
        l->phase = SETUP;
        return mf_redis_link_connect(l);
    }
    case SETUP:
        if (mf_redis_link_flush(l) < 0)
            return -1;
        if (l->setup_left > 0 && (mf_redis_link_read(l) || setup_replies(l)))
            return -1;
        if (l->setup_left > 0)
            return 1;
        l->phase = OPEN;
        return 0;
    case OPEN:
        return 0;
    case FAILED:
        break;
    }
    return -1;
}

uint32_t mf_redis_link_events(const mf_redis_link_t *l)
{
    switch (l->phase) {
    case TCP_CONNECTING:
        return EPOLLOUT;
    case TLS_HANDSHAKE:
        return l->handshake_wants;
    case SETUP:
    case OPEN:
        return l->read_wants | (l->out_sent < l->out.len ? l->write_wants : 0);
    case FAILED:
        break;
    }
    return 0;
}

int mf_redis_link_fd(const mf_redis_link_t *l)
{
    return l->fd;
}

const char *mf_redis_link_server(const mf_redis_link_t *l)
{
    return l->where;
}

void mf_redis_link_close(mf_redis_link_t *l)
{
    if (!l)
        return;
    if (l->ssl) {
        if (l->phase == OPEN) {
            forget_tls_errors();
            SSL_shutdown(l->ssl); /* close_notify, if the socket takes it now; no wait */
        }
        SSL_free(l->ssl);
        forget_tls_errors();
    }
    if (l->fd >= 0)
        close(l->fd);
    if (l->addrs)
        freeaddrinfo(l->addrs);
    redisReaderFree(l->reader);
    mf_buf_free(&l->out);
    free(l);
}

/* ---- blocking ---- */

/* Waits for the link's events until deadline_ns. Returns 0, or -1 (ETIMEOUT) when it passed. */
static int wait_events(mf_redis_link_t *l, int64_t deadline_ns)
{
    for (;;) {
        int64_t left = deadline_ns - mf_now_ns();
        if (left <= 0)
            return mf_redis_link_time_out(l, mf_now_ns() - l->started_ns);
        struct pollfd p = {.fd = l->fd, .events = (short)mf_redis_link_events(l)};
        int rc = poll(&p, 1, (int)((left + 999999) / 1000000));
        if (rc > 0 || (rc < 0 && errno == EINTR))
            return 0;
        if (rc < 0)
            return fail_io(l, strerror(errno));
    }
}

int mf_redis_link_connect_wait(mf_redis_link_t *l, int64_t deadline_ns)
{
    for (;;) {
        int rc = mf_redis_link_connect(l);
        if (rc <= 0)
            return rc;
        if (wait_events(l, deadline_ns))
            return -1;
    }
}

int mf_redis_link_exchange(mf_redis_link_t *l, const mf_redis_cmd_t *cmds, int n,
                           redisReply **replies, int64_t deadline_ns)
{
    int got = 0;
    l->started_ns = mf_now_ns();
    append_cmds(l, cmds, n);
    for (;;) {
        if (mf_redis_link_flush(l) < 0)
            goto fail;
        while (got < n) {
            int rc = mf_redis_link_reply(l, &replies[got]);
            if (rc < 0)
                goto fail;
            if (rc == 0)
                break;
            got++;
        }
        if (got == n)
            return 0;
        if (wait_events(l, deadline_ns) || mf_redis_link_read(l))
            goto fail;
    }
fail:
    for (int i = 0; i < got; i++)
        freeReplyObject(replies[i]);
    return -1;
}

int mf_redis_link_check_idle(mf_redis_link_t *l)
{
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    if (l->phase != OPEN)
        return -1;
    if (poll(&p, 1, 0) == 0)
        return 0;
    /* Readable: the server closed it, or (TLS 1.3) sent a session ticket, which is no reply. */
    if (mf_redis_link_read(l))
        return -1;
    if (l->reader->pos < l->reader->len)
        return fail_io(l, "it sent what nobody asked for");
    return 0;
}
