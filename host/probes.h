/* The host's own endpoints: /livez, /readyz, /startupz. They never reach scripts. */
#ifndef MF_PROBES_H
#define MF_PROBES_H

#include <stddef.h>

struct MHD_Response;

/* 1 when path (raw, path_len bytes) is one of the host's endpoints. */
int mf_probes_owns(const char *path, size_t path_len);

/* The response for a path mf_probes_owns accepted; *status is set. */
struct MHD_Response *mf_probes_answer(const char *path, size_t path_len, int *status);

#endif
