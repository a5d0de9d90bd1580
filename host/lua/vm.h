/* A worker's Lua state: the sandbox and host modules, the compiled scripts, and the run of one
 * request in a fresh environment. A vm belongs to one thread; only mf_vm_enforce_deadline may be
 * called from another (the watchdog). This is the vm as the layers that own one see it; the C
 * functions scripts call see it through lua/binding.h. */
#ifndef MF_LUA_VM_H
#define MF_LUA_VM_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/options.h"
#include "http/request.h"
#include "http/response.h"
#include "lua/binding.h"
#include "lua/scripts.h"

/* Returns NULL with a message in err when the state cannot be built. */
mf_vm_t *mf_vm_new(const mf_options_t *opts, char *err, size_t errlen);
void mf_vm_free(mf_vm_t *vm);

/* Makes c the config scripts read from the next request on (c may be NULL: no config). The vm
 * keeps no reference to c. */
void mf_vm_set_config(mf_vm_t *vm, const mf_config_t *c);
/* Makes the table on top of the vm's stack (popped) the config source scripts read, in the
 * shape mf_config_push_source builds: {values=, overrides=}. For mayfly test. */
void mf_vm_set_config_source(mf_vm_t *vm);

/* Replaces the vm's state by a new one built from nothing, with s compiled and c as its config,
 * so that nothing any earlier run left in the old state (whatever way it found) outlives a new
 * version. No run may be waiting. Returns 0, or -1 with the reason in err and the old state
 * kept. */
int mf_vm_renew(mf_vm_t *vm, const mf_scripts_t *s, const mf_config_t *c, char *err, size_t errlen);

/* The version the vm's state runs (NULL before mf_vm_compile). */
const mf_scripts_t *mf_vm_scripts(const mf_vm_t *vm);

/* Compiles every file of s into a state that has none yet (a new one: one version per state);
 * s becomes the version requests run on and must outlive its use by the vm. Returns 0, or -1
 * with "file:line: message" in err. */
int mf_vm_compile(mf_vm_t *vm, const mf_scripts_t *s, char *err, size_t errlen);

/* Runs file's chunk once in a fresh environment, as a request would, and reports the keys of the
 * table it returns: fn(ud, key, lua type of the value). *is_table is 0 when it returns something
 * else. A run longer than limit_ms (0: no bound) is cut off. Returns 0 or -1 with the error in
 * err. */
int mf_vm_probe(mf_vm_t *vm, int file, int64_t limit_ms,
                void (*fn)(void *ud, const char *key, int type), void *ud, int *is_table, char *err,
                size_t errlen);

/* Runs file's chunk as mf_vm_probe does and checks that it returns shared middleware: a table
 * with `before` and/or `after` functions, or a list of such tables (lua/run.lua runs them).
 * Returns 0 with the MF_MIDDLEWARE_* bits its layers have in *bits, or -1 with the reason in
 * err. */
int mf_vm_probe_middleware(mf_vm_t *vm, int file, int64_t limit_ms, unsigned *bits, char *err,
                           size_t errlen);

/* Runs, as a load would (mf_vm_probe), the top level of every file that names a constant, so
 * that the version's constants are computed before any request: only then are they kept.
 * Errors are logged (the version was probed before). */
void mf_vm_warm(mf_vm_t *vm, int64_t limit_ms);

/* ---- request runs (run.c) ---- */

/* Hands the response of a run: what resp points to is valid during the call only. */
typedef void (*mf_vm_sink_fn)(void *ud, const mf_response_t *resp);

/* Gives the vm the loop its runs may wait on (a worker's). Without one no call waits. */
void mf_vm_set_loop(mf_vm_t *vm, mf_loop_t *loop);

/* Runs the handler r->match names in a coroutine; sink gets the response with r->status set
 * (errors in the script become 500, or 504 past the request timeout, with the request id,
 * logged with the traceback). Returns 1 when the run ended before returning, 0 when it waits
 * on the loop: sink is called later, from mf_vm_resume_woken. A vm without a loop never
 * waits. r must outlive the run. */
int mf_vm_start(mf_vm_t *vm, mf_request_t *r, mf_vm_sink_fn sink, void *ud);

/* Runs that wait (suspended or woken, not yet resumed). */
int mf_vm_waiting(mf_vm_t *vm);
/* 1 when mf_vm_resume_woken has runs to resume. */
int mf_vm_woken(mf_vm_t *vm);
/* Continues the runs mf_vm_wake woke; the loop's owner calls it after each turn. Returns how
 * many it resumed. */
int mf_vm_resume_woken(mf_vm_t *vm);

/* ---- streamed responses (run_stream.c) ---- */

/* The process drains: every streaming run, and every one that begins from now on, is to end:
 * out:draining() is true and its waits return at once (mf_vm_wait_refused). */
void mf_vm_drain_streams(mf_vm_t *vm);
/* Ends the streams open now the same way: a new version waits for the old one's runs. */
void mf_vm_end_streams(mf_vm_t *vm);
/* 1 while a run streams its response. */
int mf_vm_streaming(mf_vm_t *vm);

/* ---- runs of a file's hooks (run_hook.c) ---- */

/* A singleton job's lease: the job runs only while this owner holds key (mayfly.lease). */
typedef struct {
    const char *key, *owner;
    int64_t ttl_ms;
} mf_vm_lease_t;

/* Runs hook (a key of file's table: "on_start", ...; for "every", job names the interval) in a
 * fresh environment, as a request would, cut off past limit_ms (0: no bound). lease: NULL, or
 * the lease to take (or renew) first. traced: the run is the root span of a trace of its own
 * (with tracing on), else nothing of it is recorded. Returns 0 (also when the lease is
 * another's), 1 when the hook returned false (its second value, the reason, in err), or -1 with
 * the error. */
int mf_vm_run_hook(mf_vm_t *vm, int file, const char *hook, const char *job,
                   const mf_vm_lease_t *lease, int traced, int64_t limit_ms, char *err,
                   size_t errlen);
/* Calls fn for each periodic job of file's `every` table. Returns 0, or -1 with the error. */
int mf_vm_list_jobs(mf_vm_t *vm, int file,
                    void (*fn)(void *ud, const char *interval, int singleton), void *ud, char *err,
                    size_t errlen);

/* Called by the watchdog: interrupts the running request when it is past its deadline. */
void mf_vm_enforce_deadline(mf_vm_t *vm, int64_t now_ns);

/* Lua memory in use, in bytes. */
size_t mf_vm_memory(mf_vm_t *vm);

#endif
