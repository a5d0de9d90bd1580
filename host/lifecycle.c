#include "lifecycle.h"

#include <stdatomic.h>

static atomic_int state = MF_STARTING;

void mf_lifecycle_set(mf_state_t s)
{
    atomic_store(&state, (int)s);
}

mf_state_t mf_lifecycle_get(void)
{
    return (mf_state_t)atomic_load(&state);
}

const char *mf_lifecycle_name(mf_state_t s)
{
    static const char *names[] = {"starting", "ready", "draining", "stopping"};
    return names[s];
}
