/* Between the files of lua/ that make up the vm (vm.c, state.c, load.c, run.c, run_hook.c,
 * run_detached.c, math_random.c): the vm's fields and the run bracket. Nothing else includes
 * this. */
#ifndef MF_VM_PRIVATE_H
#define MF_VM_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <lua.h>

#include "event/loop.h"
#include "http/stream.h"
#include "lua/refs.h"
#include "lua/vm.h"

/* math.random's state (xoshiro256**): one per request run, so one request's randomseed makes
 * its own sequence repeatable whatever other runs do meanwhile. */
typedef struct {
    uint64_t s[4];
    int seeded; /* seeded unpredictably on first use unless randomseed came first */
} mf_rng_t;

/* The spans scripts opened (mayfly.trace.span) and have not closed, innermost last, in a run or
 * a hook; each with the serial its closing names (run_trace.c). */
#define MF_VM_OPEN_SPANS 16
typedef struct {
    struct mf_span *open[MF_VM_OPEN_SPANS];
    uint64_t serial[MF_VM_OPEN_SPANS];
    int n;
} mf_vm_spans_t;

/* A request run: the handler in a coroutine of the vm, which may wait (mf_vm_wait) while other
 * runs of the same vm go on. Private to run.c but for what run_enter/run_leave swap. */
struct mf_vm_run {
    mf_vm_t *vm;
    lua_State *co;
    int co_ref; /* registry: anchors co */
    mf_request_t *r;
    mf_vm_sink_fn sink;
    void *sink_ud;
    int64_t deadline_ns; /* 0: no timeout */
    size_t mem_left;     /* what is left of its MAYFLY_MAX_LUA_MEMORY growth (0: no cap) */
    size_t mem_at_enter;
    int loaded_ref;        /* its require() cache */
    const void *req_table; /* its request object, once pushed */
    mf_rng_t rng;
    int cap_hit;              /* it was refused memory */
    int in_handler;           /* past the route file's chunk: it may wait */
    int waiting;              /* suspended in mf_vm_wait */
    uint64_t wait_id;         /* the wait it is in (mf_vm_waiter_t.id); never reused in a vm */
    int nresults;             /* woken with this many values on co */
    mf_vm_run_t *next;        /* the woken list, or the free list */
    void (*cancel)(void *ud); /* the waker of a wait the runtime may cut short */
    void *cancel_ud;
    mf_vm_cleanup_t cleanups; /* what ends with it: a ring around this sentinel */
    mf_vm_spans_t spans;      /* its scripts' open spans, under the request's span */

    /* A streamed response (run_stream.c), once the handler returned one. */
    mf_stream_t *stream;
    void *out;            /* its out object (a userdata), cleared when the run ends */
    const char *cut;      /* why it must end: "draining", "timeout"; NULL while it may go on */
    int refusals;         /* waits refused since it began ending */
    mf_timer_t end_timer; /* MAYFLY_STREAM_TIMEOUT */
    mf_timer_t heartbeat; /* writes heartbeat_text after heartbeat_ns without a write */
    int64_t heartbeat_ns, last_write_ns;
    char *heartbeat_text;
    size_t heartbeat_len;
    struct {
        mf_vm_waiter_t w;
        const char *p; /* the string being written, on the waiting coroutine's stack */
        size_t len, off;
    } pending;                              /* a write waiting for room (w.run NULL: none) */
    mf_vm_run_t *stream_prev, *stream_next; /* the vm's streaming runs */
};

struct mf_vm {
    lua_State *L;
    const mf_options_t *opts;
    size_t mem;
    lua_Alloc base_alloc; /* LuaJIT's own allocator, which vm_alloc accounts for */
    void *base_alloc_ud;

    const mf_scripts_t *scripts; /* the version requests run on */
    int chunks_ref;              /* registry: array of compiled chunks, by file index */

    mf_request_t *req; /* the request being served */
    int loaded_ref;    /* registry: this request's require() cache, LUA_NOREF until used */

    /* The request timeout. The worker publishes gen and deadline_ns per request without locks;
     * the watchdog marks a late request by storing its gen in late_gen and installs the hook.
     * hook_lock orders the two threads' lua_sethook calls. */
    _Atomic uint64_t gen;
    _Atomic int64_t deadline_ns; /* 0 while idle */
    _Atomic uint64_t late_gen;
    pthread_mutex_t hook_lock;
    mf_rng_t own_rng; /* math.random's state outside request runs */
    mf_rng_t *rng;    /* the running run's, or own_rng */
    size_t cap_limit; /* while a script runs: the memory it may grow the state to; 0: none */
    int loading;      /* a version loads (its files' top levels run): constants are kept */
    int in_hook;      /* a hook or job runs: like loading, it may declare metrics */
    int cap_hit;      /* the run was refused memory */
    int refs[MF_REF_COUNT];

    /* Tracing (run_trace.c): the span of the hook or job running, its scripts' open spans, and
     * the last serial handed out (never reused in a vm). */
    struct mf_span *hook_span;
    mf_vm_spans_t hook_spans;
    uint64_t last_span_serial;

    /* Request runs (run.c). */
    mf_loop_t *loop;      /* runs may wait on it; NULL: every call blocks */
    mf_vm_run_t *current; /* the run executing Lua right now */
    mf_vm_run_t *woken;   /* runs to resume at the end of the loop's turn */
    mf_vm_run_t **woken_tail;
    mf_vm_run_t *free_runs;
    int nwaiting;          /* runs suspended in mf_vm_wait or woken */
    mf_vm_run_t *streams;  /* runs whose response is being streamed */
    int draining;          /* the process drains: every stream is to end */
    uint64_t last_wait_id; /* the last id mf_vm_waiter handed out */
    struct {
        lua_State *co;
        int ref;
    } * idle_threads; /* finished coroutines, ready for the next run */
    int nidle, idle_cap;
};

/* A script run: begins with the request (NULL: a hook or a load), its deadline and memory cap;
 * uncap right after its protected call; end (returns whether it was late). */
void mf_vm__run_begin(mf_vm_t *vm, mf_request_t *r);
void mf_vm__uncap(mf_vm_t *vm);
int mf_vm__is_late(mf_vm_t *vm);
int mf_vm__run_end(mf_vm_t *vm);
/* Streams (run_stream.c): the out object's metatable, built with the state; a run begins
 * streaming (the C function run.lua calls with the handler's head); a streaming run ends
 * (finish): ok ends the body, !ok cuts it, and everything of the stream is let go. */
void mf_vm__open_streams(lua_State *L);
int mf_vm__begin_stream(lua_State *L); /* may raise */
void mf_vm__end_stream(mf_vm_run_t *run, int ok);
/* Tracing (run_trace.c): a hook's or job's root span begins (file and hook name it; file NULL:
 * the run is not traced); the spans
 * scripts left open end, innermost first; a handler's error becomes an exception event on its
 * request's span. */
void mf_vm__hook_span_begin(mf_vm_t *vm, const char *file, const char *hook, const char *job);
void mf_vm__hook_span_end(mf_vm_t *vm, const char *error);
void mf_vm__close_spans(mf_vm_spans_t *spans);
void mf_vm__span_exception(mf_vm_run_t *run, const char *text, size_t len, const char *traceback);
/* Cuts short the wait of run (a cancelable one) with nil, why. */
void mf_vm__cancel_wait(mf_vm_run_t *run, const char *why);

/* Compiles the coroutine body request runs execute (MF_REF_DISPATCH). Returns 0 or -1. */
int mf_vm__open_runs(lua_State *L, char *err, size_t errlen);
/* Frees what request runs keep (run.c), before the state closes. */
void mf_vm__free_runs(mf_vm_t *vm);
/* Pushes file's compiled chunk with the value at env as its environment (load.c). The table of
 * chunks also holds the strings every run of a route passes to run.lua, interned once per
 * version rather than on each request: file i's chunk at [i + 1], its module and name at
 * [nfiles + 2i + 1] and [nfiles + 2i + 2], route r's key at [3 nfiles + r + 1]. */
void mf_vm__push_chunk(mf_vm_t *vm, lua_State *L, int file, int env);
/* Pushes route's module, key and file name, as mf_vm_start passes them to run.lua (load.c). */
void mf_vm__push_route_names(mf_vm_t *vm, lua_State *L, const mf_route_t *route);
/* Builds the sandbox and host modules in vm->L, just opened (state.c). Returns 0 or -1. */
int mf_vm__build_state(mf_vm_t *vm, char *err, size_t errlen);
/* Pushes the registry's table of host modules by require name. */
void mf_vm__push_modules(lua_State *L);
/* Registers the value on top (popped) as the host module name, frozen. */
void mf_vm__add_module(lua_State *L, const char *name);
/* Replaces math.random and math.randomseed before the sandbox freezes math (math_random.c). */
void mf_vm__open_random(lua_State *L);

#endif
