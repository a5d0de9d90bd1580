/* The hooks runner: one thread with a Lua state of its own that runs the scripts' lifecycle
 * hooks, each in a fresh environment like a request and bounded by the request timeout:
 * on_start before the first readiness (retried with backoff while it fails: the process stays
 * unready and /readyz says why), on_ready_check every second (its verdict is a /readyz check),
 * `every` jobs on their intervals, on_config to accept or refuse a new config, on_shutdown
 * during the drain. It follows the server's current scripts and config like a worker does. */
#ifndef MF_HOOKS_H
#define MF_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/options.h"
#include "app/follow.h"
#include "lua/scripts.h"
#include "lua/vm.h"

typedef struct mf_hooks mf_hooks_t;

/* Builds the runner's state on the current scripts and config and starts the thread, which sets
 * the lifecycle READY once every on_start hook has passed. slot: its lifecycle busy slot.
 * Returns NULL with a message. */
mf_hooks_t *mf_hooks_start(const mf_options_t *o, int slot, mf_published_t *latest, char *err,
                           size_t errlen);
/* The runner's state, for the watchdog. */
mf_vm_t *mf_hooks_vm(mf_hooks_t *h);
/* Runs the on_config hooks of the current scripts with c as the config they read. Returns 0 when
 * every hook accepts c, or -1 with the refusal (an error, or false and a reason) in err. Called
 * by the server thread; waits for the runner to be between two hooks. */
int mf_hooks_check_config(mf_hooks_t *h, mf_config_t *c, char *err, size_t errlen);
/* Cancels the periodic jobs (a running one finishes), runs the on_shutdown hooks (each bounded
 * by the request timeout and what is left before deadline_ns), and joins the thread. */
void mf_hooks_shutdown(mf_hooks_t *h, int64_t deadline_ns);
/* Frees the runner (after mf_hooks_shutdown, or when it never started its thread). */
void mf_hooks_free(mf_hooks_t *h);

#endif
