/* A worker's event loop: every wait of a request (Redis, outbound HTTP, sleeps) resumes through
 * it, so a timer that fires twice or never, or a watcher that fires after it was freed, is a
 * request resumed twice, never, or into freed memory. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/clock.h"
#include "event/loop.h"
#include "test.h"

#define MS 1000000LL

/* ---- timers ---- */

typedef struct {
    int order[256]; /* the ids of fired timers, in firing order */
    int n;
} fired_t;

typedef struct {
    fired_t *fired;
    int id;
    mf_timer_t timer;
} tagged_timer_t;

static void on_tagged(void *ud)
{
    tagged_timer_t *t = ud;
    t->fired->order[t->fired->n++] = t->id;
}

/* Turns until `want` timers have fired or a second has passed. */
static void turn_until(mf_loop_t *loop, const fired_t *f, int want)
{
    int64_t give_up = mf_now_ns() + 1000 * MS;
    while (f->n < want && mf_now_ns() < give_up)
        mf_loop_turn(loop, 10);
}

TEST(timers_fire_in_order_of_their_time_and_once)
{
    mf_loop_t *loop = mf_loop_new();
    ASSERT_TRUE(loop != NULL);
    fired_t f = {.n = 0};
    enum { N = 200 };
    static tagged_timer_t ts[N];
    int64_t now = mf_now_ns();
    srand(7);
    /* Armed out of order, some sharing a time, past and future alike: the heap sorts them. */
    for (int i = 0; i < N; i++) {
        ts[i] = (tagged_timer_t){.fired = &f, .id = i};
        mf_timer_init(&ts[i].timer, on_tagged, &ts[i]);
        mf_loop_timer_start(loop, &ts[i].timer, now + (rand() % 40 - 10) * MS);
    }
    turn_until(loop, &f, N);
    ASSERT_EQ_INT(f.n, N);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        seen[f.order[i]]++;
        if (i > 0)
            ASSERT_TRUE(ts[f.order[i - 1]].timer.at_ns <= ts[f.order[i]].timer.at_ns);
    }
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(seen[i], 1);
    /* Nothing is left to fire. */
    ASSERT_EQ_INT(mf_loop_turn(loop, 20), 0);
    ASSERT_EQ_INT(f.n, N);
    mf_loop_free(loop);
}

TEST(a_timer_does_not_fire_before_its_time)
{
    mf_loop_t *loop = mf_loop_new();
    fired_t f = {.n = 0};
    tagged_timer_t t = {.fired = &f, .id = 1};
    mf_timer_init(&t.timer, on_tagged, &t);
    int64_t start = mf_now_ns();
    mf_loop_timer_start(loop, &t.timer, start + 40 * MS);
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 0);
    ASSERT_EQ_INT(f.n, 0);
    /* A turn waits for the timer, and no longer. */
    ASSERT_EQ_INT(mf_loop_turn(loop, 5000), 1);
    int64_t took = mf_now_ns() - start;
    ASSERT_EQ_INT(f.n, 1);
    ASSERT_TRUE(took >= 40 * MS);
    ASSERT_TRUE(took < 1000 * MS);
    mf_loop_free(loop);
}

TEST(rearming_moves_a_timer_and_stopping_cancels_it)
{
    mf_loop_t *loop = mf_loop_new();
    fired_t f = {.n = 0};
    tagged_timer_t a = {.fired = &f, .id = 1}, b = {.fired = &f, .id = 2},
                   c = {.fired = &f, .id = 3};
    mf_timer_init(&a.timer, on_tagged, &a);
    mf_timer_init(&b.timer, on_tagged, &b);
    mf_timer_init(&c.timer, on_tagged, &c);
    mf_loop_timer_stop(loop, &a.timer); /* never armed: nothing to do */
    int64_t now = mf_now_ns();
    mf_loop_timer_start(loop, &a.timer, now + 3600 * 1000 * MS);
    mf_loop_timer_start(loop, &b.timer, now - MS);
    mf_loop_timer_start(loop, &c.timer, now - 2 * MS);
    mf_loop_timer_start(loop, &a.timer, now - 3 * MS); /* rearmed: earlier, and armed once */
    mf_loop_timer_stop(loop, &b.timer);
    mf_loop_timer_stop(loop, &b.timer); /* twice is harmless */
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 2);
    ASSERT_EQ_INT(f.n, 2);
    ASSERT_EQ_INT(f.order[0], 1);
    ASSERT_EQ_INT(f.order[1], 3);
    ASSERT_EQ_INT(mf_loop_turn(loop, 20), 0);
    ASSERT_EQ_INT(f.n, 2);
    /* A fired timer can be armed again. */
    mf_loop_timer_start(loop, &a.timer, mf_now_ns());
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 1);
    ASSERT_EQ_INT(f.n, 3);
    mf_loop_free(loop);
}

TEST(stopping_timers_in_the_middle_keeps_the_rest_in_order)
{
    mf_loop_t *loop = mf_loop_new();
    fired_t f = {.n = 0};
    enum { N = 64 };
    static tagged_timer_t ts[N];
    int64_t now = mf_now_ns();
    for (int i = 0; i < N; i++) {
        ts[i] = (tagged_timer_t){.fired = &f, .id = i};
        mf_timer_init(&ts[i].timer, on_tagged, &ts[i]);
        mf_loop_timer_start(loop, &ts[i].timer, now - (int64_t)((i * 37) % N) * MS);
    }
    for (int i = 0; i < N; i += 3)
        mf_loop_timer_stop(loop, &ts[i].timer);
    mf_loop_turn(loop, 0);
    ASSERT_EQ_INT(f.n, N - (N + 2) / 3);
    for (int i = 0; i < f.n; i++) {
        ASSERT_TRUE(f.order[i] % 3 != 0);
        if (i > 0)
            ASSERT_TRUE(ts[f.order[i - 1]].timer.at_ns <= ts[f.order[i]].timer.at_ns);
    }
    mf_loop_free(loop);
}

typedef struct {
    mf_loop_t *loop;
    mf_timer_t timer;
    int left, runs;
} repeating_t;

static void on_repeat(void *ud)
{
    repeating_t *r = ud;
    r->runs++;
    if (--r->left > 0)
        mf_loop_timer_start(r->loop, &r->timer, mf_now_ns() + MS);
}

TEST(a_timer_can_rearm_itself_from_its_callback)
{
    mf_loop_t *loop = mf_loop_new();
    repeating_t r = {.loop = loop, .left = 5};
    mf_timer_init(&r.timer, on_repeat, &r);
    mf_loop_timer_start(loop, &r.timer, mf_now_ns());
    int64_t give_up = mf_now_ns() + 1000 * MS;
    while (r.left > 0 && mf_now_ns() < give_up)
        mf_loop_turn(loop, 100);
    ASSERT_EQ_INT(r.runs, 5);
    ASSERT_EQ_INT(mf_loop_turn(loop, 10), 0);
    ASSERT_EQ_INT(r.runs, 5);
    mf_loop_free(loop);
}

TEST(run_due_runs_only_the_due_timers_in_order_without_waiting)
{
    mf_loop_t *loop = mf_loop_new();
    fired_t f = {.n = 0};
    tagged_timer_t at0 = {.fired = &f, .id = 0}, past = {.fired = &f, .id = 1},
                   later = {.fired = &f, .id = 2};
    mf_timer_init(&at0.timer, on_tagged, &at0);
    mf_timer_init(&past.timer, on_tagged, &past);
    mf_timer_init(&later.timer, on_tagged, &later);
    int64_t now = mf_now_ns();
    mf_loop_timer_start(loop, &later.timer, now + 1000 * MS);
    mf_loop_timer_start(loop, &past.timer, now - MS);
    mf_loop_timer_start(loop, &at0.timer, 0);
    ASSERT_EQ_INT(mf_loop_run_due(loop), 2);
    ASSERT_EQ_INT(f.n, 2);
    ASSERT_EQ_INT(f.order[0], 0);
    ASSERT_EQ_INT(f.order[1], 1);
    ASSERT_TRUE(!mf_timer_armed(&at0.timer) && !mf_timer_armed(&past.timer));
    ASSERT_TRUE(mf_timer_armed(&later.timer));
    ASSERT_EQ_INT(mf_loop_run_due(loop), 0);
    ASSERT_EQ_INT(f.n, 2);
    mf_loop_free(loop);
}

/* ---- descriptors ---- */

typedef struct {
    int fd;
    int calls;
    uint32_t events;
    mf_watcher_t *w, **other; /* other: a watcher this one frees when it fires */
} watch_t;

static void on_ready(void *ud, uint32_t events)
{
    watch_t *wt = ud;
    wt->calls++;
    wt->events |= events;
    char c;
    if (events & EPOLLIN)
        (void)!read(wt->fd, &c, 1);
    if (wt->other && *wt->other) {
        mf_loop_watch_free(*wt->other);
        *wt->other = NULL;
    }
}

/* Makes a pipe p and a watcher of its read end waiting for EPOLLIN into wt. */
static int watch_pipe(mf_loop_t *loop, int p[2], watch_t *wt)
{
    if (pipe(p))
        return -1;
    *wt = (watch_t){.fd = p[0]};
    wt->w = mf_loop_watch_new(loop, p[0], on_ready, wt);
    return mf_loop_watch_set(wt->w, EPOLLIN);
}

TEST(a_watcher_fires_when_its_pipe_is_readable)
{
    mf_loop_t *loop = mf_loop_new();
    int p[2];
    watch_t wt;
    ASSERT_EQ_INT(watch_pipe(loop, p, &wt), 0);
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 0);
    ASSERT_EQ_INT(wt.calls, 0);
    ASSERT_EQ_INT(write(p[1], "x", 1), 1);
    ASSERT_EQ_INT(mf_loop_turn(loop, 1000), 1);
    ASSERT_EQ_INT(wt.calls, 1);
    ASSERT_TRUE(wt.events & EPOLLIN);
    /* Read out: quiet again. */
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 0);
    ASSERT_EQ_INT(wt.calls, 1);

    /* Waiting for nothing: the descriptor stays known but does not fire. */
    ASSERT_EQ_INT(mf_loop_watch_set(wt.w, 0), 0);
    ASSERT_EQ_INT(write(p[1], "y", 1), 1);
    ASSERT_EQ_INT(mf_loop_turn(loop, 20), 0);
    ASSERT_EQ_INT(wt.calls, 1);
    ASSERT_EQ_INT(mf_loop_watch_set(wt.w, EPOLLIN), 0);
    ASSERT_EQ_INT(mf_loop_turn(loop, 1000), 1);
    ASSERT_EQ_INT(wt.calls, 2);

    /* Freed: nothing fires any more. */
    mf_loop_watch_free(wt.w);
    ASSERT_EQ_INT(write(p[1], "z", 1), 1);
    ASSERT_EQ_INT(mf_loop_turn(loop, 20), 0);
    ASSERT_EQ_INT(wt.calls, 2);
    close(p[0]);
    close(p[1]);
    mf_loop_free(loop);
}

TEST(a_watcher_hears_the_other_end_close)
{
    mf_loop_t *loop = mf_loop_new();
    int p[2];
    watch_t wt;
    ASSERT_EQ_INT(watch_pipe(loop, p, &wt), 0);
    close(p[1]);
    ASSERT_EQ_INT(mf_loop_turn(loop, 1000), 1);
    ASSERT_TRUE(wt.events & EPOLLHUP);
    mf_loop_watch_free(wt.w);
    close(p[0]);
    mf_loop_free(loop);
}

TEST(a_watcher_freed_during_the_turn_does_not_fire_in_it)
{
    mf_loop_t *loop = mf_loop_new();
    int a[2], b[2];
    watch_t wa, wb;
    ASSERT_EQ_INT(watch_pipe(loop, a, &wa), 0);
    ASSERT_EQ_INT(watch_pipe(loop, b, &wb), 0);
    wa.other = &wb.w; /* whichever fires first frees the other */
    wb.other = &wa.w;
    ASSERT_EQ_INT(write(a[1], "x", 1), 1);
    ASSERT_EQ_INT(write(b[1], "x", 1), 1);
    ASSERT_EQ_INT(mf_loop_turn(loop, 1000), 1);
    ASSERT_EQ_INT(wa.calls + wb.calls, 1);
    ASSERT_EQ_INT(mf_loop_turn(loop, 20), 0);
    ASSERT_EQ_INT(wa.calls + wb.calls, 1);
    mf_loop_watch_free(wa.w ? wa.w : wb.w);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    mf_loop_free(loop);
}

/* ---- posts and the turn ---- */

typedef struct {
    pthread_t ran_on;
    int order[100];
    int n;
} posted_t;

typedef struct {
    posted_t *p;
    int id;
} post_arg_t;

static void on_posted(void *ud)
{
    post_arg_t *a = ud;
    a->p->ran_on = pthread_self();
    a->p->order[a->p->n++] = a->id;
}

typedef struct {
    mf_loop_t *loop;
    post_arg_t args[100];
    int delay_ms;
} poster_t;

static void *post_all(void *ud)
{
    poster_t *ps = ud;
    usleep(ps->delay_ms * 1000);
    for (int i = 0; i < 100; i++)
        mf_loop_post(ps->loop, on_posted, &ps->args[i]);
    return NULL;
}

TEST(posts_from_another_thread_run_on_the_loops_turn_in_order)
{
    mf_loop_t *loop = mf_loop_new();
    posted_t p = {.n = 0};
    poster_t ps = {.loop = loop, .delay_ms = 30};
    for (int i = 0; i < 100; i++)
        ps.args[i] = (post_arg_t){.p = &p, .id = i};
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, post_all, &ps), 0);
    /* A waiting turn is woken by the post. */
    int64_t start = mf_now_ns();
    while (p.n < 100 && mf_now_ns() - start < 5000 * MS)
        mf_loop_turn(loop, 5000);
    int64_t took = mf_now_ns() - start;
    pthread_join(th, NULL);
    ASSERT_EQ_INT(p.n, 100);
    ASSERT_TRUE(took < 2000 * MS);
    ASSERT_TRUE(pthread_equal(p.ran_on, pthread_self()));
    for (int i = 0; i < 100; i++)
        ASSERT_EQ_INT(p.order[i], i);
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 0);
    mf_loop_free(loop);
}

TEST(a_post_waits_for_the_turn)
{
    mf_loop_t *loop = mf_loop_new();
    posted_t p = {.n = 0};
    post_arg_t arg = {.p = &p, .id = 7};
    mf_loop_post(loop, on_posted, &arg);
    ASSERT_EQ_INT(p.n, 0);
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 1);
    ASSERT_EQ_INT(p.n, 1);
    ASSERT_EQ_INT(p.order[0], 7);
    /* Freed with posts pending: they never run (and nothing leaks). */
    mf_loop_post(loop, on_posted, &arg);
    mf_loop_free(loop);
    ASSERT_EQ_INT(p.n, 1);
}

TEST(max_wait_bounds_a_quiet_turn)
{
    mf_loop_t *loop = mf_loop_new();
    int64_t start = mf_now_ns();
    ASSERT_EQ_INT(mf_loop_turn(loop, 0), 0);
    ASSERT_TRUE(mf_now_ns() - start < 50 * MS);
    start = mf_now_ns();
    ASSERT_EQ_INT(mf_loop_turn(loop, 60), 0);
    int64_t took = mf_now_ns() - start;
    ASSERT_TRUE(took >= 55 * MS);
    ASSERT_TRUE(took < 1000 * MS);
    /* A timer later than the bound does not stretch the turn. */
    fired_t f = {.n = 0};
    tagged_timer_t t = {.fired = &f, .id = 1};
    mf_timer_init(&t.timer, on_tagged, &t);
    mf_loop_timer_start(loop, &t.timer, mf_now_ns() + 10000 * MS);
    start = mf_now_ns();
    ASSERT_EQ_INT(mf_loop_turn(loop, 30), 0);
    ASSERT_TRUE(mf_now_ns() - start < 1000 * MS);
    ASSERT_EQ_INT(f.n, 0);
    mf_loop_free(loop); /* with a timer still armed */
}

int main(void)
{
    RUN(timers_fire_in_order_of_their_time_and_once);
    RUN(a_timer_does_not_fire_before_its_time);
    RUN(rearming_moves_a_timer_and_stopping_cancels_it);
    RUN(stopping_timers_in_the_middle_keeps_the_rest_in_order);
    RUN(a_timer_can_rearm_itself_from_its_callback);
    RUN(run_due_runs_only_the_due_timers_in_order_without_waiting);
    RUN(a_watcher_fires_when_its_pipe_is_readable);
    RUN(a_watcher_hears_the_other_end_close);
    RUN(a_watcher_freed_during_the_turn_does_not_fire_in_it);
    RUN(posts_from_another_thread_run_on_the_loops_turn_in_order);
    RUN(a_post_waits_for_the_turn);
    RUN(max_wait_bounds_a_quiet_turn);
    TEST_MAIN_END();
}
