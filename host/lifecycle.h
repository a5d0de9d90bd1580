/* The process's lifecycle state, read by the probes and the HTTP layer from any thread. */
#ifndef MF_LIFECYCLE_H
#define MF_LIFECYCLE_H

#include <stddef.h>

typedef enum { MF_STARTING = 0, MF_READY, MF_DRAINING, MF_STOPPING } mf_state_t;

void mf_lifecycle_set(mf_state_t s);
mf_state_t mf_lifecycle_get(void);
const char *mf_lifecycle_name(mf_state_t s);

/* The script versions /readyz reports: the one serving, the last one tried and its error (NULL
 * when it loaded). Copies the strings; safe from any thread. */
void mf_lifecycle_set_scripts(const char *serving, const char *attempted, const char *error);
/* Copies them out under the lock into the buffers (each at least 17 bytes; error errlen). */
void mf_lifecycle_get_scripts(char *serving, char *attempted, char *error, size_t errlen);

#endif
