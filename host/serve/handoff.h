/* The hand-off: a thread that takes the connections waiting on a busy worker's listening socket
 * (the kernel hashed them there before anyone knew the worker would be busy) and gives each to
 * where it will be served now: probes to the admin daemon, so /livez and /readyz never queue
 * behind a handler; other requests to an idle worker. Workers that answer promptly are never
 * touched: their connections take the direct path. */
#ifndef MF_HANDOFF_H
#define MF_HANDOFF_H

#include "serve/admin.h"
#include "serve/worker.h"

typedef struct mf_handoff mf_handoff_t;

/* Watches workers[0..n) (their accept_fd and lifecycle busy slots). Returns NULL when the
 * thread cannot start. */
mf_handoff_t *mf_handoff_start(mf_worker_t *workers, int n, mf_admin_t *admin);
/* Stops and joins the thread; connections it still holds go to their workers. NULL: no-op. */
void mf_handoff_stop(mf_handoff_t *h);

#endif
