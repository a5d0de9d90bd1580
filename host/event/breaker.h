/* A circuit breaker shared by every worker of the process: after `threshold` failures in a row
 * it opens and calls fail fast for `cooldown`; then exactly one caller is let through as a probe,
 * whose outcome closes the breaker or opens it for another cool-down. Lock-free; a breaker lives
 * as long as the process (it stays registered so metrics can list it). */
#ifndef MF_BREAKER_H
#define MF_BREAKER_H

#include <stdatomic.h>
#include <stdint.h>

typedef enum {
    MF_BREAKER_CLOSED = 0,
    MF_BREAKER_OPEN = 1,
    MF_BREAKER_HALF_OPEN = 2
} mf_breaker_state_t;

typedef struct mf_breaker {
    char name[128]; /* e.g. "redis" or an upstream "host:port" */
    int threshold;
    int64_t cooldown_ns;
    /* private */
    _Atomic int state;
    _Atomic int failures;
    _Atomic int64_t reopen_at_ns;  /* when an open breaker lets its probe through */
    _Atomic uint64_t opened_total; /* transitions to open, for metrics */
    struct mf_breaker *next;
} mf_breaker_t;

/* Returns a new breaker, registered for mf_breaker_each; it is never freed. */
mf_breaker_t *mf_breaker_new(const char *name, int threshold, int64_t cooldown_ms);

/* Returns 1 when a call may go ahead: the breaker is closed, or it is this caller's turn to be
 * the single half-open probe. Returns 0 when the call must fail fast. A caller that got 1 must
 * report the outcome with mf_breaker_success or mf_breaker_failure. */
int mf_breaker_allow(mf_breaker_t *b, int64_t now_ns);
void mf_breaker_success(mf_breaker_t *b);
void mf_breaker_failure(mf_breaker_t *b, int64_t now_ns);
mf_breaker_state_t mf_breaker_state(mf_breaker_t *b);

/* Calls fn for every breaker made so far. Safe from any thread. */
void mf_breaker_each(void (*fn)(void *ud, mf_breaker_t *b), void *ud);

/* Registers the collector of every breaker's state and opened count (mayfly_circuit_breaker_*,
 * observe/metrics.h). Call once at start-up. */
void mf_breaker_metrics_register(void);

#endif
