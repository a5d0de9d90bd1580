/* A Lua state that follows the server's current scripts and config: each worker has one, and so
 * does the hooks runner. The owner thread moves it to a new version between two runs, so a run
 * is wholly on one version while other threads' runs finish on theirs. */
#ifndef MF_FOLLOW_H
#define MF_FOLLOW_H

#include <pthread.h>
#include <stddef.h>

#include "base/config.h"
#include "base/options.h"
#include "lua/scripts.h"
#include "lua/vm.h"

/* The version and config the server publishes for its followers. A follower takes its
 * references under the same lock the publisher swaps under: the pointer it read cannot be
 * released between the read and the reference, however slow the follower is. */
typedef struct {
    pthread_mutex_t lock;
    mf_scripts_t *_Atomic scripts; /* one reference each, the publisher's */
    mf_config_t *_Atomic config;
} mf_published_t;

/* Takes the caller's references to scripts and config. */
void mf_published_init(mf_published_t *p, mf_scripts_t *scripts, mf_config_t *config);
/* Publishes next (the caller's reference moves in) and returns what was published before (its
 * reference moves to the caller). Only the publishing thread calls these and reads the fields
 * without the lock. */
mf_scripts_t *mf_published_swap_scripts(mf_published_t *p, mf_scripts_t *next);
mf_config_t *mf_published_swap_config(mf_published_t *p, mf_config_t *next);
/* Releases what is published; no follower may take from it afterwards. */
void mf_published_free(mf_published_t *p);

typedef struct {
    char name[32]; /* "worker 3", "hooks": the owner, as log lines name it */
    mf_vm_t *vm;
    mf_scripts_t *scripts; /* the version the vm runs (one reference) */
    mf_config_t *config;   /* the config its scripts read (one reference) */
    mf_published_t *latest;
} mf_follow_t;

/* Builds the vm on what latest publishes. Returns 0, or -1 with a message (call mf_follow_free
 * either way). */
int mf_follow_init(mf_follow_t *f, const char *name, const mf_options_t *o,
                   mf_published_t *latest, char *err, size_t errlen);
/* Moves to the current config and scripts, in a new Lua state; returns 1 when the scripts
 * changed, 0 when they did not (or only memory failed: the server compiled the version, so the
 * old one stays and a line is logged), -1 when a newer version waits but runs of the vm are
 * suspended on the old one: a run is wholly on one version, so the caller waits for them. */
int mf_follow_sync(mf_follow_t *f);
/* 1 when a newer config or scripts version waits for mf_follow_sync. */
int mf_follow_behind(const mf_follow_t *f);
void mf_follow_free(mf_follow_t *f);

#endif
