/* Circuit breaker: closed -> open after `threshold` consecutive failures -> one half-open probe
 * after the cool-down -> closed on its success, open again on its failure. */
#include "event/breaker.h"

#include <stdio.h>

#include "base/alloc.h"
#include "observe/metrics.h"

static mf_breaker_t *_Atomic registry;

mf_breaker_t *mf_breaker_new(const char *name, int threshold, int64_t cooldown_ms)
{
    mf_breaker_t *b = mf_xcalloc(1, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->threshold = threshold > 0 ? threshold : 1;
    b->cooldown_ns = cooldown_ms * 1000000;
    b->next = atomic_load(&registry);
    while (!atomic_compare_exchange_weak(&registry, &b->next, b))
        ;
    return b;
}

int mf_breaker_allow(mf_breaker_t *b, int64_t now_ns)
{
    int state = atomic_load_explicit(&b->state, memory_order_acquire);
    if (state == MF_BREAKER_CLOSED)
        return 1;
    if (state == MF_BREAKER_HALF_OPEN || now_ns < atomic_load(&b->reopen_at_ns))
        return 0; /* a probe is already out, or still cooling down */
    int expected = MF_BREAKER_OPEN;
    return atomic_compare_exchange_strong(&b->state, &expected, MF_BREAKER_HALF_OPEN);
}

void mf_breaker_success(mf_breaker_t *b)
{
    atomic_store(&b->failures, 0);
    atomic_store_explicit(&b->state, MF_BREAKER_CLOSED, memory_order_release);
}

static void trip(mf_breaker_t *b, int64_t now_ns)
{
    atomic_store(&b->reopen_at_ns, now_ns + b->cooldown_ns);
    if (atomic_exchange(&b->state, MF_BREAKER_OPEN) != MF_BREAKER_OPEN)
        atomic_fetch_add(&b->opened_total, 1);
}

void mf_breaker_failure(mf_breaker_t *b, int64_t now_ns)
{
    if (atomic_load(&b->state) == MF_BREAKER_HALF_OPEN) {
        trip(b, now_ns); /* the probe failed */
        return;
    }
    if (atomic_fetch_add(&b->failures, 1) + 1 >= b->threshold)
        trip(b, now_ns);
}

mf_breaker_state_t mf_breaker_state(mf_breaker_t *b)
{
    return (mf_breaker_state_t)atomic_load(&b->state);
}

void mf_breaker_each(void (*fn)(void *ud, mf_breaker_t *b), void *ud)
{
    for (mf_breaker_t *b = atomic_load(&registry); b; b = b->next)
        fn(ud, b);
}

/* ---- metrics ---- */

static void sample_state(void *ud, mf_breaker_t *b)
{
    mf_metrics_sample(ud, "mayfly_circuit_breaker_state", (const char *[]){"name", b->name, NULL},
                      (double)mf_breaker_state(b));
}

static void sample_opened(void *ud, mf_breaker_t *b)
{
    mf_metrics_sample(ud, "mayfly_circuit_breaker_opened_total",
                      (const char *[]){"name", b->name, NULL},
                      (double)atomic_load(&b->opened_total));
}

static void collect(void *ud, mf_metrics_writer_t *w)
{
    (void)ud;
    mf_metrics_family(w, "mayfly_circuit_breaker_state", "gauge",
                      "Circuit breaker state: 0 closed, 1 open, 2 half-open.");
    mf_breaker_each(sample_state, w);
    mf_metrics_family(w, "mayfly_circuit_breaker_opened_total", "counter",
                      "Times a circuit breaker opened.");
    mf_breaker_each(sample_opened, w);
}

void mf_breaker_metrics_register(void)
{
    mf_metrics_add_collector(collect, NULL);
}
