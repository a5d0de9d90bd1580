#include "serve/server.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/hooks.h"
#include "app/lifecycle.h"
#include "app/readiness.h"
#include "app/scripts_load.h"
#include "app/watchdog.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/config.h"
#include "client/http_client.h"
#include "event/breaker.h"
#include "event/folder_watch.h"
#include "event/listen.h"
#include "http/conn.h"
#include "http/stream.h"
#include "lua/vm.h"
#include "observe/log.h"
#include "observe/log_buffer.h"
#include "observe/metrics.h"
#include "observe/otel_config.h"
#include "observe/otlp_export.h"
#include "redis/redis.h"
#include "serve/admin.h"
#include "serve/handoff.h"
#include "serve/probes.h"
#include "serve/worker.h"

#define SETTLE_NS (100 * 1000000LL)
#define FRESH_WAIT_NS (1000 * 1000000LL)
#define HANDSHAKE_QUIET_NS (50 * 1000000LL)
#define HANDSHAKE_MAX_NS (500 * 1000000LL)

typedef struct {
    const mf_options_t *opts;
    mf_published_t current; /* the scripts version and config workers move to */
    mf_folder_watch_t *watch;
    mf_worker_t *workers;
    mf_vm_t **vms;
    int nworkers;
    mf_watchdog_t *watchdog;
    mf_admin_t *admin;
    mf_hooks_t *hooks;
    mf_handoff_t *handoff;
    int64_t stop_by; /* the drain's deadline: what is left of it flushes the spans */
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

    mf_probes_set_stuck_limit(o->stuck_timeout_ms);
    s->admin = mf_admin_start(o, err, errlen); /* first: probes answer while starting */
    if (!s->admin) {
        free(fds);
        return -1;
    }
    s->nworkers = o->workers;
    s->workers = mf_xcalloc((size_t)o->workers, sizeof *s->workers);
    s->vms = mf_xcalloc((size_t)o->workers + 1, sizeof *s->vms); /* and the hooks runner's */
    for (int i = 0; i < o->workers; i++)
        s->workers[i].listen_fd = -1;
    if (mf_listen_open(&o->listen, o->workers, fds, &port, err, errlen)) {
        free(fds);
        return -1;
    }
    for (int i = 0; i < o->workers; i++) {
        mf_worker_t *w = &s->workers[i];
        w->id = i;
        w->listen_fd = fds[i];
        w->opts = o;
    }
    free(fds);
    for (int i = 0; i < o->workers; i++) {
        mf_worker_t *w = &s->workers[i];
        char name[32];
        snprintf(name, sizeof name, "worker %d", i);
        if (mf_follow_init(&w->run, name, o, &s->current, err, errlen))
            return -1;
        s->vms[i] = w->run.vm;
    }
    s->hooks = mf_hooks_start(o, o->workers, &s->current, err, errlen);
    if (!s->hooks)
        return -1;
    s->vms[o->workers] = mf_hooks_vm(s->hooks);
    s->watchdog = mf_watchdog_start(s->vms, o->workers + 1, 20);
    if (!s->watchdog) {
        snprintf(err, errlen, "cannot start the watchdog thread");
        return -1;
    }
    mf_http_client_refuse_port(port);
    mf_http_client_refuse_port(mf_admin_port(s->admin));
    for (int i = 0; i < o->workers; i++)
        if (mf_worker_start(&s->workers[i], err, errlen))
            return -1;
    s->handoff = mf_handoff_start(s->workers, s->nworkers, s->admin);
    if (!s->handoff) {
        snprintf(err, errlen, "cannot start the hand-off thread");
        return -1;
    }

    mf_jsonbuf_t l; /* ready comes when on_start hooks are done (app/hooks.c) */
    mf_log_begin(&l, MF_LOG_INFO, "listening", 9, NULL);
    mf_jsonbuf_cstr(&l, "address", *o->listen.host ? o->listen.host : "*");
    mf_jsonbuf_int(&l, "port", port);
    if (mf_admin_port(s->admin) >= 0)
        mf_jsonbuf_int(&l, "admin_port", mf_admin_port(s->admin));
    mf_jsonbuf_int(&l, "workers", o->workers);
    mf_jsonbuf_int(&l, "routes", atomic_load(&s->current.scripts)->nroutes);
    mf_jsonbuf_cstr(&l, "scripts_version", atomic_load(&s->current.scripts)->version);
    mf_jsonbuf_cstr(&l, "version", MAYFLY_VERSION);
    mf_log_end(&l);
    return 0;
}

static void teardown(server_t *s)
{
    /* Readers first (probes and metrics read the hooks' verdict and every worker's state), the
     * watchdog only once no run can need it, the states it watches after it. */
    mf_handoff_stop(s->handoff);
    mf_admin_stop(s->admin);
    for (int i = 0; s->workers && i < s->nworkers; i++)
        mf_worker_stop(&s->workers[i]);
    mf_hooks_shutdown(s->hooks, mf_now_ns());
    mf_watchdog_stop(s->watchdog);
    mf_hooks_free(s->hooks);
    mf_folder_watch_stop(s->watch);
    for (int i = 0; s->workers && i < s->nworkers; i++)
        mf_follow_free(&s->workers[i].run);
    free(s->workers);
    free(s->vms);
    mf_published_free(&s->current);
    mf_redis_shutdown();
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
    mf_config_t *next, *cur = atomic_load(&s->current.config);
    char err[1024];
    if (!s->opts->config_dir)
        return;
    mf_jsonbuf_t l;
    if (mf_config_load(s->opts->config_dir, &next, err, sizeof err)) {
        mf_metrics_reload(MF_METRICS_RELOAD_CONFIG, 0);
        reload_line(&l, MF_LOG_ERROR, "config reload failed: the old config stays", why, err);
        mf_log_end(&l);
        return;
    }
    if (!strcmp(next->version, cur->version)) {
        mf_metrics_reload(MF_METRICS_RELOAD_CONFIG, 1);
        mf_config_release(next);
        return;
    }
    if (mf_hooks_check_config(s->hooks, next, err, sizeof err)) {
        mf_metrics_reload(MF_METRICS_RELOAD_CONFIG, 0);
        reload_line(&l, MF_LOG_ERROR, "config refused by on_config: the old config stays", why,
                    err);
        mf_jsonbuf_cstr(&l, "refused", next->version);
        mf_log_end(&l);
        mf_config_release(next);
        return;
    }
    mf_metrics_reload(MF_METRICS_RELOAD_CONFIG, 1);
    mf_published_swap_config(&s->current, next); /* returns cur, released below */
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
    mf_scripts_t *next, *cur = atomic_load(&s->current.scripts);
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
    mf_published_swap_scripts(&s->current, next); /* returns cur, released below */
    reload_line(&l, MF_LOG_INFO, "reloaded", why, NULL);
    mf_jsonbuf_cstr(&l, "version", next->version);
    mf_jsonbuf_cstr(&l, "previous", cur->version);
    mf_jsonbuf_int(&l, "files", next->nfiles);
    mf_jsonbuf_int(&l, "routes", next->nroutes);
    char names[512];
    mf_scripts_diff_t d = mf_scripts_diff(cur, next, names, sizeof names);
    mf_jsonbuf_begin(&l, "changed");
    mf_jsonbuf_int(&l, "added", d.added);
    mf_jsonbuf_int(&l, "modified", d.modified);
    mf_jsonbuf_int(&l, "removed", d.removed);
    mf_jsonbuf_end(&l);
    mf_jsonbuf_cstr(&l, "changed_files", names);
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

static void log_still_running(void *ud, int slot, int64_t since_ns, const char *what)
{
    mf_jsonbuf_t l;
    (void)ud;
    mf_log_begin(&l, MF_LOG_ERROR, "still running at exit", 21, NULL);
    mf_jsonbuf_int(&l, "slot", slot);
    mf_jsonbuf_cstr(&l, "running", what ? what : "");
    mf_jsonbuf_int(&l, "for_ms", (mf_now_ns() - since_ns) / 1000000);
    mf_log_end(&l);
}

/* Closes every worker's listener without resetting a connection the kernel accepted: new
 * handshakes stop first, those under way complete (none for HANDSHAKE_QUIET_NS, or
 * HANDSHAKE_MAX_NS at most), what they queued is taken and served, then the sockets shut. */
static void close_listeners(server_t *s)
{
    int64_t start = mf_now_ns(), quiet_since = start;
    for (int i = 0; i < s->nworkers; i++)
        mf_worker_quiesce(&s->workers[i]);
    for (;;) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        int64_t now = mf_now_ns();
        int taken = 0;
        for (int i = 0; i < s->nworkers; i++)
            taken += mf_worker_take_backlog(&s->workers[i]);
        if (taken)
            quiet_since = now;
        if (now - quiet_since >= HANDSHAKE_QUIET_NS || now - start >= HANDSHAKE_MAX_NS)
            break;
    }
    for (int i = 0; i < s->nworkers; i++)
        mf_worker_close_listener(&s->workers[i]);
}

/* The drain of the design: not ready at once, serve on for the drain delay, stop accepting,
 * let in-flight requests finish. Returns the exit code. */
static int drain(server_t *s, const sigset_t *set, int sig)
{
    const mf_options_t *o = s->opts;
    mf_lifecycle_set(MF_DRAINING);
    mf_log_msg(MF_LOG_INFO, "draining after %s: not ready; serving on for %lldms", strsignal(sig),
               (long long)o->drain_delay_ms);
    int again = wait_signal(set, mf_now_ns() + o->drain_delay_ms * 1000000);
    mf_handoff_stop(s->handoff); /* before the sockets it takes from close */
    s->handoff = NULL;
    close_listeners(s);
    for (int i = 0; i < s->nworkers; i++)
        mf_worker_drain_streams(&s->workers[i]);
    if (again)
        mf_log_msg(MF_LOG_WARN, "second signal: shutting down now");

    /* Done when nothing has been in flight for SETTLE_NS. A connection accepted before the
     * close on which no request has begun yet (its client or its worker slow under load) is
     * waited for FRESH_WAIT_NS: a client that connected sends its request. */
    int64_t closed_at = mf_now_ns();
    int64_t deadline = closed_at + o->shutdown_timeout_ms * 1000000, idle_since = 0;
    s->stop_by = deadline;
    while (!again && mf_now_ns() < deadline) {
        int64_t now = mf_now_ns();
        if (in_flight(s) > 0 || (now - closed_at < FRESH_WAIT_NS && mf_http_conn_fresh()))
            idle_since = 0;
        else if (!idle_since)
            idle_since = now;
        else if (now - idle_since >= SETTLE_NS)
            break;
        again = wait_signal(set, now + 10000000 < deadline ? now + 10000000 : deadline);
        if (again)
            mf_log_msg(MF_LOG_WARN, "second signal: shutting down now");
    }
    long left = in_flight(s);
    mf_lifecycle_set(MF_STOPPING);
    if (left > 0) {
        mf_log_msg(MF_LOG_ERROR, "shutdown %s with %ld request(s) still running",
                   again ? "forced" : "timed out", left);
        mf_lifecycle_each_busy(log_still_running, NULL);
        return MF_EXIT_TIMEOUT;
    }
    /* Periodic jobs stop; on_shutdown hooks get what is left of the shutdown timeout. */
    mf_hooks_shutdown(s->hooks, deadline);
    return MF_EXIT_OK;
}

/* /readyz's redis check: a PING through the pool (bounded by MAYFLY_REDIS_TIMEOUT), or at once
 * "circuit open" while the breaker is. */
/* Tracing, when OTEL_* names an endpoint: the exporter's thread starts and spans are recorded
 * from here on. Returns 0, or -1 with a message (a malformed variable). */
static const char *env(const char *name)
{
    return getenv(name);
}

static int start_tracing(char *err, size_t errlen)
{
    mf_otel_config_t c;
    if (mf_otel_config_read(&c, env, err, errlen))
        return -1;
    int rc = 0;
    if (c.enabled) {
        rc = mf_otlp_start(&c, err, errlen);
        if (!rc)
            mf_log_msg(MF_LOG_INFO, "tracing: spans go to %s (%s%s)", c.endpoint,
                       c.protocol == MF_OTLP_JSON ? "http/json" : "http/protobuf",
                       c.gzip ? ", gzip" : "");
    }
    mf_otel_config_free(&c);
    return rc;
}

static int redis_ready(void *ud, char *why, size_t whylen)
{
    (void)ud;
    return mf_redis_check(why, whylen) == 0;
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
    if (mf_redis_init(o, err, sizeof err)) {
        fatal("bad Redis settings", err);
        return MF_EXIT_START;
    }
    if (start_tracing(err, sizeof err)) {
        fatal("bad OpenTelemetry settings", err);
        return MF_EXIT_USAGE; /* a bad value, as a bad MAYFLY_* one is */
    }
    if (mf_redis_configured())
        mf_readiness_add_check("redis", redis_ready, NULL);
    mf_lifecycle_metrics_register();
    mf_breaker_metrics_register();
    mf_redis_metrics_register();
    mf_http_client_metrics_register();
    mf_stream_metrics_register();
    mf_scripts_t *first;
    if (mf_scripts_load(o->scripts_dir, o, &first, err, sizeof err)) {
        fatal("cannot load scripts", err);
        return MF_EXIT_START;
    }
    mf_config_t *config;
    if (mf_config_load(o->config_dir, &config, err, sizeof err)) {
        fatal("cannot load the config", err);
        mf_scripts_release(first);
        return MF_EXIT_START;
    }
    mf_published_init(&s.current, first, config);
    mf_lifecycle_set_scripts(first->version, first->version, NULL);
    int failed = 1;
    if (mf_log_buffer_start())
        snprintf(err, sizeof err, "the log flusher thread did not start");
    else
        failed = start(&s, err, sizeof err) != 0;
    if (failed) {
        fatal("cannot start", err);
        teardown(&s);
        mf_log_buffer_stop();
        return MF_EXIT_START;
    }
    const char *watched[] = {o->scripts_dir, o->config_dir};
    s.watch = mf_folder_watch_start(watched, 2);
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
    if (code == MF_EXIT_TIMEOUT) {
        /* Runs are still going and may never end (a wedged C call): tearing down would wait
         * for them. What they were is logged; the kernel reclaims the rest. */
        mf_log_msg(MF_LOG_ERROR, "stopped without waiting for the runs still going");
        mf_otlp_stop(mf_now_ns() + 1000000000); /* what finished may explain what did not */
        mf_log_buffer_stop();
        _exit(code);
    }
    int64_t flush_by = s.stop_by > mf_now_ns() ? s.stop_by : mf_now_ns() + 1000000000;
    int unsent = mf_otlp_stop(flush_by);
    if (unsent > 0)
        mf_log_msg(MF_LOG_WARN, "tracing: %d span(s) not sent before the shutdown timeout", unsent);
    teardown(&s);
    mf_log_buffer_stop();
    mf_log_msg(MF_LOG_INFO, "stopped");
    return code;
}
