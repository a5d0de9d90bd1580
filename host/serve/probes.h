/* The host's own endpoints: /livez, /readyz, /startupz and /metrics. They never reach scripts. */
#ifndef MF_PROBES_H
#define MF_PROBES_H

#include <stddef.h>
#include <stdint.h>

struct MHD_Response;

/* /livez fails once one run (a request or a hook) has lasted stuck_ms. */
void mf_probes_set_stuck_limit(int64_t stuck_ms);

/* Whether /metrics is served (MAYFLY_METRICS); set before serving. */
void mf_probes_serve_metrics(int on);

/* 1 when path (raw, path_len bytes) is one of the host's endpoints. */
int mf_probes_owns(const char *path, size_t path_len);

/* The metrics route label of an endpoint path. */
int mf_probes_metric_route(const char *path, size_t path_len);

/* The response for a path mf_probes_owns accepted (accept: the request's Accept header or NULL,
 * for /metrics' format); *status is set. */
struct MHD_Response *mf_probes_answer(const char *path, size_t path_len, const char *accept,
                                      int *status);

#endif
