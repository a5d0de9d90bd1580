/* The process's lifecycle state, read by the probes and the HTTP layer from any thread. */
#ifndef MF_LIFECYCLE_H
#define MF_LIFECYCLE_H

typedef enum { MF_STARTING = 0, MF_READY, MF_DRAINING, MF_STOPPING } mf_state_t;

void mf_lifecycle_set(mf_state_t s);
mf_state_t mf_lifecycle_get(void);
const char *mf_lifecycle_name(mf_state_t s);

#endif
