#include "lifecycle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

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

static pthread_mutex_t scripts_lock = PTHREAD_MUTEX_INITIALIZER;
static char serving_version[17], attempted_version[17], attempt_error[1024];

void mf_lifecycle_set_scripts(const char *serving, const char *attempted, const char *error)
{
    pthread_mutex_lock(&scripts_lock);
    snprintf(serving_version, sizeof serving_version, "%s", serving ? serving : "");
    snprintf(attempted_version, sizeof attempted_version, "%s", attempted ? attempted : "");
    snprintf(attempt_error, sizeof attempt_error, "%s", error ? error : "");
    pthread_mutex_unlock(&scripts_lock);
}

void mf_lifecycle_get_scripts(char *serving, char *attempted, char *error, size_t errlen)
{
    pthread_mutex_lock(&scripts_lock);
    memcpy(serving, serving_version, sizeof serving_version);
    memcpy(attempted, attempted_version, sizeof attempted_version);
    snprintf(error, errlen, "%s", attempt_error);
    pthread_mutex_unlock(&scripts_lock);
}
