#include "app/lifecycle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "observe/metrics.h"

static atomic_int state = MF_STARTING;

void mf_lifecycle_set(mf_state_t s)
{
    atomic_store(&state, (int)s);
}

int mf_lifecycle_advance(mf_state_t from, mf_state_t to)
{
    int expected = (int)from;
    return atomic_compare_exchange_strong(&state, &expected, (int)to);
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

static void collect(void *ud, mf_metrics_writer_t *w)
{
    char serving[17], attempted[17], error[1024];
    (void)ud;
    mf_lifecycle_get_scripts(serving, attempted, error, sizeof error);
    mf_metrics_family(w, "mayfly_scripts_info", "gauge",
                      "The script version serving (a digest of the scripts folder), always 1.");
    mf_metrics_sample(w, "mayfly_scripts_info", (const char *[]){"version", serving, NULL}, 1);
    mf_metrics_family(w, "mayfly_scripts_reload_failed", "gauge",
                      "1 while the last reload attempt of the scripts failed, else 0.");
    mf_metrics_sample(w, "mayfly_scripts_reload_failed", NULL, error[0] ? 1 : 0);
}

void mf_lifecycle_metrics_register(void)
{
    mf_metrics_add_collector(collect, NULL);
}

/* ---- busy slots ---- */

static struct {
    _Atomic int64_t since_ns;
    const char *_Atomic what;
} slots[MF_LIFECYCLE_MAX_SLOTS];

void mf_lifecycle_busy(int slot, int64_t since_ns, const char *what)
{
    if (slot < 0 || slot >= MF_LIFECYCLE_MAX_SLOTS)
        return;
    if (since_ns)
        atomic_store_explicit(&slots[slot].what, what, memory_order_relaxed);
    atomic_store_explicit(&slots[slot].since_ns, since_ns, memory_order_release);
}

int64_t mf_lifecycle_busy_since(int slot)
{
    return atomic_load_explicit(&slots[slot].since_ns, memory_order_acquire);
}

void mf_lifecycle_each_busy(void (*fn)(void *ud, int slot, int64_t since_ns, const char *what),
                            void *ud)
{
    for (int i = 0; i < MF_LIFECYCLE_MAX_SLOTS; i++) {
        int64_t since = atomic_load_explicit(&slots[i].since_ns, memory_order_acquire);
        if (since)
            fn(ud, i, since, atomic_load_explicit(&slots[i].what, memory_order_relaxed));
    }
}

typedef struct {
    int slot;
    int64_t since_ns;
    const char *what;
} longest_t;

static void keep_longest(void *ud, int slot, int64_t since_ns, const char *what)
{
    longest_t *l = ud;
    if (l->slot < 0 || since_ns < l->since_ns)
        *l = (longest_t){slot, since_ns, what};
}

int mf_lifecycle_longest_busy(int64_t *since_ns, const char **what)
{
    longest_t l = {-1, 0, NULL};
    mf_lifecycle_each_busy(keep_longest, &l);
    *since_ns = l.since_ns;
    *what = l.what;
    return l.slot;
}
