/* Between the files of metrics (observe/metrics*.c), nowhere else: the registry's slots for the
 * metrics scripts declare, the counters' helpers, and the families each file renders. */
#ifndef MF_METRICS_PRIVATE_H
#define MF_METRICS_PRIVATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "observe/metrics.h"

/* The host's own families (http_*, the handlers' errors, Lua memory, reloads, the build, the
 * dropped updates): metrics.c. */
void mf_metrics_host_collect(mf_metrics_writer_t *w);
/* The process's own families (process_*): metrics_process.c. */
void mf_metrics_process_collect(mf_metrics_writer_t *w);
/* The families of the metrics scripts declared, and their samples of
 * mayfly_metrics_dropped_updates_total: metrics_script.c. */
void mf_metrics_script_render(mf_metrics_writer_t *w);
void mf_metrics_script_dropped(mf_metrics_writer_t *w);
/* The n-value array of declared metric id in shard s, made on s's thread's first use. */
_Atomic uint64_t *mf_metrics_slots(mf_metrics_shard_t *s, int id, size_t n);
/* Calls fn with the array of id of every shard that has one (renders). */
void mf_metrics_each_slots(int id, void (*fn)(void *ud, _Atomic uint64_t *slots), void *ud);

#define MF_METRICS_DEFAULT_NBUCKETS 11
/* Prometheus's client libraries' default buckets, in seconds: 5ms to 10s. */
extern const double mf_metrics_default_buckets[MF_METRICS_DEFAULT_NBUCKETS];

/* The owner's increment: a shard's thread is its only writer, so a plain load and store
 * suffice (no locked instruction); scrapes read whole values. */
static inline void mf_metrics_bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t mf_metrics_get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
