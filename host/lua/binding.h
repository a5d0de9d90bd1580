/* What the C functions scripts call (lua/api/, the request object) may use of the state they
 * run in and of the run that calls them: their context, the request, the deadline, and waiting
 * on the worker's loop. The one interface between the bindings and the runtime; the rest of the
 * vm (lua/vm.h) is for the layers that own states. */
#ifndef MF_LUA_BINDING_H
#define MF_LUA_BINDING_H

#include <stdint.h>

#include <lua.h>

#include "base/options.h"
#include "event/loop.h"
#include "http/request.h"
#include "lua/refs.h"

typedef struct mf_vm mf_vm_t;
typedef struct mf_vm_run mf_vm_run_t;

/* The vm of a state (its allocator's userdata): how C functions find their context. */
mf_vm_t *mf_vm_of(lua_State *L);
const mf_options_t *mf_vm_options(mf_vm_t *vm);
/* The vm's main state: where a waker pushes the values a run is woken with. */
lua_State *mf_vm_state(mf_vm_t *vm);
/* The request being served, or NULL (start-up, probes of the scripts, hooks). */
mf_request_t *mf_vm_request(mf_vm_t *vm);
/* The request of the request object at idx when it is the running run's own, else NULL: an
 * object carried out of its request reads nothing of another. */
mf_request_t *mf_vm_request_of(lua_State *L, int idx);
/* When the running request passes MAYFLY_REQUEST_TIMEOUT, on mf_now_ns's clock; 0 when no
 * request runs or there is no timeout. A C call that blocks must end before it. */
int64_t mf_vm_deadline_ns(mf_vm_t *vm);

/* 1 while a version loads (its files' top levels run, with no request): constants are kept. */
int mf_vm_loading(mf_vm_t *vm);
/* 1 while a version loads or a hook runs: metrics may be declared. */
int mf_vm_may_declare(mf_vm_t *vm);

/* Calls the Lua function at idx of L (a request's run) with no arguments, detached from the
 * request: on a coroutine of its own whose environment, and the function's meanwhile, is a new
 * one, with no request, a require cache and a random sequence of its own; the run's deadline
 * and memory cap still apply. Pushes its first result, or raises its error. For
 * mayfly.constant. */
void mf_vm_call_detached(lua_State *L, int idx); /* may raise */

/* ---- waiting on the worker's loop ---- */

/* The loop runs may wait on (a worker's), or NULL: every call blocks. */
mf_loop_t *mf_vm_loop(mf_vm_t *vm);

/* The run executing on L when it may suspend (a run of a vm with a loop, in its handler, on its
 * own coroutine, where a yield can succeed: not inside a callback of a C function such as
 * string.gsub's), else NULL: the caller blocks. */
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
/* When the run's waits must end (a request's deadline); 0: no bound (a streaming run, whose
 * waits its stream's end bounds, or no timeout). */
int64_t mf_vm_run_deadline(const mf_vm_run_t *run);
/* Makes the waiting run continue at the end of the loop's turn; the top nresults values of the
 * vm's main state, moved to the run, are what the waiting C function returns. A stale waiter's
 * values are popped and nothing else happens. */
void mf_vm_wake(mf_vm_waiter_t w, int nresults);

/* ---- waits the runtime may cut short, and what ends with a run ---- */

/* Whether run may begin a wait that could last (mayfly.sleep, sub:next, a streamed read): 0 when
 * it may; else it pushes nil, why and returns 2, what the caller returns at once. Only a
 * streaming run is ever refused: its client left ("closed"), it outlived MAYFLY_STREAM_TIMEOUT
 * ("timeout"), or the process drains or a new version waits ("draining"). A refusal is the
 * run's cue to end: a second one raises "stream ended (why)", which ends the run without a
 * logged error, so that a loop which ignores the cue cannot spin. */
int mf_vm_wait_refused(lua_State *L, mf_vm_run_t *run); /* may raise */

/* Makes the wait just begun (mf_vm_waiter) one the runtime may cut short: when a reason of
 * mf_vm_wait_refused arises while it lasts, cancel(ud) is called, which must stop whatever
 * would wake the waiter, and the run is woken with nil, why. It holds until the wake. */
void mf_vm_wait_cancelable(mf_vm_run_t *run, void (*cancel)(void *ud), void *ud);

/* Something of a run's that must not outlive it (a subscription): fn(ud) runs when the run
 * ends, however it ends, unless mf_vm_run_undefer took it back first. The caller owns the
 * node, which must stay valid until then. */
typedef struct mf_vm_cleanup {
    void (*fn)(void *ud);
    void *ud;
    /* private */
    struct mf_vm_cleanup *prev, *next;
} mf_vm_cleanup_t;

void mf_vm_run_defer(mf_vm_run_t *run, mf_vm_cleanup_t *c, void (*fn)(void *ud), void *ud);
void mf_vm_run_undefer(mf_vm_cleanup_t *c);
/* The run executing now, whether or not it may wait (NULL outside request runs): what an
 * object made by a run checks before it serves a call. */
mf_vm_run_t *mf_vm_current_run(lua_State *L);

/* ---- tracing ---- */

struct mf_span;
/* The span what runs now belongs under: the innermost span its scripts opened, else the
 * request's server span (http/request.h) or the hook's root span; NULL when nothing is traced
 * (tracing off, the trace not sampled, a version loading). Valid until the running C function
 * returns or waits: a call that outlasts it keeps mf_span_context's copy instead. */
struct mf_span *mf_vm_span(lua_State *L);
/* Opens a script's span (mayfly.trace.span) named name under mf_vm_span as the innermost one.
 * Returns its serial, or 0 when it is not recorded (nothing traced, or MF_VM_OPEN_SPANS open
 * already). */
uint64_t mf_vm_span_open(lua_State *L, const char *name, size_t len);
/* Ends the span of serial with error (NULL: none) as its status, and any opened inside it and
 * left open. A serial not open in the running run or hook is ignored. */
void mf_vm_span_close(lua_State *L, uint64_t serial, const char *error, size_t len);

#endif
