/* A Lua state that follows the server's current scripts and config: each worker has one, and so
 * does the hooks runner. The owner thread moves it to a new version between two runs, so a run
 * is wholly on one version while other threads' runs finish on theirs. */
#ifndef MF_FOLLOW_H
#define MF_FOLLOW_H

#include <stddef.h>

#include "base/config.h"
#include "base/options.h"
#include "lua/scripts.h"
#include "lua/vm.h"

typedef struct {
    char name[32]; /* "worker 3", "hooks": the owner, as log lines name it */
    mf_vm_t *vm;
    mf_scripts_t *scripts; /* the version the vm runs (one reference) */
    mf_config_t *config;   /* the config its scripts read (one reference) */
    mf_scripts_t *_Atomic *latest;
    mf_config_t *_Atomic *latest_config;
} mf_follow_t;

/* Builds the vm on the current version of *latest and *latest_config. Returns 0, or -1 with a
 * message (call mf_follow_free either way). */
int mf_follow_init(mf_follow_t *f, const char *name, const mf_options_t *o,
                   mf_scripts_t *_Atomic *latest, mf_config_t *_Atomic *latest_config, char *err,
                   size_t errlen);
/* Moves to the current config and scripts, in a new Lua state; returns 1 when the scripts
 * changed. Only memory can fail (the server compiled the version): the old version stays and a
 * line is logged. No run of the vm may be waiting. */
int mf_follow_sync(mf_follow_t *f);
/* 1 when a newer config or scripts version waits for mf_follow_sync. */
int mf_follow_behind(const mf_follow_t *f);
void mf_follow_free(mf_follow_t *f);

#endif
