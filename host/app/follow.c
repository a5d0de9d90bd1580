#include "app/follow.h"

#include <stdatomic.h>
#include <stdio.h>

#include "observe/log.h"

int mf_follow_init(mf_follow_t *f, const char *name, const mf_options_t *o,
                   mf_scripts_t *_Atomic *latest, mf_config_t *_Atomic *latest_config, char *err,
                   size_t errlen)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    f->latest = latest;
    f->latest_config = latest_config;
    f->scripts = atomic_load(latest);
    mf_scripts_retain(f->scripts);
    f->config = atomic_load(latest_config);
    mf_config_retain(f->config);
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
    mf_config_t *config = atomic_load(f->latest_config);
    mf_scripts_t *latest = atomic_load(f->latest);
    if (config == f->config && latest == f->scripts)
        return 0;
    /* A new state for every new version, scripts or config: a reload starts from nothing. */
    if (mf_vm_renew(f->vm, latest, config, err, sizeof err)) {
        mf_log_msg(MF_LOG_ERROR, "%s keeps version %s: %s", f->name, f->scripts->version, err);
        return 0;
    }
    int scripts_changed = latest != f->scripts;
    mf_scripts_retain(latest);
    mf_scripts_release(f->scripts);
    f->scripts = latest;
    mf_config_retain(config);
    mf_config_release(f->config);
    f->config = config;
    return scripts_changed;
}

int mf_follow_behind(const mf_follow_t *f)
{
    return atomic_load(f->latest_config) != f->config || atomic_load(f->latest) != f->scripts;
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
