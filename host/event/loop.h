/* A worker's event loop: epoll over the file descriptors it waits on (the HTTP daemon's, Redis
 * connections, outbound HTTP sockets), timers, and work posted from other threads. One thread
 * runs a loop; only mf_loop_post may be called from elsewhere. */
#ifndef MF_LOOP_H
#define MF_LOOP_H

#include <stdint.h>

typedef struct mf_loop mf_loop_t;
typedef struct mf_watcher mf_watcher_t;

/* Returns NULL when the kernel refuses an epoll or eventfd descriptor. */
mf_loop_t *mf_loop_new(void);
/* Frees the loop; watchers and timers still registered are forgotten, posts never run. */
void mf_loop_free(mf_loop_t *loop);

/* ---- descriptors ---- */

/* fn(ud, events) runs when fd is ready for what mf_loop_watch_set asked (EPOLLIN, EPOLLOUT;
 * EPOLLERR and EPOLLHUP always). The loop owns the watcher; the caller keeps fd. */
mf_watcher_t *mf_loop_watch_new(mf_loop_t *loop, int fd, void (*fn)(void *ud, uint32_t events),
                                void *ud);
/* Waits for events (0: for nothing, fd stays known). Returns 0 or -1 (errno set). */
int mf_loop_watch_set(mf_watcher_t *w, uint32_t events);
/* Stops watching; w is invalid after the call (freed once no dispatch can still reach it).
 * Call it before closing fd. */
void mf_loop_watch_free(mf_watcher_t *w);

/* ---- timers ---- */

/* The caller owns the timer's memory; it must stay valid while armed. */
typedef struct {
    int64_t at_ns; /* mf_now_ns's clock */
    void (*fn)(void *ud);
    void *ud;
    int slot; /* private: its place in the loop's heap, -1 when not armed */
} mf_timer_t;

void mf_timer_init(mf_timer_t *t, void (*fn)(void *ud), void *ud);
/* 1 while t is armed. */
static inline int mf_timer_armed(const mf_timer_t *t)
{
    return t->slot >= 0;
}
/* Arms t to fire once at at_ns (rearms an armed timer). */
void mf_loop_timer_start(mf_loop_t *loop, mf_timer_t *t, int64_t at_ns);
void mf_loop_timer_stop(mf_loop_t *loop, mf_timer_t *t);

/* ---- what the loop's runs share ---- */

/* A service is something a module keeps one of per loop (a connection, a client), made on first
 * use and freed with the loop, before its watchers and timers. The module names it by the
 * address of a key it owns, so the loop knows none of its users:
 *
 *     static const mf_loop_key_t conn_key;
 *     conn_t *c = mf_loop_service(loop, &conn_key);
 */
typedef struct {
    char unused; /* only the address counts */
} mf_loop_key_t;

/* At most this many keys per loop: one per module that keeps a service. */
#define MF_LOOP_MAX_SERVICES 4

/* key's service, or NULL when none was set. */
void *mf_loop_service(mf_loop_t *loop, const mf_loop_key_t *key);
/* Sets key's service, which free_fn(service) frees with the loop. Aborts when the loop already
 * holds MF_LOOP_MAX_SERVICES other keys. */
void mf_loop_set_service(mf_loop_t *loop, const mf_loop_key_t *key, void *service,
                         void (*free_fn)(void *));

/* ---- the turn ---- */

/* Runs fn(ud) on the loop's thread at its next turn. Any thread. */
void mf_loop_post(mf_loop_t *loop, void (*fn)(void *ud), void *ud);

/* One turn: waits up to max_wait_ms (-1: until something happens) or the next timer, then runs
 * ready watchers, due timers and posted work. Returns the number of callbacks run. */
int mf_loop_turn(mf_loop_t *loop, int64_t max_wait_ms);
/* Runs the timers already due, without waiting: for a thread that does work of its own between
 * turns, whose timers armed at 0 (the end of the turn's work, as a batch's flush) then need no
 * turn of their own. Not from a callback of the loop. Returns the number run. */
int mf_loop_run_due(mf_loop_t *loop);

#endif
