#ifndef MF_METRICS_DEPS_H
#define MF_METRICS_DEPS_H

/* Adds the Redis pool's and mayfly.http's families to /metrics. Once, at start-up. */
void mf_metrics_deps_register(void);

#endif
