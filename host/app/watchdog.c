#include "app/watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"

struct mf_watchdog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    mf_vm_t **vms;
    int n;
    int period_ms;
};

static void *watch(void *arg)
{
    mf_watchdog_t *wd = arg;
    pthread_mutex_lock(&wd->lock);
    while (!wd->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)wd->period_ms * 1000000;
        until.tv_sec += until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&wd->cond, &wd->lock, &until);
        if (wd->stop)
            break;
        int64_t now = mf_now_ns();
        for (int i = 0; i < wd->n; i++)
            mf_vm_enforce_deadline(wd->vms[i], now);
    }
    pthread_mutex_unlock(&wd->lock);
    return NULL;
}

mf_watchdog_t *mf_watchdog_start(mf_vm_t **vms, int n, int period_ms)
{
    mf_watchdog_t *wd = mf_xcalloc(1, sizeof *wd);
    pthread_condattr_t attr;
    wd->vms = vms;
    wd->n = n;
    wd->period_ms = period_ms;
    pthread_mutex_init(&wd->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&wd->thread, NULL, watch, wd) != 0) {
        pthread_cond_destroy(&wd->cond);
        pthread_mutex_destroy(&wd->lock);
        free(wd);
        return NULL;
    }
    return wd;
}

void mf_watchdog_stop(mf_watchdog_t *wd)
{
    if (!wd)
        return;
    pthread_mutex_lock(&wd->lock);
    wd->stop = 1;
    pthread_cond_signal(&wd->cond);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cond);
    pthread_mutex_destroy(&wd->lock);
    free(wd);
}
