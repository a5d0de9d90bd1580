#include "app/hooks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/follow.h"
#include "app/lifecycle.h"
#include "app/readiness.h"
#include "app/scripts_load.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/random.h"
#include "observe/log.h"

#define READY_CHECK_EVERY_NS (1000 * 1000000LL)
#define START_RETRY_FIRST_MS 500
#define START_RETRY_MAX_MS 30000

typedef struct {
    int file;
    char interval[32];
    int64_t every_ns;
    int singleton;
    char lease_key[300]; /* "job:<file>:<interval>", shared by every replica */
    int64_t next_ns;
} job_t;

enum { CMD_NONE, CMD_CHECK_CONFIG, CMD_SHUTDOWN };

struct mf_hooks {
    const mf_options_t *opts;
    int slot;
    char owner[128];    /* this process, as the holder of singleton leases */
    mf_follow_t follow; /* its Lua state and the version it runs */
    job_t *jobs;
    int njobs;
    pthread_t thread;
    int started;

    /* The server thread's requests, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int cmd, cmd_done, cmd_rc;
    mf_config_t *candidate;
    int64_t shutdown_deadline_ns;
    char cmd_err[512];

    /* The verdict /readyz reads, under lock. */
    int ready_ok;
    char ready_err[640];
};

/* ---- running hooks ---- */

static void log_hook_failure(const char *hook, const char *file, const char *job, const char *err)
{
    mf_jsonbuf_t l;
    mf_log_begin(&l, MF_LOG_ERROR, "hook failed", 11, NULL);
    mf_jsonbuf_cstr(&l, "hook", hook);
    mf_jsonbuf_cstr(&l, "file", file);
    if (job)
        mf_jsonbuf_cstr(&l, "interval", job);
    const char *tb = strstr(err, "\nstack traceback:");
    mf_jsonbuf_str(&l, "error", err, tb ? (size_t)(tb - err) : strlen(err));
    if (tb)
        mf_jsonbuf_cstr(&l, "traceback", tb + 1);
    mf_log_end(&l);
}

/* Runs one hook; returns mf_vm_run_hook's code, logging a failure (quiet: a refusal is not). */
static int run_one(mf_hooks_t *h, int file, int hook, const job_t *job, int64_t limit_ms, char *err,
                   size_t errlen)
{
    const char *name = mf_scripts_hook_name(hook);
    int64_t limit = h->opts->request_timeout_ms;
    if (limit_ms > 0 && (limit == 0 || limit_ms < limit))
        limit = limit_ms;
    mf_vm_lease_t lease;
    if (job && job->singleton) {
        /* Renewed at every tick by the holder; a dead holder's lapses and the next tick of
         * another replica takes it. */
        lease.key = job->lease_key;
        lease.owner = h->owner;
        lease.ttl_ms = 2 * job->every_ns / 1000000 + 1000;
    }
    mf_lifecycle_busy(h->slot, mf_now_ns(), name);
    /* The readiness check runs every second, as the probes it answers come: neither is
     * traced. */
    int traced = hook != MF_HOOK_ON_READY_CHECK;
    int rc = mf_vm_run_hook(h->follow.vm, file, name, job ? job->interval : NULL,
                            job && job->singleton ? &lease : NULL, traced, limit, err, errlen);
    mf_lifecycle_busy(h->slot, 0, NULL);
    if (rc < 0)
        log_hook_failure(name, h->follow.scripts->files[file].name, job ? job->interval : NULL,
                         err);
    return rc;
}

/* Runs hook in every file that has it, in file order; stops at the first that fails. Returns 0
 * or the failing code with "file: reason" in err. */
static int run_all(mf_hooks_t *h, int hook, int64_t limit_ms, char *err, size_t errlen)
{
    char why[480];
    for (int i = 0; i < h->follow.scripts->nfiles; i++) {
        if (!(h->follow.scripts->files[i].hooks & hook))
            continue;
        int rc = run_one(h, i, hook, NULL, limit_ms, why, sizeof why);
        if (rc) {
            char *tb = strstr(why, "\nstack traceback:");
            if (tb)
                *tb = '\0';
            snprintf(err, errlen, "%s %s: %s", h->follow.scripts->files[i].name,
                     mf_scripts_hook_name(hook), why);
            return rc;
        }
    }
    return 0;
}

/* ---- following the server's version ---- */

static void add_job(void *ud, const char *interval, int singleton)
{
    mf_hooks_t *h = ud;
    int64_t ms;
    if (mf_parse_duration_ms(interval, &ms) || ms <= 0) /* the load checked: not reached */
        return;
    h->jobs = mf_xrealloc(h->jobs, (size_t)(h->njobs + 1) * sizeof *h->jobs);
    job_t *j = &h->jobs[h->njobs++];
    j->file = -1; /* set by the caller */
    snprintf(j->interval, sizeof j->interval, "%s", interval);
    j->every_ns = ms * 1000000;
    j->singleton = singleton;
    j->next_ns = mf_now_ns() + j->every_ns;
}

static void list_jobs(mf_hooks_t *h)
{
    char err[512];
    free(h->jobs);
    h->jobs = NULL;
    h->njobs = 0;
    for (int i = 0; i < h->follow.scripts->nfiles; i++) {
        if (!(h->follow.scripts->files[i].hooks & MF_HOOK_EVERY))
            continue;
        int first = h->njobs;
        if (mf_vm_list_jobs(h->follow.vm, i, add_job, h, err, sizeof err))
            log_hook_failure("every", h->follow.scripts->files[i].name, NULL, err);
        for (int j = first; j < h->njobs; j++) {
            h->jobs[j].file = i;
            snprintf(h->jobs[j].lease_key, sizeof h->jobs[j].lease_key, "job:%s:%s",
                     h->follow.scripts->files[i].module, h->jobs[j].interval);
        }
    }
}

static void sync_version(mf_hooks_t *h)
{
    if (mf_follow_sync(&h->follow) > 0)
        list_jobs(h);
}

/* ---- the thread ---- */

static void set_ready(mf_hooks_t *h, int ok, const char *err)
{
    pthread_mutex_lock(&h->lock);
    h->ready_ok = ok;
    snprintf(h->ready_err, sizeof h->ready_err, "%s", ok ? "" : err);
    pthread_mutex_unlock(&h->lock);
}

static int ready_check(void *ud, char *why, size_t whylen)
{
    mf_hooks_t *h = ud;
    pthread_mutex_lock(&h->lock);
    int ok = h->ready_ok;
    snprintf(why, whylen, "%s", h->ready_err);
    pthread_mutex_unlock(&h->lock);
    return ok;
}

/* Waits until deadline_ns or a command; returns the command (under no lock). */
static int wait_until(mf_hooks_t *h, int64_t deadline_ns)
{
    pthread_mutex_lock(&h->lock);
    while (h->cmd == CMD_NONE || h->cmd_done) {
        int64_t left = deadline_ns - mf_now_ns();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + left;
        ts.tv_sec = at / 1000000000;
        ts.tv_nsec = at % 1000000000;
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    }
    int cmd = h->cmd_done ? CMD_NONE : h->cmd;
    pthread_mutex_unlock(&h->lock);
    return cmd;
}

static void finish_cmd(mf_hooks_t *h, int rc, const char *err)
{
    pthread_mutex_lock(&h->lock);
    h->cmd_rc = rc;
    snprintf(h->cmd_err, sizeof h->cmd_err, "%s", err ? err : "");
    h->cmd_done = 1;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static void check_config(mf_hooks_t *h)
{
    char err[512] = "";
    sync_version(h);
    mf_vm_set_config(h->follow.vm, h->candidate);
    int rc = run_all(h, MF_HOOK_ON_CONFIG, 0, err, sizeof err);
    mf_vm_set_config(h->follow.vm, h->follow.config);
    finish_cmd(h, rc ? -1 : 0, err);
}

/* on_start until it passes; returns 0, or -1 when shutdown came first. */
static int start(mf_hooks_t *h)
{
    char err[512];
    int64_t backoff_ms = START_RETRY_FIRST_MS;
    for (;;) {
        sync_version(h);
        if (!run_all(h, MF_HOOK_ON_START, 0, err, sizeof err))
            return 0;
        char msg[600];
        snprintf(msg, sizeof msg, "on_start failed: %s", err);
        set_ready(h, 0, msg);
        mf_log_msg(MF_LOG_WARN, "not ready: on_start failed; retrying in %lldms",
                   (long long)backoff_ms);
        int cmd = wait_until(h, mf_now_ns() + backoff_ms * 1000000);
        if (cmd == CMD_SHUTDOWN)
            return -1;
        if (cmd == CMD_CHECK_CONFIG)
            check_config(h);
        backoff_ms = backoff_ms * 2 > START_RETRY_MAX_MS ? START_RETRY_MAX_MS : backoff_ms * 2;
    }
}

static void run_due_jobs(mf_hooks_t *h, int64_t now)
{
    char err[512];
    for (int i = 0; i < h->njobs; i++) {
        job_t *j = &h->jobs[i];
        if (now < j->next_ns)
            continue;
        run_one(h, j->file, MF_HOOK_EVERY, j, 0, err, sizeof err);
        /* A run longer than the interval skips the missed ticks instead of bunching them. */
        now = mf_now_ns();
        while (j->next_ns <= now)
            j->next_ns += j->every_ns;
    }
}

static void shutdown_hooks(mf_hooks_t *h)
{
    char err[512];
    sync_version(h);
    for (int i = 0; i < h->follow.scripts->nfiles; i++) {
        if (!(h->follow.scripts->files[i].hooks & MF_HOOK_ON_SHUTDOWN))
            continue;
        int64_t left_ms = (h->shutdown_deadline_ns - mf_now_ns()) / 1000000;
        if (left_ms <= 0) {
            mf_log_msg(MF_LOG_ERROR, "on_shutdown of %s skipped: the shutdown timeout passed",
                       h->follow.scripts->files[i].name);
            continue;
        }
        run_one(h, i, MF_HOOK_ON_SHUTDOWN, NULL, left_ms, err, sizeof err);
    }
}

static void *hooks_thread(void *arg)
{
    mf_hooks_t *h = arg;
    char err[512];
    if (start(h) == 0) {
        set_ready(h, 1, NULL);
        if (mf_lifecycle_advance(MF_STARTING, MF_READY))
            mf_log_msg(MF_LOG_INFO, "ready");
        list_jobs(h);
        int64_t next_check = mf_now_ns();
        for (;;) {
            int64_t now = mf_now_ns();
            sync_version(h);
            if (now >= next_check) {
                int rc = run_all(h, MF_HOOK_ON_READY_CHECK, 0, err, sizeof err);
                set_ready(h, rc == 0, err);
                next_check = mf_now_ns() + READY_CHECK_EVERY_NS;
            }
            run_due_jobs(h, mf_now_ns());
            int64_t wake = next_check;
            for (int i = 0; i < h->njobs; i++)
                if (h->jobs[i].next_ns < wake)
                    wake = h->jobs[i].next_ns;
            int cmd = wait_until(h, wake);
            if (cmd == CMD_SHUTDOWN)
                break;
            if (cmd == CMD_CHECK_CONFIG)
                check_config(h);
        }
    }
    shutdown_hooks(h);
    finish_cmd(h, 0, NULL);
    return NULL;
}

/* ---- the server's side ---- */

/* The pod's name (or the host's) and the pid, with a random part for restarts in one pod. */
static void set_owner(mf_hooks_t *h)
{
    char host[64] = "";
    const char *pod = getenv("POD_NAME");
    uint32_t r;
    if (!pod || !*pod) {
        gethostname(host, sizeof host - 1);
        pod = host;
    }
    mf_random_bytes(&r, sizeof r);
    snprintf(h->owner, sizeof h->owner, "%s/%d/%08x", pod, (int)getpid(), r);
}

mf_hooks_t *mf_hooks_start(const mf_options_t *o, int slot, mf_published_t *latest, char *err,
                           size_t errlen)
{
    mf_hooks_t *h = mf_xcalloc(1, sizeof *h);
    pthread_condattr_t ca;
    h->opts = o;
    h->slot = slot;
    set_owner(h);
    h->ready_ok = 0;
    snprintf(h->ready_err, sizeof h->ready_err, "on_start has not finished");
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (mf_follow_init(&h->follow, "hooks", o, latest, err, errlen))
        goto fail;
    mf_readiness_add_check("hooks", ready_check, h);
    if (pthread_create(&h->thread, NULL, hooks_thread, h)) {
        snprintf(err, errlen, "cannot start the hooks thread");
        goto fail;
    }
    h->started = 1;
    return h;
fail:
    mf_hooks_free(h);
    return NULL;
}

mf_vm_t *mf_hooks_vm(mf_hooks_t *h)
{
    return h->follow.vm;
}

/* Posts cmd and waits for the runner to finish it. */
static int post(mf_hooks_t *h, int cmd)
{
    pthread_mutex_lock(&h->lock);
    h->cmd = cmd;
    h->cmd_done = 0;
    pthread_cond_broadcast(&h->cond);
    while (!h->cmd_done)
        pthread_cond_wait(&h->cond, &h->lock);
    int rc = h->cmd_rc;
    h->cmd = CMD_NONE;
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int mf_hooks_check_config(mf_hooks_t *h, mf_config_t *c, char *err, size_t errlen)
{
    h->candidate = c;
    int rc = post(h, CMD_CHECK_CONFIG);
    h->candidate = NULL;
    if (rc)
        snprintf(err, errlen, "%s", h->cmd_err);
    return rc;
}

void mf_hooks_shutdown(mf_hooks_t *h, int64_t deadline_ns)
{
    if (!h || !h->started)
        return;
    h->shutdown_deadline_ns = deadline_ns;
    post(h, CMD_SHUTDOWN);
    pthread_join(h->thread, NULL);
    h->started = 0;
}

void mf_hooks_free(mf_hooks_t *h)
{
    if (!h)
        return;
    mf_hooks_shutdown(h, mf_now_ns());
    mf_follow_free(&h->follow);
    free(h->jobs);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}
