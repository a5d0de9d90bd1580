/* The HTTP layer: one single-threaded libmicrohttpd daemon per worker, each on its own listening
 * socket bound with SO_REUSEPORT so the kernel spreads connections evenly, each owning one Lua
 * state. */
#ifndef MF_HTTP_H
#define MF_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"
#include "follow.h"
#include "options.h"
#include "request.h"
#include "scripts.h"
#include "vm.h"

struct MHD_Daemon;

typedef struct {
    int id;
    int listen_fd; /* owned until the daemon starts, and again after mf_http_quiesce */
    int accept_fd; /* the daemon's listening socket, not owned: for the hand-off */
    struct MHD_Daemon *daemon;
    mf_follow_t run; /* its Lua state and the version it serves */
    const mf_options_t *opts;
    atomic_long in_flight; /* written by the worker thread only */
    /* private to the worker thread */
    mf_request_t *free_requests;
    int nfree;
} mf_worker_t;

/* Starts w's daemon on w->listen_fd. Returns 0 or -1 with a message. */
int mf_http_start(mf_worker_t *w, char *err, size_t errlen);

/* Serves a connection accepted for w elsewhere (the hand-off). Takes ownership of fd. Returns
 * 0, or -1 with fd closed. Any thread. */
int mf_http_adopt(mf_worker_t *w, int fd, const struct sockaddr *addr, unsigned addrlen);

/* Stops accepting: the listening socket is shut down so the kernel sends new connections to
 * other sockets or refuses them; connections already open are still served. */
void mf_http_quiesce(mf_worker_t *w);

/* Closes every connection and stops the daemon's thread. */
void mf_http_stop(mf_worker_t *w);

#endif
