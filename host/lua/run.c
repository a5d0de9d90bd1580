/* Request runs: each handler runs in a coroutine of the worker's Lua state, so a call that
 * waits on the network (redis.call, mayfly.http) suspends its run and the worker serves other
 * requests meanwhile. What belongs to one request (its environment, require cache, random
 * sequence, memory allowance, deadline, the request itself) is swapped in each time its run
 * resumes and out each time it waits. A run may wait only inside its handler and middleware: a
 * route file's top level (and the shared middleware file's) and modules loaded by require run
 * to the end without waiting, because they run in a chunk whose environment the next run sets. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "http/request_log.h"
#include "lua/embedded.h"
#include "lua/http_error.h"
#include "lua/request_object.h"
#include "lua/response_read.h"
#include "lua/sandbox.h"
#include "lua/vm_private.h"
#include "observe/log.h"
#include "observe/metrics.h"

#define MAX_IDLE_THREADS 64

static char done_key;   /* the marker the coroutine body yields a finished run's result with */
static char wait_key;   /* the marker mf_vm_wait yields with: no script can push it */
static char resume_key; /* the token the host resumes a run's coroutine with */
static char resume_shared_key; /* the same, for a version with shared middleware */

/* push_request(): the running run's request object; from here on the run is in its handler.
 * The object is bound to the run (mf_vm_request_of). */
static int l_push_request(lua_State *L)
{
    mf_vm_run_t *run = mf_vm_of(L)->current;
    if (!run || run->co != L || run->req_table)
        return luaL_error(L, "mayfly: no request to push");
    run->in_handler = 1;
    mf_request_object_push(L, run->r);
    run->req_table = lua_topointer(L, -1);
    return 1;
}

/* shared_chunk(): the shared middleware file's chunk, in the running run's environment (the
 * thread's globals: see mf_vm_start), as require loads a module. */
static int l_shared_chunk(lua_State *L)
{
    mf_vm_t *vm = mf_vm_of(L);
    mf_vm_run_t *run = vm->current;
    if (!run || run->co != L || !vm->scripts || vm->scripts->middleware < 0)
        return luaL_error(L, "mayfly: no shared middleware to run");
    mf_vm__push_chunk(vm, L, vm->scripts->middleware, LUA_GLOBALSINDEX);
    return 1;
}

/* By address, with no reference kept: a table found at that address after the object was
 * collected was made in the same run, so at worst it reads this run's own request. */
mf_request_t *mf_vm_request_of(lua_State *L, int idx)
{
    mf_vm_run_t *run = mf_vm_of(L)->current;
    return run && run->req_table && lua_topointer(L, idx) == run->req_table ? run->r : NULL;
}

int mf_vm__open_runs(lua_State *L, char *err, size_t errlen)
{
    const mf_embedded_lua_t *m = mf_embedded_lua_find(mf_host_lua, "lua.run");
    if (!m || luaL_loadbuffer(L, m->source, m->len, m->chunkname)) {
        snprintf(err, errlen, "the run body did not load: %s", m ? lua_tostring(L, -1) : "missing");
        return -1;
    }
    lua_pushlightuserdata(L, &done_key);
    lua_pushlightuserdata(L, &resume_key);
    lua_pushlightuserdata(L, &resume_shared_key);
    lua_pushcfunction(L, l_shared_chunk);
    lua_pushliteral(L, MF_SCRIPTS_MIDDLEWARE_MODULE);
    lua_pushliteral(L, MF_SCRIPTS_MIDDLEWARE_FILE);
    lua_pushcfunction(L, l_push_request);
    lua_pushcfunction(L, mf_response_read_lua);
    lua_pushcfunction(L, mf_response_table_lua);
    lua_pushcfunction(L, mf_vm__begin_stream);
    mf_vm_push_ref(L, MF_REF_TRACEBACK);
    if (lua_pcall(L, 11, 1, 0)) {
        snprintf(err, errlen, "the run body did not load: %s", lua_tostring(L, -1));
        return -1;
    }
    mf_vm_set_ref(L, MF_REF_DISPATCH);
    mf_vm__open_streams(L);
    return 0;
}

void mf_vm_set_loop(mf_vm_t *vm, mf_loop_t *loop)
{
    vm->loop = loop;
    vm->woken_tail = &vm->woken;
}

mf_loop_t *mf_vm_loop(mf_vm_t *vm)
{
    return vm->loop;
}

int mf_vm_waiting(mf_vm_t *vm)
{
    return vm->nwaiting;
}

int mf_vm_woken(mf_vm_t *vm)
{
    return vm->woken != NULL;
}

/* ---- coroutines and run records, reused ---- */

static lua_State *take_thread(mf_vm_t *vm, int *ref, int *fresh)
{
    if (vm->nidle > 0) {
        vm->nidle--;
        *ref = vm->idle_threads[vm->nidle].ref;
        *fresh = 0;
        return vm->idle_threads[vm->nidle].co;
    }
    lua_State *co = lua_newthread(vm->L);
    mf_sandbox_hide_thread(vm->L, -1);
    *ref = luaL_ref(vm->L, LUA_REGISTRYINDEX);
    *fresh = 1;
    return co;
}

static void keep_thread(mf_vm_t *vm, lua_State *co, int ref)
{
    if (vm->nidle == MAX_IDLE_THREADS) {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, ref);
        return;
    }
    if (vm->nidle == vm->idle_cap) {
        vm->idle_cap = vm->idle_cap ? vm->idle_cap * 2 : 8;
        vm->idle_threads =
            mf_xrealloc(vm->idle_threads, (size_t)vm->idle_cap * sizeof *vm->idle_threads);
    }
    vm->idle_threads[vm->nidle].co = co;
    vm->idle_threads[vm->nidle].ref = ref;
    vm->nidle++;
}

void mf_vm__free_runs(mf_vm_t *vm)
{
    while (vm->free_runs) {
        mf_vm_run_t *run = vm->free_runs;
        vm->free_runs = run->next;
        free(run);
    }
    free(vm->idle_threads);
    vm->idle_threads = NULL;
    vm->nidle = vm->idle_cap = 0;
}

/* ---- entering and leaving a run ---- */

/* woken: the run waited; its first entry has the deadline mf_vm_start has just set. */
static void run_enter(mf_vm_t *vm, mf_vm_run_t *run, int woken)
{
    vm->current = run;
    vm->req = run->r;
    vm->loaded_ref = run->loaded_ref;
    vm->rng = &run->rng;
    run->mem_at_enter = vm->mem;
    vm->cap_limit = vm->opts->max_lua_memory ? vm->mem + run->mem_left : 0;
    atomic_store(&vm->gen, atomic_load(&vm->gen) + 1);
    if (run->stream && vm->opts->request_timeout_ms > 0) /* each stretch between its waits */
        run->deadline_ns = mf_now_ns() + vm->opts->request_timeout_ms * 1000000;
    atomic_store(&vm->deadline_ns, run->deadline_ns);
    if (woken && run->deadline_ns)
        /* woken past its deadline: the first instruction raises */
        mf_vm_enforce_deadline(vm, mf_now_ns());
}

/* Returns whether the run was late in this stretch. */
static int run_leave(mf_vm_t *vm, mf_vm_run_t *run)
{
    size_t cap = vm->opts->max_lua_memory;
    if (cap && vm->mem >= run->mem_at_enter) {
        size_t used = vm->mem - run->mem_at_enter;
        run->mem_left = used < run->mem_left ? run->mem_left - used : 0;
    } else if (cap && run->stream) {
        /* A stream lives long and allocates as it goes: what the collector freed while it ran
         * is given back, so its allowance bounds what it holds, not all it ever made. */
        size_t freed = run->mem_at_enter - vm->mem;
        run->mem_left = freed < cap - run->mem_left ? run->mem_left + freed : cap;
    }
    run->cap_hit |= vm->cap_hit;
    vm->cap_hit = 0;
    run->loaded_ref = vm->loaded_ref;
    vm->loaded_ref = LUA_NOREF;
    int late = mf_vm__run_end(vm);
    vm->current = NULL;
    vm->rng = &vm->own_rng;
    return late;
}

/* ---- the end of a run ---- */

/* The status of the error at idx of L: an HTTP error's a script raised, or 500 (504 past the
 * timeout), logged with the traceback; *message is what the client is told. */
static int error_status(mf_vm_run_t *run, lua_State *L, int idx, int timed_out,
                        const char **message)
{
    mf_request_t *r = run->r;
    int status = mf_http_error_status(L, idx, message);
    if (status)
        return status;
    const char *text = lua_tostring(L, idx);
    if (!text)
        text = luaL_typename(L, idx);
    if (run->cap_hit)
        text = "mayfly: the request passed MAYFLY_MAX_LUA_MEMORY";
    *message = timed_out ? "request timed out" : "internal server error";
    mf_metrics_handler_error(mf_metrics_shard(), r->metric_route, timed_out);
    const char *tb = strstr(text, "\nstack traceback:");
    size_t first = tb ? (size_t)(tb - text) : strlen(text);
    mf_vm__span_exception(run, text, first, tb ? tb + 1 : NULL);
    if (mf_log_enabled(MF_LOG_ERROR)) {
        mf_jsonbuf_t l;
        mf_request_log_begin(&l, MF_LOG_ERROR, timed_out ? "request timed out" : "handler error",
                             timed_out ? 17 : 13, r);
        mf_jsonbuf_cstr(&l, "route", r->route ? r->route : "");
        if (run->stream)
            mf_jsonbuf_cstr(&l, "while", "streaming");
        mf_jsonbuf_str(&l, "error", text, first);
        if (tb)
            mf_jsonbuf_cstr(&l, "traceback", tb + 1);
        mf_log_end(&l);
    }
    return timed_out ? 504 : 500;
}

/* Hands sink the host's error response for the error at idx of L. */
static void answer_error(mf_vm_run_t *run, lua_State *L, int idx, int timed_out)
{
    mf_request_t *r = run->r;
    const char *message = NULL;
    mf_response_t resp = {.ctype = "application/json"};
    int status = error_status(run, L, idx, timed_out, &message);
    char *json = mf_response_error_json(message, mf_request_id(r), &resp.body_len);
    resp.status = status;
    resp.body = json;
    r->status = status;
    run->sink(run->sink_ud, &resp);
    free(json);
}

/* Runs what was to end with run. */
static void run_cleanups(mf_vm_run_t *run)
{
    mf_vm_cleanup_t *head = &run->cleanups;
    while (head->next != head) {
        mf_vm_cleanup_t *c = head->next;
        mf_vm_run_undefer(c);
        c->fn(c->ud);
    }
}

/* The run ended with status (lua_resume's): hands its response to the sink and puts the
 * coroutine back for the next run when it ended cleanly. What the run left on its stack are
 * values the host made (see run.lua): reading them runs no Lua. */
static void finish(mf_vm_run_t *run, int status)
{
    mf_vm_t *vm = run->vm;
    lua_State *co = run->co;
    int late = run_leave(vm, run);
    int reusable = 0, ok = 0;

    if (status == LUA_YIELD && lua_gettop(co) >= 2 && lua_touserdata(co, 1) == &done_key) {
        reusable = 1;
        ok = lua_toboolean(co, 2);
        if (ok)
            lua_settop(co, 6); /* DONE, true, status, body, content type, headers */
        else
            lua_settop(co, 3); /* DONE, false, the error */
    } else if (status == LUA_YIELD) { /* the script's own coroutine.yield, outside any coroutine */
        lua_settop(co, 0);
        lua_pushliteral(co, "attempt to yield from outside a coroutine");
    }
    /* Only an error asks whether it came past the deadline: no clock read when a run ends well. */
    int timed_out = late || (!ok && run->deadline_ns && mf_now_ns() >= run->deadline_ns);
    run->cancel = NULL;
    run_cleanups(run);
    mf_vm__close_spans(&run->spans);
    if (run->stream) {
        /* The head is sent: an error cuts the body, unless it was the runtime's own cue to end
         * (mf_vm_wait_refused), which ends it as a return would. */
        const char *message;
        int cue = !ok && run->refusals > 1;
        if (!ok && !cue)
            error_status(run, co, lua_gettop(co), timed_out, &message);
        mf_vm__end_stream(run, ok || cue);
    } else if (ok) {
        mf_response_t resp;
        mf_response_from_stack(co, 3, &resp);
        run->r->status = resp.status;
        run->sink(run->sink_ud, &resp);
    } else {
        answer_error(run, co, lua_gettop(co), timed_out);
    }
    lua_settop(co, 0);
    if (run->cap_hit)
        lua_gc(vm->L, LUA_GCCOLLECT, 0); /* give back what the runaway run left */
    if (run->loaded_ref != LUA_NOREF)
        luaL_unref(vm->L, LUA_REGISTRYINDEX, run->loaded_ref);
    if (reusable) {
        mf_sandbox_leave_env(co);
        keep_thread(vm, co, run->co_ref);
    } else {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, run->co_ref);
    }
    run->waiting = 0;
    run->next = vm->free_runs;
    vm->free_runs = run;
}

/* Resumes run with nargs values on its thread (woken: after a wait). Returns 1 when the run
 * ended. */
static int step(mf_vm_run_t *run, int nargs, int woken)
{
    mf_vm_t *vm = run->vm;
    run_enter(vm, run, woken);
    int status = lua_resume(run->co, nargs);
    /* A wait is a yield that carries the marker: a waiting flag left by anything else (a bug)
     * must not keep a finished run suspended. */
    if (status == LUA_YIELD && run->waiting && lua_touserdata(run->co, -1) == &wait_key) {
        run_leave(vm, run);
        vm->nwaiting++;
        return 0;
    }
    finish(run, status);
    return 1;
}

/* ---- starting, waiting, waking ---- */

int mf_vm_start(mf_vm_t *vm, mf_request_t *r, mf_vm_sink_fn sink, void *ud)
{
    const mf_route_t *route = mf_scripts_route(&r->match);
    mf_vm_run_t *run = vm->free_runs;
    if (run)
        vm->free_runs = run->next;
    else
        run = mf_xmalloc(sizeof *run);
    memset(run, 0, sizeof *run);
    run->vm = vm;
    run->r = r;
    run->sink = sink;
    run->sink_ud = ud;
    run->deadline_ns =
        vm->opts->request_timeout_ms > 0 ? mf_now_ns() + vm->opts->request_timeout_ms * 1000000 : 0;
    run->mem_left = vm->opts->max_lua_memory;
    run->loaded_ref = LUA_NOREF;
    run->cleanups.prev = run->cleanups.next = &run->cleanups;

    int fresh;
    lua_State *co = run->co = take_thread(vm, &run->co_ref, &fresh);
    if (fresh)
        mf_vm_push_ref(co, MF_REF_DISPATCH);
    mf_sandbox_enter_env(co); /* the run's environment, also its thread's globals */
    mf_vm__push_chunk(vm, co, route->file, -1);
    lua_remove(co, -2);
    /* The token also says whether the version has shared middleware (run.lua): a run without
     * any passes no more than it did before there was middleware. */
    lua_pushlightuserdata(co, vm->scripts->middleware >= 0 ? &resume_shared_key : &resume_key);
    lua_insert(co, -2);
    mf_vm__push_route_names(vm, co, route);
    return step(run, 5, 0);
}

mf_vm_run_t *mf_vm_run_of(lua_State *L)
{
    mf_vm_t *vm = mf_vm_of(L);
    mf_vm_run_t *run = vm->current;
    /* The yield must be sure to succeed before anything is started for the wait: a failed
     * yield is an error the script could catch while the wait went on. */
    return run && vm->loop && run->co == L && run->in_handler && lua_isyieldable(L) ? run : NULL;
}

mf_vm_waiter_t mf_vm_waiter(mf_vm_run_t *run)
{
    run->wait_id = ++run->vm->last_wait_id;
    return (mf_vm_waiter_t){run, run->wait_id};
}

int mf_vm_wait(lua_State *L, mf_vm_run_t *run)
{
    run->waiting = 1;
    /* Yielded values stay on the coroutine's stack, where the collector sees them; the results
     * pushed on waking go above them, and only those are returned. */
    lua_pushlightuserdata(L, &wait_key);
    return lua_yield(L, lua_gettop(L));
}

mf_vm_t *mf_vm_run_vm(const mf_vm_run_t *run)
{
    return run->vm;
}

int64_t mf_vm_run_deadline(const mf_vm_run_t *run)
{
    /* A stream's waits are bounded by its own end (MAYFLY_STREAM_TIMEOUT), not the request's:
     * the timeout bounds each stretch of its CPU. */
    return run->stream ? 0 : run->deadline_ns;
}

void mf_vm_wake(mf_vm_waiter_t w, int nresults)
{
    mf_vm_run_t *run = w.run;
    mf_vm_t *vm = run->vm;
    if (!run->waiting || run->wait_id != w.id) {
        mf_log_msg(MF_LOG_ERROR, "a wake-up for a wait that is over was dropped");
        lua_pop(vm->L, nresults);
        return;
    }
    lua_checkstack(run->co, nresults);
    lua_xmove(vm->L, run->co, nresults);
    run->waiting = 0;
    run->cancel = NULL;
    run->nresults = nresults;
    run->next = NULL;
    *vm->woken_tail = run;
    vm->woken_tail = &run->next;
}

int mf_vm_resume_woken(mf_vm_t *vm)
{
    int n = 0;
    while (vm->woken) {
        mf_vm_run_t *run = vm->woken;
        vm->woken = run->next;
        if (!vm->woken)
            vm->woken_tail = &vm->woken;
        vm->nwaiting--;
        step(run, run->nresults, 1);
        n++;
    }
    return n;
}

/* ---- what ends with a run ---- */

void mf_vm_run_defer(mf_vm_run_t *run, mf_vm_cleanup_t *c, void (*fn)(void *ud), void *ud)
{
    c->fn = fn;
    c->ud = ud;
    c->prev = run->cleanups.prev;
    c->next = &run->cleanups;
    c->prev->next = c;
    run->cleanups.prev = c;
}

void mf_vm_run_undefer(mf_vm_cleanup_t *c)
{
    if (!c->next)
        return;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

mf_vm_run_t *mf_vm_current_run(lua_State *L)
{
    return mf_vm_of(L)->current;
}
