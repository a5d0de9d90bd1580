#include "event/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"

#define MAX_EVENTS 64

struct mf_watcher {
    mf_loop_t *loop;
    int fd;
    uint32_t events; /* what epoll has for fd; 0 with added == 0: not registered */
    int added;
    void (*fn)(void *ud, uint32_t events); /* NULL once freed (a zombie) */
    void *ud;
    mf_watcher_t *next_zombie;
};

typedef struct post {
    void (*fn)(void *ud);
    void *ud;
    struct post *next;
} post_t;

struct mf_loop {
    int epfd;
    int wake_fd; /* eventfd: mf_loop_post's signal */
    mf_timer_t **heap;
    int nheap, cap;
    mf_watcher_t *zombies; /* freed at the end of the turn: an event for them may be pending */
    pthread_mutex_t post_mu;
    post_t *posts, *posts_tail;
    struct {
        const mf_loop_key_t *key;
        void *service;
        void (*free_fn)(void *);
    } services[MF_LOOP_MAX_SERVICES];
    int nservices;
};

mf_loop_t *mf_loop_new(void)
{
    mf_loop_t *loop = mf_xcalloc(1, sizeof *loop);
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&loop->post_mu, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (loop->epfd < 0 || loop->wake_fd < 0 ||
        epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev)) {
        mf_loop_free(loop);
        return NULL;
    }
    return loop;
}

static void free_zombies(mf_loop_t *loop)
{
    while (loop->zombies) {
        mf_watcher_t *w = loop->zombies;
        loop->zombies = w->next_zombie;
        free(w);
    }
}

void mf_loop_free(mf_loop_t *loop)
{
    if (!loop)
        return;
    for (int i = 0; i < loop->nservices; i++)
        if (loop->services[i].service)
            loop->services[i].free_fn(loop->services[i].service);
    free_zombies(loop);
    while (loop->posts) {
        post_t *p = loop->posts;
        loop->posts = p->next;
        free(p);
    }
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (loop->wake_fd >= 0)
        close(loop->wake_fd);
    pthread_mutex_destroy(&loop->post_mu);
    free(loop->heap);
    free(loop);
}

/* ---- descriptors ---- */

mf_watcher_t *mf_loop_watch_new(mf_loop_t *loop, int fd, void (*fn)(void *ud, uint32_t events),
                                void *ud)
{
    mf_watcher_t *w = mf_xcalloc(1, sizeof *w);
    w->loop = loop;
    w->fd = fd;
    w->fn = fn;
    w->ud = ud;
    return w;
}

int mf_loop_watch_set(mf_watcher_t *w, uint32_t events)
{
    if (events == w->events && w->added)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    int op = w->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(w->loop->epfd, op, w->fd, &ev))
        return -1;
    w->added = 1;
    w->events = events;
    return 0;
}

void mf_loop_watch_free(mf_watcher_t *w)
{
    if (!w)
        return;
    if (w->added)
        epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL); /* fails once fd is closed: fine */
    w->fn = NULL;
    w->next_zombie = w->loop->zombies;
    w->loop->zombies = w;
}

/* ---- timers: a binary min-heap on at_ns ---- */

void mf_timer_init(mf_timer_t *t, void (*fn)(void *ud), void *ud)
{
    t->at_ns = 0;
    t->fn = fn;
    t->ud = ud;
    t->slot = -1;
}

static void heap_set(mf_loop_t *loop, int i, mf_timer_t *t)
{
    loop->heap[i] = t;
    t->slot = i;
}

static void sift_up(mf_loop_t *loop, int i)
{
    mf_timer_t *t = loop->heap[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (loop->heap[parent]->at_ns <= t->at_ns)
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void sift_down(mf_loop_t *loop, int i)
{
    mf_timer_t *t = loop->heap[i];
    for (;;) {
        int child = 2 * i + 1;
        if (child >= loop->nheap)
            break;
        if (child + 1 < loop->nheap && loop->heap[child + 1]->at_ns < loop->heap[child]->at_ns)
            child++;
        if (loop->heap[child]->at_ns >= t->at_ns)
            break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

void mf_loop_timer_stop(mf_loop_t *loop, mf_timer_t *t)
{
    int i = t->slot;
    if (i < 0)
        return;
    t->slot = -1;
    mf_timer_t *last = loop->heap[--loop->nheap];
    if (i == loop->nheap)
        return;
    heap_set(loop, i, last);
    sift_down(loop, i);
    sift_up(loop, last->slot);
}

void mf_loop_timer_start(mf_loop_t *loop, mf_timer_t *t, int64_t at_ns)
{
    mf_loop_timer_stop(loop, t);
    if (loop->nheap == loop->cap) {
        loop->cap = loop->cap ? loop->cap * 2 : 16;
        loop->heap = mf_xrealloc(loop->heap, (size_t)loop->cap * sizeof *loop->heap);
    }
    t->at_ns = at_ns;
    heap_set(loop, loop->nheap++, t);
    sift_up(loop, t->slot);
}

static int run_timers(mf_loop_t *loop, int64_t now)
{
    int n = 0;
    while (loop->nheap > 0 && loop->heap[0]->at_ns <= now) {
        mf_timer_t *t = loop->heap[0];
        mf_loop_timer_stop(loop, t);
        t->fn(t->ud); /* may arm timers again, this one included */
        n++;
    }
    return n;
}

/* ---- posts ---- */

void mf_loop_post(mf_loop_t *loop, void (*fn)(void *ud), void *ud)
{
    post_t *p = mf_xmalloc(sizeof *p);
    p->fn = fn;
    p->ud = ud;
    p->next = NULL;
    pthread_mutex_lock(&loop->post_mu);
    if (loop->posts_tail)
        loop->posts_tail->next = p;
    else
        loop->posts = p;
    loop->posts_tail = p;
    pthread_mutex_unlock(&loop->post_mu);
    uint64_t one = 1;
    while (write(loop->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static int run_posts(mf_loop_t *loop)
{
    uint64_t count;
    while (read(loop->wake_fd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&loop->post_mu);
    post_t *p = loop->posts;
    loop->posts = loop->posts_tail = NULL;
    pthread_mutex_unlock(&loop->post_mu);
    int n = 0;
    while (p) {
        post_t *next = p->next;
        p->fn(p->ud);
        free(p);
        p = next;
        n++;
    }
    return n;
}

/* ---- services ---- */

static int service_slot(const mf_loop_t *loop, const mf_loop_key_t *key)
{
    for (int i = 0; i < loop->nservices; i++)
        if (loop->services[i].key == key)
            return i;
    return -1;
}

void *mf_loop_service(mf_loop_t *loop, const mf_loop_key_t *key)
{
    int i = service_slot(loop, key);
    return i < 0 ? NULL : loop->services[i].service;
}

void mf_loop_set_service(mf_loop_t *loop, const mf_loop_key_t *key, void *service,
                         void (*free_fn)(void *))
{
    int i = service_slot(loop, key);
    if (i < 0) {
        if (loop->nservices == MF_LOOP_MAX_SERVICES)
            abort(); /* a new kind of service: raise MF_LOOP_MAX_SERVICES */
        i = loop->nservices++;
        loop->services[i].key = key;
    }
    loop->services[i].service = service;
    loop->services[i].free_fn = free_fn;
}

/* ---- the turn ---- */

int mf_loop_run_due(mf_loop_t *loop)
{
    return loop->nheap > 0 ? run_timers(loop, mf_now_ns()) : 0;
}

int mf_loop_turn(mf_loop_t *loop, int64_t max_wait_ms)
{
    struct epoll_event events[MAX_EVENTS];
    int64_t wait = max_wait_ms;
    if (loop->nheap > 0) {
        int64_t until = loop->heap[0]->at_ns - mf_now_ns();
        int64_t ms = until <= 0 ? 0 : (until + 999999) / 1000000;
        if (wait < 0 || ms < wait)
            wait = ms;
    }
    if (wait > 1000000)
        wait = 1000000;
    int got = epoll_wait(loop->epfd, events, MAX_EVENTS, (int)wait);
    int ran = 0, posted = 0;
    for (int i = 0; i < got; i++) {
        mf_watcher_t *w = events[i].data.ptr;
        if (!w) {
            posted = 1;
            continue;
        }
        if (w->fn) {
            w->fn(w->ud, events[i].events);
            ran++;
        }
    }
    if (loop->nheap > 0)
        ran += run_timers(loop, mf_now_ns());
    if (posted)
        ran += run_posts(loop);
    free_zombies(loop);
    return ran;
}
