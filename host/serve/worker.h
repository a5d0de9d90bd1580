/* The workers: one thread per listening socket (bound with SO_REUSEPORT so the kernel
 * spreads connections evenly), each running an event loop with its own libmicrohttpd daemon
 * and Lua state. A request whose handler waits on the network suspends its connection; the
 * worker serves others and answers it when the run ends. */
#ifndef MF_SERVE_WORKER_H
#define MF_SERVE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "app/follow.h"
#include "base/options.h"
#include "http/request.h"

struct MHD_Daemon;
typedef struct mf_loop mf_loop_t;
typedef struct mf_watcher mf_watcher_t;

typedef struct {
    int id;
    int listen_fd; /* owned until the daemon starts, and again after mf_worker_quiesce */
    int accept_fd; /* the daemon's listening socket, not owned: for the hand-off */
    struct MHD_Daemon *daemon;
    mf_follow_t run; /* its Lua state and the version it serves */
    const mf_options_t *opts;
    atomic_long in_flight; /* written by the worker thread only */
    /* private to the worker thread */
    mf_loop_t *loop;
    pthread_t thread;
    int thread_started;
    mf_watcher_t *daemon_watch;
    int stopping;
    struct worker_request *held; /* waiting for the runs of the old version to end */
    mf_request_t *free_requests;
    int nfree;
    struct worker_request *orphans; /* completed while their stream's run goes on */
} mf_worker_t;

/* Starts w's daemon on w->listen_fd. Returns 0 or -1 with a message. */
int mf_worker_start(mf_worker_t *w, char *err, size_t errlen);

/* Serves a connection accepted for w elsewhere (the hand-off). Takes ownership of fd. Returns
 * 0, or -1 with fd closed. Any thread. */
int mf_worker_adopt(mf_worker_t *w, int fd, const struct sockaddr *addr, unsigned addrlen);

/* The listener's close, in three steps so that no connection the kernel accepted is reset.
 * mf_worker_quiesce: the daemon stops accepting and the socket starts no new handshake;
 * connections waiting in its accept queue are served. mf_worker_take_backlog: serves those that
 * completed their handshake since. Both return how many they took. mf_worker_close_listener:
 * shuts the socket (the kernel refuses new clients or sends them to another socket on the
 * port). Connections already open are still served. Call from one thread. */
int mf_worker_quiesce(mf_worker_t *w);
int mf_worker_take_backlog(mf_worker_t *w);
void mf_worker_close_listener(mf_worker_t *w);

/* Lets the runs in progress end, stops the worker thread, closes every connection. */
void mf_worker_stop(mf_worker_t *w);

/* The drain reached its close: the worker's streamed responses are to end (mf_vm_drain_streams),
 * on its own thread. Any thread. */
void mf_worker_drain_streams(mf_worker_t *w);

#endif
