/* The readiness conditions beside the lifecycle and the scripts (Redis reachable, the hooks'
 * on_ready_check), registered by their owners at start-up and reported by /readyz. */
#ifndef MF_APP_READINESS_H
#define MF_APP_READINESS_H

#include <stddef.h>

/* Returns 1 when ready, or 0 with a reason in why (why may hold a detail when ready). Called
 * from the thread answering /readyz, so it must answer at once: report a state kept up to date
 * elsewhere, never do I/O. */
typedef int (*mf_ready_check_fn)(void *ud, char *why, size_t whylen);

/* Registers a condition, before serving; at most 8. */
void mf_readiness_add_check(const char *name, mf_ready_check_fn fn, void *ud);
/* How many are registered. */
int mf_readiness_count(void);
/* Evaluates condition i (below mf_readiness_count): its result, with its name in *name and
 * its reason or detail in why. */
int mf_readiness_check(int i, const char **name, char *why, size_t whylen);

#endif
