/* The process's lifecycle state, read by the probes and the HTTP layer from any thread. */
#ifndef MF_LIFECYCLE_H
#define MF_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MF_STARTING = 0, MF_READY, MF_DRAINING, MF_STOPPING } mf_state_t;

void mf_lifecycle_set(mf_state_t s);
mf_state_t mf_lifecycle_get(void);
/* Moves from `from` to `to` only if the state is still `from`; returns whether it moved. */
int mf_lifecycle_advance(mf_state_t from, mf_state_t to);
const char *mf_lifecycle_name(mf_state_t s);

/* The script versions /readyz reports: the one serving, the last one tried and its error (NULL
 * when it loaded). Copies the strings; safe from any thread. */
void mf_lifecycle_set_scripts(const char *serving, const char *attempted, const char *error);
/* Copies them out under the lock into the buffers (each at least 17 bytes; error errlen). */
void mf_lifecycle_get_scripts(char *serving, char *attempted, char *error, size_t errlen);
/* Registers the collector of the script version serving and whether the last reload failed
 * (mayfly_scripts_info, mayfly_scripts_reload_failed; observe/metrics.h). Call once at start-up. */
void mf_lifecycle_metrics_register(void);

/* ---- what each worker is running, for /livez and the shutdown report ---- */

#define MF_LIFECYCLE_MAX_SLOTS 258 /* workers, the hooks runner */

/* Slot `slot` began running `what` (a route or hook name that outlives the run) at since_ns;
 * since_ns 0 marks it idle. Called by the slot's own thread. */
void mf_lifecycle_busy(int slot, int64_t since_ns, const char *what);
/* When slot began its current run, or 0 when it is idle. */
int64_t mf_lifecycle_busy_since(int slot);
/* Returns the slot busy the longest, or -1 when all are idle; *since_ns and *what describe it. */
int mf_lifecycle_longest_busy(int64_t *since_ns, const char **what);
/* Calls fn for every busy slot. */
void mf_lifecycle_each_busy(void (*fn)(void *ud, int slot, int64_t since_ns, const char *what),
                            void *ud);

#endif
