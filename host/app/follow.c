#include "app/follow.h"

#include <stdatomic.h>
#include <stdio.h>

#include "observe/log.h"

void mf_published_init(mf_published_t *p, mf_scripts_t *scripts, mf_config_t *config)
{
    pthread_mutex_init(&p->lock, NULL);
    atomic_init(&p->scripts, scripts);
    atomic_init(&p->config, config);
}

mf_scripts_t *mf_published_swap_scripts(mf_published_t *p, mf_scripts_t *next)
{
    pthread_mutex_lock(&p->lock);
    mf_scripts_t *before = atomic_exchange(&p->scripts, next);
    pthread_mutex_unlock(&p->lock);
    return before;
}

mf_config_t *mf_published_swap_config(mf_published_t *p, mf_config_t *next)
{
    pthread_mutex_lock(&p->lock);
    mf_config_t *before = atomic_exchange(&p->config, next);
    pthread_mutex_unlock(&p->lock);
    return before;
}

void mf_published_free(mf_published_t *p)
{
    mf_scripts_release(atomic_load(&p->scripts));
    mf_config_release(atomic_load(&p->config));
    pthread_mutex_destroy(&p->lock);
}

/* References of the follower's own to what is published now. */
static void take(mf_published_t *p, mf_scripts_t **scripts, mf_config_t **config)
{
    pthread_mutex_lock(&p->lock);
    *scripts = atomic_load(&p->scripts);
    mf_scripts_retain(*scripts);
    *config = atomic_load(&p->config);
    mf_config_retain(*config);
    pthread_mutex_unlock(&p->lock);
}

int mf_follow_init(mf_follow_t *f, const char *name, const mf_options_t *o,
                   mf_published_t *latest, char *err, size_t errlen)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    f->latest = latest;
    take(latest, &f->scripts, &f->config);
    f->vm = mf_vm_new(o, err, errlen);
    if (!f->vm || mf_vm_compile(f->vm, f->scripts, err, errlen))
        return -1;
    mf_vm_set_config(f->vm, f->config);
    mf_vm_warm(f->vm, MF_SCRIPTS_LOAD_LIMIT_MS);
    return 0;
}

int mf_follow_sync(mf_follow_t *f)
{
    char err[512];
    if (!mf_follow_behind(f))
        return 0;
    /* Asked at the move itself, not by the caller before it: a version published in between
     * would otherwise replace the state under the waiting runs. */
    if (mf_vm_waiting(f->vm))
        return -1;
    mf_scripts_t *latest;
    mf_config_t *config;
    take(f->latest, &latest, &config);
    /* A new state for every new version, scripts or config: a reload starts from nothing. */
    if (mf_vm_renew(f->vm, latest, config, err, sizeof err)) {
        mf_log_msg(MF_LOG_ERROR, "%s keeps version %s: %s", f->name, f->scripts->version, err);
        mf_scripts_release(latest);
        mf_config_release(config);
        return 0;
    }
    int scripts_changed = latest != f->scripts;
    mf_scripts_release(f->scripts);
    f->scripts = latest;
    mf_config_release(f->config);
    f->config = config;
    return scripts_changed;
}

int mf_follow_behind(const mf_follow_t *f)
{
    /* A pointer compare needs no lock: the follower's reference keeps its own version's address
     * from being reused. */
    return atomic_load(&f->latest->config) != f->config ||
           atomic_load(&f->latest->scripts) != f->scripts;
}

void mf_follow_free(mf_follow_t *f)
{
    mf_vm_free(f->vm);
    f->vm = NULL;
    mf_scripts_release(f->scripts);
    f->scripts = NULL;
    mf_config_release(f->config);
    f->config = NULL;
}
