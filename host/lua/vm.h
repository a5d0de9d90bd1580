/* A worker's Lua state: the sandbox and host modules, the compiled scripts, and the run of one
 * request in a fresh environment. A vm belongs to one thread; only mf_vm_watch may be called
 * from another (the watchdog). */
#ifndef MF_VM_H
#define MF_VM_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "base/config.h"
#include "base/options.h"
#include "http/request.h"
#include "http/response.h"
#include "app/scripts.h"

struct MHD_Response;
typedef struct mf_vm mf_vm_t;
typedef struct mf_vm_run mf_vm_run_t;
typedef struct mf_loop mf_loop_t;

/* Returns NULL with a message in err when the state cannot be built. */
mf_vm_t *mf_vm_new(const mf_options_t *opts, char *err, size_t errlen);
void mf_vm_free(mf_vm_t *vm);

/* The vm of a state (its allocator's userdata): how C functions find their context. */
mf_vm_t *mf_vm_of(lua_State *L);
const mf_options_t *mf_vm_options(mf_vm_t *vm);
/* The vm's Lua state, for host code that runs outside a request (mayfly test). */
lua_State *mf_vm_state(mf_vm_t *vm);
/* The request being served, or NULL (start-up, probes of the scripts). */
mf_request_t *mf_vm_request(mf_vm_t *vm);
/* The request of the request object at idx when it is the running run's own, else NULL: an
 * object carried out of its request reads nothing of another. */
mf_request_t *mf_vm_request_of(lua_State *L, int idx);

/* When the running request passes MAYFLY_REQUEST_TIMEOUT, on mf_now_ns's clock; 0 when no
 * request runs or there is no timeout. A C call that blocks must end before it. */
int64_t mf_vm_deadline_ns(mf_vm_t *vm);

/* Values the request path pushes often, kept in the registry's array part (by integer, no
 * hashing). Owners set them once while building the state. */
enum {
    MF_REF_TRACEBACK,
    MF_REF_DISPATCH,
    MF_REF_ENV_MT,
    MF_REF_IDLE_ENV,
    MF_REF_REQUEST_MT,
    MF_REF_REQUEST_JSON,
    MF_REF_HTTP_ERROR_MT,
    MF_REF_CONSTANTS,
    MF_REF_COUNT
};
/* Pops the value on top into slot which. */
void mf_vm_set_ref(lua_State *L, int which);
/* Pushes the value of slot which (nil when unset). */
void mf_vm_push_ref(lua_State *L, int which);

/* Calls the Lua function at idx of L (a request's run) with no arguments, detached from the
 * request: on a coroutine of its own whose environment, and the function's meanwhile, is a new
 * one, with no request, a require cache and a random sequence of its own; the run's deadline
 * and memory cap still apply. Pushes its first result, or raises its error. For
 * mayfly.constant. */
void mf_vm_call_detached(lua_State *L, int idx); /* may raise */

/* Makes c the config scripts read from the next request on (c may be NULL: no config). The vm
 * keeps no reference to c. */
void mf_vm_set_config(mf_vm_t *vm, const mf_config_t *c);

/* Replaces the vm's state by a new one built from nothing, with s compiled and c as its config,
 * so that nothing any earlier run left in the old state (whatever way it found) outlives a new
 * version. No run may be waiting. Returns 0, or -1 with the reason in err and the old state
 * kept. */
int mf_vm_renew(mf_vm_t *vm, const mf_scripts_t *s, const mf_config_t *c, char *err,
                size_t errlen);

/* Compiles every file of s into the state; s becomes the version requests run on. s must outlive
 * its use by the vm. Returns 0, or -1 with "file:line: message" in err. */
int mf_vm_compile(mf_vm_t *vm, const mf_scripts_t *s, char *err, size_t errlen);

/* Runs file's chunk once in a fresh environment, as a request would, and reports the keys of the
 * table it returns: fn(ud, key, lua type of the value). *is_table is 0 when it returns something
 * else. A run longer than limit_ms (0: no bound) is cut off. Returns 0 or -1 with the error in
 * err. */
int mf_vm_probe(mf_vm_t *vm, int file, int64_t limit_ms,
                void (*fn)(void *ud, const char *key, int type), void *ud, int *is_table, char *err,
                size_t errlen);

/* Runs, as a load would (mf_vm_probe), the top level of every file that names a constant, so
 * that the version's constants are computed before any request: only then are they kept.
 * Errors are logged (the version was probed before). */
void mf_vm_warm(mf_vm_t *vm, int64_t limit_ms);
/* 1 while a version loads (mf_vm_probe, mf_vm_warm): what runs then is the scripts' own top
 * level, with no request, so it may keep constants and declare metrics. */
int mf_vm_loading(mf_vm_t *vm);
/* 1 while a version loads or a hook runs: metrics may be declared. */
int mf_vm_may_declare(mf_vm_t *vm);

/* Hands the response of a run: what resp points to is valid during the call only. */
typedef void (*mf_vm_sink_fn)(void *ud, const mf_response_t *resp);

/* ---- request runs (vm_run.c) ---- */

/* Gives the vm the loop its runs may wait on (a worker's). Without one no call waits. */
void mf_vm_set_loop(mf_vm_t *vm, mf_loop_t *loop);
mf_loop_t *mf_vm_loop(mf_vm_t *vm);

/* Runs the handler r->match names in a coroutine; sink gets the response with r->status set
 * (errors in the script become 500, or 504 past the request timeout, with the request id,
 * logged with the traceback). Returns 1 when the run ended before returning, 0 when it waits
 * on the loop: sink is called later, from mf_vm_resume_woken. r must outlive the run. */
int mf_vm_start(mf_vm_t *vm, mf_request_t *r, mf_vm_sink_fn sink, void *ud);
/* The same, for a vm without a loop: the run always ends before the call returns. */
void mf_vm_run_to(mf_vm_t *vm, mf_request_t *r, mf_vm_sink_fn sink, void *ud);
/* mf_vm_run_to with the response as a libmicrohttpd response (the caller destroys it). */
struct MHD_Response *mf_vm_run(mf_vm_t *vm, mf_request_t *r);
/* resp as a libmicrohttpd response; a response it cannot carry becomes a logged 500. */
struct MHD_Response *mf_vm_response_to_mhd(mf_request_t *r, const mf_response_t *resp);

/* Runs that wait (suspended or woken, not yet resumed). */
int mf_vm_waiting(mf_vm_t *vm);
/* 1 when mf_vm_resume_woken has runs to resume. */
int mf_vm_woken(mf_vm_t *vm);
/* Continues the runs mf_vm_wake woke; the loop's owner calls it after each turn. Returns how
 * many it resumed. */
int mf_vm_resume_woken(mf_vm_t *vm);

/* For C functions that wait on the loop: the run executing on L when it may suspend (a run of
 * a vm with a loop, in its handler, on its own coroutine, where a yield can succeed: not inside
 * a callback of a C function such as string.gsub's), else NULL: the caller blocks. */
mf_vm_run_t *mf_vm_run_of(lua_State *L);

/* One wait of a run, as the C side that will wake it keeps it: a wake for a wait that is over
 * (the run ended and its record serves another run) is dropped, never resumes the wrong run. */
typedef struct {
    mf_vm_run_t *run;
    uint64_t id;
} mf_vm_waiter_t;

/* Begins a wait of run (from mf_vm_run_of): the handle the waker keeps. The same C function
 * then returns mf_vm_wait(L, run). */
mf_vm_waiter_t mf_vm_waiter(mf_vm_run_t *run);
/* Suspends the run: `return mf_vm_wait(L, run);` ends the C function. Until the run is woken,
 * the values on the C function's stack stay reachable, so what the wait's C side points into
 * (argument strings, userdata) is not collected. */
int mf_vm_wait(lua_State *L, mf_vm_run_t *run);
mf_vm_t *mf_vm_run_vm(const mf_vm_run_t *run);
int64_t mf_vm_run_deadline(const mf_vm_run_t *run); /* 0: no timeout */
/* Makes the waiting run continue at the end of the loop's turn; the top nresults values of the
 * vm's main state, moved to the run, are what the waiting C function returns. A stale waiter's
 * values are popped and nothing else happens. */
void mf_vm_wake(mf_vm_waiter_t w, int nresults);

/* A singleton job's lease: the job runs only while this owner holds key (mayfly.lease). */
typedef struct {
    const char *key, *owner;
    int64_t ttl_ms;
} mf_vm_lease_t;

/* Runs hook (a key of file's table: "on_start", ...; for "every", job names the interval) in a
 * fresh environment, as a request would, cut off past limit_ms (0: no bound). lease: NULL, or
 * the lease to take (or renew) first. Returns 0 (also when the lease is another's), 1 when the
 * hook returned false (its second value, the reason, in err), or -1 with the error. */
int mf_vm_run_hook(mf_vm_t *vm, int file, const char *hook, const char *job,
                   const mf_vm_lease_t *lease, int64_t limit_ms, char *err, size_t errlen);
/* Calls fn for each periodic job of file's `every` table. Returns 0, or -1 with the error. */
int mf_vm_list_jobs(mf_vm_t *vm, int file,
                    void (*fn)(void *ud, const char *interval, int singleton), void *ud, char *err,
                    size_t errlen);
/* Makes the table on top of the vm's stack (popped) the config source scripts read, in the
 * shape mf_config_push_source builds: {values=, overrides=}. For mayfly test. */
void mf_vm_set_config_source(mf_vm_t *vm);

/* Called by the watchdog: interrupts the running request when it is past its deadline. */
void mf_vm_watch(mf_vm_t *vm, int64_t now_ns);

/* Lua memory in use, in bytes. */
size_t mf_vm_memory(mf_vm_t *vm);

#endif
