#define _GNU_SOURCE /* accept4 */
#include "serve/handoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/lifecycle.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "observe/log.h"
#include "serve/probes.h"

#define BUSY_AFTER_NS (50 * 1000000LL)  /* a run this long makes its worker busy */
#define PEEK_WAIT_NS (1000 * 1000000LL) /* a client silent this long goes to a worker unread */
#define MAX_PENDING 1024
#define TICK_MS 10
#define LISTEN_TAG (1ull << 32)

typedef struct {
    int fd, from; /* from: the worker whose socket it waited on */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int64_t since_ns;
} pending_t;

struct mf_handoff {
    mf_worker_t *workers;
    int n;
    mf_admin_t *admin;
    int epfd;
    char *watching; /* per worker: its listening socket is in epfd */
    pending_t pending[MAX_PENDING];
    int npending;
    atomic_int stop;
    pthread_t thread;
};

/* ---- where a connection goes ---- */

/* 1 when the request line starts a request for a host endpoint, 0 when it does not, -1 when
 * too little has arrived to tell. */
static int is_probe_request(const char *buf, size_t n)
{
    static const char *const methods[] = {"GET ", "HEAD "};
    for (int i = 0; i < 2; i++) {
        size_t m = strlen(methods[i]);
        if (n < m) {
            if (!memcmp(buf, methods[i], n))
                return -1;
            continue;
        }
        if (memcmp(buf, methods[i], m))
            continue;
        const char *path = buf + m;
        size_t len = 0;
        while (m + len < n && path[len] != ' ' && path[len] != '?')
            len++;
        if (m + len == n)
            return len < 32 ? -1 : 0; /* every endpoint path is shorter */
        return mf_probes_owns(path, len);
    }
    return 0;
}

/* An idle worker, else the one whose current run began last (the likeliest to finish first). */
static int pick_worker(mf_handoff_t *h, int from)
{
    int best = from;
    int64_t best_since = mf_lifecycle_busy_since(from);
    for (int i = 0; i < h->n; i++) {
        int64_t since = mf_lifecycle_busy_since(h->workers[i].id);
        if (!since)
            return i;
        if (since > best_since) {
            best = i;
            best_since = since;
        }
    }
    return best;
}

static void route(mf_handoff_t *h, pending_t *p, int probe)
{
    const struct sockaddr *addr = (const struct sockaddr *)&p->addr;
    epoll_ctl(h->epfd, EPOLL_CTL_DEL, p->fd, NULL); /* ENOENT when it never waited */
    if (probe > 0)
        mf_admin_adopt(h->admin, p->fd, addr, p->addrlen);
    else
        mf_worker_adopt(&h->workers[pick_worker(h, p->from)], p->fd, addr, p->addrlen);
}

/* Routes p when its request line tells where; returns 0 when it must wait for more bytes. */
static int try_route(mf_handoff_t *h, pending_t *p)
{
    char buf[64];
    ssize_t got = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        close(p->fd); /* the client left before saying anything */
        return 1;
    }
    int probe = got < 0 ? -1 : is_probe_request(buf, (size_t)got);
    if (probe < 0 && mf_now_ns() - p->since_ns < PEEK_WAIT_NS)
        return 0;
    route(h, p, probe);
    return 1;
}

/* ---- the thread ---- */

static void drop_pending(mf_handoff_t *h, int i)
{
    h->pending[i] = h->pending[--h->npending];
}

static void accept_from(mf_handoff_t *h, int w)
{
    while (h->npending < MAX_PENDING) {
        pending_t *p = &h->pending[h->npending];
        p->addrlen = sizeof p->addr;
        p->fd = accept4(h->workers[w].accept_fd, (struct sockaddr *)&p->addr, &p->addrlen,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (p->fd < 0)
            return; /* EAGAIN: the worker's own thread may have taken it */
        p->from = w;
        p->since_ns = mf_now_ns();
        if (try_route(h, p))
            continue;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                 .data.u64 = (uint64_t)p->fd};
        if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, p->fd, &ev)) {
            route(h, p, 0);
            continue;
        }
        h->npending++;
    }
}

static void on_readable(mf_handoff_t *h, int fd)
{
    for (int i = 0; i < h->npending; i++) {
        if (h->pending[i].fd != fd)
            continue;
        if (try_route(h, &h->pending[i]))
            drop_pending(h, i);
        return;
    }
}

static void watch_busy_workers(mf_handoff_t *h, int64_t now)
{
    for (int i = 0; i < h->n; i++) {
        int64_t since = mf_lifecycle_busy_since(h->workers[i].id);
        char busy = since && now - since > BUSY_AFTER_NS;
        if (busy == h->watching[i])
            continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTEN_TAG | (uint64_t)i};
        if (!epoll_ctl(h->epfd, busy ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, h->workers[i].accept_fd, &ev))
            h->watching[i] = busy;
    }
}

static void *run(void *arg)
{
    mf_handoff_t *h = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&h->stop)) {
        int64_t now = mf_now_ns();
        watch_busy_workers(h, now);
        for (int i = 0; i < h->npending; i++) {
            if (now - h->pending[i].since_ns >= PEEK_WAIT_NS) {
                route(h, &h->pending[i], 0);
                drop_pending(h, i--);
            }
        }
        int n = epoll_wait(h->epfd, evs, 64, TICK_MS);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 & LISTEN_TAG)
                accept_from(h, (int)(evs[i].data.u64 & 0xffffffffu));
            else
                on_readable(h, (int)evs[i].data.u64);
        }
    }
    while (h->npending > 0) {
        route(h, &h->pending[0], 0);
        drop_pending(h, 0);
    }
    return NULL;
}

mf_handoff_t *mf_handoff_start(mf_worker_t *workers, int n, mf_admin_t *admin)
{
    mf_handoff_t *h = mf_xcalloc(1, sizeof *h);
    h->workers = workers;
    h->n = n;
    h->admin = admin;
    h->watching = mf_xcalloc((size_t)n, 1);
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->epfd >= 0 && pthread_create(&h->thread, NULL, run, h) == 0)
        return h;
    if (h->epfd >= 0)
        close(h->epfd);
    free(h->watching);
    free(h);
    return NULL;
}

void mf_handoff_stop(mf_handoff_t *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->epfd);
    free(h->watching);
    free(h);
}
