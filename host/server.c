#include "server.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "scripts.h"
#include "vm.h"
#include "watch.h"
#include "watchdog.h"

typedef struct {
    const mf_options_t *opts;
    mf_scripts_t *_Atomic current; /* the version workers move to (the server's reference) */
    mf_config_t *_Atomic config;   /* likewise for the config folder */
    mf_watch_t *watch;
    mf_worker_t *workers;
    mf_vm_t **vms;
    int nworkers;
    mf_watchdog_t *watchdog;
} server_t;

static void fatal(const char *what, const char *err)
{
    fprintf(stderr, "mayfly: %s: %s\n", what, err);
    mf_log_msg(MF_LOG_ERROR, "%s: %s", what, err);
}

static long in_flight(server_t *s)
{
    long n = 0;
    for (int i = 0; i < s->nworkers; i++)
        n += atomic_load_explicit(&s->workers[i].in_flight, memory_order_relaxed);
    return n;
}

static int start(server_t *s, char *err, size_t errlen)
{
    const mf_options_t *o = s->opts;
    int port;
    int *fds = mf_xcalloc((size_t)o->workers, sizeof *fds);

    s->nworkers = o->workers;
    s->workers = mf_xcalloc((size_t)o->workers, sizeof *s->workers);
    s->vms = mf_xcalloc((size_t)o->workers, sizeof *s->vms);
    for (int i = 0; i < o->workers; i++)
        s->workers[i].listen_fd = -1;
    if (mf_http_listen(o, o->workers, fds, &port, err, errlen)) {
        free(fds);
        return -1;
    }
    for (int i = 0; i < o->workers; i++) {
        mf_worker_t *w = &s->workers[i];
        w->id = i;
        w->listen_fd = fds[i];
        w->opts = o;
        w->scripts = atomic_load(&s->current);
        mf_scripts_retain(w->scripts);
        w->latest = &s->current;
        w->config = atomic_load(&s->config);
        mf_config_retain(w->config);
        w->latest_config = &s->config;
    }
    free(fds);
    for (int i = 0; i < o->workers; i++) {
        mf_worker_t *w = &s->workers[i];
        w->vm = mf_vm_new(o, err, errlen);
        if (!w->vm || mf_vm_compile(w->vm, w->scripts, err, errlen))
            return -1;
        mf_vm_set_config(w->vm, w->config);
        s->vms[i] = w->vm;
    }
    s->watchdog = mf_watchdog_start(s->vms, o->workers, 20);
    if (!s->watchdog) {
        snprintf(err, errlen, "cannot start the watchdog thread");
        return -1;
    }
    for (int i = 0; i < o->workers; i++)
        if (mf_http_start(&s->workers[i], err, errlen))
            return -1;

    mf_lifecycle_set(MF_READY);
    mf_jsonbuf_t l;
    mf_log_begin(&l, MF_LOG_INFO, "listening", 9, NULL);
    mf_jsonbuf_cstr(&l, "address", *o->listen_host ? o->listen_host : "*");
    mf_jsonbuf_int(&l, "port", port);
    mf_jsonbuf_int(&l, "workers", o->workers);
    mf_jsonbuf_int(&l, "routes", atomic_load(&s->current)->nroutes);
    mf_jsonbuf_cstr(&l, "scripts_version", atomic_load(&s->current)->version);
    mf_jsonbuf_cstr(&l, "version", MAYFLY_VERSION);
    mf_log_end(&l);
    return 0;
}

static void teardown(server_t *s)
{
    for (int i = 0; s->workers && i < s->nworkers; i++)
        mf_http_stop(&s->workers[i]);
    mf_watchdog_stop(s->watchdog);
    mf_watch_stop(s->watch);
    for (int i = 0; s->workers && i < s->nworkers; i++) {
        mf_vm_free(s->workers[i].vm);
        mf_scripts_release(s->workers[i].scripts);
        mf_config_release(s->workers[i].config);
    }
    free(s->workers);
    free(s->vms);
    mf_scripts_release(atomic_load(&s->current));
    mf_config_release(atomic_load(&s->config));
}

/* Begins the log line of a reload: msg, the trigger, and for a failure its error. */
static void reload_line(mf_jsonbuf_t *l, int level, const char *msg, const char *why,
                        const char *error)
{
    mf_log_begin(l, level, msg, strlen(msg), NULL);
    mf_jsonbuf_cstr(l, "trigger", why);
    if (error)
        mf_jsonbuf_cstr(l, "error", error);
}

/* Loads the config folder again and publishes it when it is good and differs; a bad one (an
 * unreadable folder, config.json that is not an object) keeps the old config. */
static void reload_config(server_t *s, const char *why)
{
    mf_config_t *next, *cur = atomic_load(&s->config);
    char err[1024];
    if (!s->opts->config_dir)
        return;
    mf_jsonbuf_t l;
    int failed = mf_config_load(s->opts->config_dir, &next, err, sizeof err);
    mf_metrics_reload(MF_METRICS_RELOAD_CONFIG, !failed);
    if (failed) {
        reload_line(&l, MF_LOG_ERROR, "config reload failed: the old config stays", why, err);
        mf_log_end(&l);
        return;
    }
    if (!strcmp(next->version, cur->version)) {
        mf_config_release(next);
        return;
    }
    atomic_store(&s->config, next);
    reload_line(&l, MF_LOG_INFO, "config reloaded", why, NULL);
    mf_jsonbuf_cstr(&l, "version", next->version);
    mf_jsonbuf_int(&l, "keys", next->nentries);
    mf_log_end(&l);
    mf_config_release(cur);
}

/* Loads the scripts folder again and, when it holds a good set that differs, makes it the
 * version workers move to. A bad set changes nothing: the error is logged and shown by /readyz. */
static void reload(server_t *s, const char *why)
{
    const mf_options_t *o = s->opts;
    mf_scripts_t *next, *cur = atomic_load(&s->current);
    char err[1024];
    int64_t t0 = mf_now_ns();

    mf_jsonbuf_t l;
    int failed = mf_scripts_load(o->scripts_dir, o, &next, err, sizeof err);
    mf_metrics_reload(MF_METRICS_RELOAD_SCRIPTS, !failed);
    if (failed) {
        reload_line(&l, MF_LOG_ERROR, "reload failed: the old version keeps serving", why, err);
        mf_jsonbuf_cstr(&l, "serving", cur->version);
        mf_log_end(&l);
        mf_lifecycle_set_scripts(cur->version, "", err);
        return;
    }
    mf_lifecycle_set_scripts(!strcmp(next->version, cur->version) ? cur->version : next->version,
                             next->version, NULL);
    if (!strcmp(next->version, cur->version)) {
        mf_log_msg(MF_LOG_DEBUG, "reload (%s): version %s unchanged", why, cur->version);
        mf_scripts_release(next);
        return;
    }
    atomic_store(&s->current, next);
    reload_line(&l, MF_LOG_INFO, "reloaded", why, NULL);
    mf_jsonbuf_cstr(&l, "version", next->version);
    mf_jsonbuf_cstr(&l, "previous", cur->version);
    mf_jsonbuf_int(&l, "files", next->nfiles);
    mf_jsonbuf_int(&l, "routes", next->nroutes);
    char ms[32];
    int n = snprintf(ms, sizeof ms, "%.1f", (double)(mf_now_ns() - t0) / 1e6);
    mf_jsonbuf_raw(&l, "duration_ms", ms, (size_t)n);
    mf_log_end(&l);
    mf_scripts_release(cur); /* workers still on it hold references of their own */
}

/* Waits for a signal in set until deadline_ns (0: forever). Returns the signal or 0. */
static int wait_signal(const sigset_t *set, int64_t deadline_ns)
{
    for (;;) {
        int sig;
        if (!deadline_ns) {
            if (sigwait(set, &sig) == 0)
                return sig;
            continue;
        }
        int64_t left = deadline_ns - mf_now_ns();
        if (left <= 0)
            return 0;
        struct timespec ts = {left / 1000000000, left % 1000000000};
        sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
    }
}

/* The drain of the design: not ready at once, serve on for the drain delay, stop accepting,
 * let in-flight requests finish. Returns the exit code. */
static int drain(server_t *s, const sigset_t *set, int sig)
{
    const mf_options_t *o = s->opts;
    mf_lifecycle_set(MF_DRAINING);
    mf_log_msg(MF_LOG_INFO, "draining after %s: not ready; serving on for %lldms",
               strsignal(sig), (long long)o->drain_delay_ms);
    int again = wait_signal(set, mf_now_ns() + o->drain_delay_ms * 1000000);
    for (int i = 0; i < s->nworkers; i++)
        mf_http_quiesce(&s->workers[i]);
    if (again)
        mf_log_msg(MF_LOG_WARN, "second signal: shutting down now");

    int64_t deadline = mf_now_ns() + o->shutdown_timeout_ms * 1000000;
    while (!again && in_flight(s) > 0 && mf_now_ns() < deadline) {
        again = wait_signal(set, mf_now_ns() + 10000000 < deadline ? mf_now_ns() + 10000000
                                                                    : deadline);
        if (again)
            mf_log_msg(MF_LOG_WARN, "second signal: shutting down now");
    }
    long left = in_flight(s);
    mf_lifecycle_set(MF_STOPPING);
    if (left > 0) {
        mf_log_msg(MF_LOG_ERROR, "shutdown %s with %ld request(s) still running",
                   again ? "forced" : "timed out", left);
        return MF_EXIT_TIMEOUT;
    }
    return MF_EXIT_OK;
}

int mf_server_run(const mf_options_t *o)
{
    server_t s = {.opts = o};
    char err[1024];
    sigset_t set;
    int code;

    /* Every thread inherits this mask: signals are taken by sigwait in this thread only. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mf_lifecycle_set(MF_STARTING);
    mf_scripts_t *first;
    if (mf_scripts_load(o->scripts_dir, o, &first, err, sizeof err)) {
        fatal("cannot load scripts", err);
        return MF_EXIT_START;
    }
    atomic_init(&s.current, first);
    mf_config_t *config;
    if (mf_config_load(o->config_dir, &config, err, sizeof err)) {
        fatal("cannot load the config", err);
        mf_scripts_release(first);
        return MF_EXIT_START;
    }
    atomic_init(&s.config, config);
    mf_lifecycle_set_scripts(first->version, first->version, NULL);
    if (start(&s, err, sizeof err)) {
        fatal("cannot start", err);
        teardown(&s);
        return MF_EXIT_START;
    }
    const char *watched[] = {o->scripts_dir, o->config_dir};
    s.watch = mf_watch_start(watched, 2);
    for (;;) {
        int sig = wait_signal(&set, 0);
        if (sig == SIGHUP) {
            /* The watcher signals changes with SIGHUP too: it is the one reload trigger. */
            reload_config(&s, "change or SIGHUP");
            reload(&s, "change or SIGHUP");
            continue;
        }
        code = drain(&s, &set, sig);
        break;
    }
    teardown(&s);
    mf_log_msg(MF_LOG_INFO, "stopped");
    return code;
}
