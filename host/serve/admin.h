/* The admin daemon: probes (and metrics) on threads of their own, never behind a handler. It
 * serves MAYFLY_ADMIN_LISTEN when set, and the connections of the main port that the hand-off
 * takes from busy workers (see handoff.h). It runs no Lua. */
#ifndef MF_ADMIN_H
#define MF_ADMIN_H

#include <stddef.h>
#include <sys/socket.h>

#include "base/options.h"

typedef struct mf_admin mf_admin_t;

/* Starts the daemon; listens on o->admin when its port is set. Returns NULL with a message. */
mf_admin_t *mf_admin_start(const mf_options_t *o, char *err, size_t errlen);
/* The port MAYFLY_ADMIN_LISTEN is served on, or -1. */
int mf_admin_port(const mf_admin_t *a);
/* Serves an accepted main-port connection whose request is for a host endpoint: it gets its
 * answer and is closed. Takes ownership of fd. Returns 0, or -1 (fd closed). Any thread. */
int mf_admin_adopt(mf_admin_t *a, int fd, const struct sockaddr *addr, unsigned addrlen);
/* Stops the daemon and closes its connections; NULL is a no-op. */
void mf_admin_stop(mf_admin_t *a);

#endif
