/* mayfly._http's streamed responses (request{stream = true} in stdlib/mayfly/http.lua): the call
 * runs on the worker's loop (client/stream.c), head() waits for its head and read() for each
 * piece of its body, each wait suspending only the run. A response serves the run that made it,
 * and whatever ends that run ends its transfer (mf_vm_run_defer). Where no run can wait (hooks,
 * a file's top level, code that cannot yield), stream() says so and the Lua side makes a whole
 * call.
 *
 * Waking a run pushes only `true` ("ask again"), never a string, because the client notifies
 * from inside libcurl's callbacks, where nothing may raise: head() and read() then read the
 * stream in their own run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "client/http_client.h"
#include "lua/api/http.h"
#include "lua/binding.h"

#define HANDLE_MT "mayfly.http_stream"

typedef struct handle handle_t;

/* A streamed response as its run holds it. Freed by close() or when the run ends. */
typedef struct {
    mf_http_stream_t *s;
    mf_vm_run_t *run;
    mf_vm_cleanup_t cleanup;
    mf_vm_waiter_t w; /* head() or read() waiting (w.run NULL: none) */
    mf_loop_t *loop;
    mf_timer_t timer;        /* the waiting read's bound */
    int64_t read_timeout_ms; /* a read's bound, when no nearer deadline cuts it */
    int64_t timer_ms;        /* the bound the timer was set to */
    int timer_is_deadline;   /* it is what was left of the request's MAYFLY_REQUEST_TIMEOUT */
    handle_t *h;             /* its userdata, NULL once collected */
} rec_t;

/* The userdata the Lua side keeps per response: rec NULL once closed or its run ended. */
struct handle {
    rec_t *rec;
    int closed;
};

/* ---- waking and cutting short ---- */

static void wake(rec_t *rec)
{
    mf_vm_waiter_t w = rec->w;
    rec->w.run = NULL;
    mf_loop_timer_stop(rec->loop, &rec->timer);
    lua_pushboolean(mf_vm_state(mf_vm_run_vm(w.run)), 1);
    mf_vm_wake(w, 1);
}

static void on_notify(void *ud)
{
    rec_t *rec = ud;
    if (rec->w.run)
        wake(rec);
}

/* A read waited its whole bound: the transfer is aborted and the read learns why. */
static void on_read_timeout(void *ud)
{
    rec_t *rec = ud;
    char message[200];
    if (rec->timer_is_deadline)
        snprintf(message, sizeof message,
                 "no data within %lldms, what was left of the request's MAYFLY_REQUEST_TIMEOUT",
                 (long long)rec->timer_ms);
    else
        snprintf(message, sizeof message, "no data within read_timeout (%lldms)",
                 (long long)rec->timer_ms);
    mf_http_stream_fail(rec->s, MF_HTTP_ERR_TIMEOUT, message);
    if (rec->w.run)
        wake(rec);
}

/* The runtime cuts the wait short (the stream's client left, its MAYFLY_STREAM_TIMEOUT, the
 * drain): the transfer stays until the run ends, and what it buffers meanwhile may be read. */
static void on_cancel(void *ud)
{
    rec_t *rec = ud;
    rec->w.run = NULL;
    mf_loop_timer_stop(rec->loop, &rec->timer);
}

/* ---- the record ---- */

static void rec_free(rec_t *rec)
{
    mf_vm_run_undefer(&rec->cleanup);
    mf_loop_timer_stop(rec->loop, &rec->timer);
    mf_http_stream_free(rec->s);
    if (rec->h)
        rec->h->rec = NULL;
    free(rec);
}

static void on_run_end(void *ud)
{
    rec_free(ud);
}

static int handle_gc(lua_State *L)
{
    handle_t *h = lua_touserdata(L, 1);
    if (h->rec)
        h->rec->h = NULL; /* the transfer goes when the run ends */
    return 0;
}

/* Raises a message without a position: the one luaL_error would name is the Lua side's own. */
static int raise(lua_State *L, const char *fmt, const char *fn)
{
    lua_pushfstring(L, fmt, fn);
    return lua_error(L);
}

/* The record of the handle at 1, served to the run that made it only. */
static rec_t *rec_of(lua_State *L, const char *fn) /* may raise */
{
    handle_t *h = luaL_checkudata(L, 1, HANDLE_MT);
    if (h->closed)
        raise(L, "mayfly.http: res:%s() on a response that was closed", fn);
    if (!h->rec || h->rec->run != mf_vm_current_run(L))
        raise(L,
              "mayfly.http: res:%s(): this response's request has ended (a streamed response "
              "serves the request that made it only)",
              fn);
    return h->rec;
}

/* Suspends the run until the stream's next notify (or the runtime cuts the wait short). */
static int wait_notify(lua_State *L, rec_t *rec, mf_vm_run_t *run)
{
    rec->w = mf_vm_waiter(run);
    mf_vm_wait_cancelable(run, on_cancel, rec);
    return mf_vm_wait(L, run);
}

/* ---- the functions ---- */

/* stream(method, url, headers, body, timeout, retries, redirects, budget_header, read_timeout)
 * -> a handle whose call is under way; false where no run can wait (the caller makes a whole
 * call instead); nil, why when the run's stream is ending (lua/binding.h). Misuse raises. */
static int l_stream(lua_State *L) /* may raise */
{
    mf_vm_t *vm = mf_vm_of(L);
    const mf_options_t *o = mf_vm_options(vm);
    mf_http_call_t call;
    mf_http_url_t *url = mf_lapi_http_read_call(L, &call);
    int64_t read_timeout_ms = mf_lapi_http_timeout_arg(L, 9, call.timeout_ms, "read_timeout");
    mf_vm_run_t *run = mf_vm_run_of(L);
    if (!run) {
        lua_pushboolean(L, 0);
        return 1;
    }
    int refused = mf_vm_wait_refused(L, run);
    if (refused)
        return refused;
    handle_t *h = lua_newuserdata(L, sizeof *h);
    h->rec = NULL;
    h->closed = 0;
    luaL_getmetatable(L, HANDLE_MT);
    lua_setmetatable(L, -2);

    rec_t *rec = mf_xcalloc(1, sizeof *rec);
    rec->run = run;
    rec->loop = mf_vm_loop(vm);
    rec->read_timeout_ms = read_timeout_ms;
    rec->h = h;
    h->rec = rec;
    mf_timer_init(&rec->timer, on_read_timeout, rec);
    mf_vm_run_defer(run, &rec->cleanup, on_run_end, rec);
    rec->s = mf_http_stream_start(mf_http_client_of(rec->loop, o), &call, on_notify, rec);
    mf_http_url_free(url); /* the stream has its own copy */
    return 1;
}

/* head(h) -> status, headers, attempts; nil, kind, message when no response came; true when
 * woken (ask again); nil, why when the runtime cut the wait short. */
static int l_head(lua_State *L) /* may raise */
{
    rec_t *rec = rec_of(L, "head");
    mf_http_stream_state_t state = mf_http_stream_state(rec->s);
    const mf_http_result_t *res = mf_http_stream_result(rec->s);
    if (state == MF_HTTP_STREAM_WAITING) {
        mf_vm_run_t *run = mf_vm_run_of(L);
        if (!run)
            return raise(L, "mayfly.http: %s: a streamed call cannot wait here", "head");
        return wait_notify(L, rec, run);
    }
    if (!res->status) {
        lua_pushnil(L);
        lua_pushstring(L, mf_http_err_name(res->err));
        lua_pushstring(L, res->message);
        return 3;
    }
    lua_pushinteger(L, res->status);
    mf_lapi_http_push_headers(L, res->headers, res->headers_len);
    lua_pushinteger(L, res->attempts);
    return 3;
}

/* read(h) -> the next piece of the body; nil at its end; nil, kind, message when it broke off
 * or a read waited past its bound; true when woken (ask again); nil, why when the runtime
 * refused or cut the wait. */
static int l_read(lua_State *L) /* may raise */
{
    rec_t *rec = rec_of(L, "read");
    size_t len;
    const char *p = mf_http_stream_peek(rec->s, &len);
    if (len) {
        lua_pushlstring(L, p, len);
        mf_http_stream_consume(rec->s);
        return 1;
    }
    const mf_http_result_t *res = mf_http_stream_result(rec->s);
    switch (mf_http_stream_state(rec->s)) {
    case MF_HTTP_STREAM_ENDED:
        lua_pushnil(L);
        return 1;
    case MF_HTTP_STREAM_FAILED:
        lua_pushnil(L);
        lua_pushstring(L, mf_http_err_name(res->err));
        lua_pushstring(L, res->message);
        return 3;
    case MF_HTTP_STREAM_WAITING:
        return raise(L, "mayfly.http: res:%s() before the head", "read");
    case MF_HTTP_STREAM_BODY:
        break;
    }
    mf_vm_run_t *run = mf_vm_run_of(L);
    if (!run)
        return raise(L,
                     "mayfly.http: res:%s() must wait for the body and cannot here (inside a "
                     "coroutine or a callback of a C function)",
                     "read");
    int refused = mf_vm_wait_refused(L, run);
    if (refused)
        return refused;
    int64_t now = mf_now_ns(), at = now + rec->read_timeout_ms * 1000000;
    int64_t deadline = mf_vm_run_deadline(run);
    rec->timer_is_deadline = 0;
    if (deadline) {
        deadline -= mf_lapi_http_reserve_ms(mf_vm_options(mf_vm_of(L))) * 1000000;
        if (deadline < at) {
            at = deadline;
            rec->timer_is_deadline = 1;
        }
    }
    rec->timer_ms = (at - now) / 1000000;
    if (at <= now) {
        on_read_timeout(rec);
        return l_read(L);
    }
    mf_loop_timer_start(rec->loop, &rec->timer, at);
    return wait_notify(L, rec, run);
}

/* close(h): aborts the transfer (the upstream sees its connection close); the response reads
 * nothing more. Closing twice is no error. */
static int l_close(lua_State *L) /* may raise */
{
    handle_t *h = luaL_checkudata(L, 1, HANDLE_MT);
    if (h->closed)
        return 0;
    rec_t *rec = rec_of(L, "close");
    h->closed = 1;
    rec_free(rec);
    return 0;
}

void mf_lapi_http_stream_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"stream", l_stream}, {"head", l_head}, {"read", l_read}, {"close", l_close}, {NULL, NULL},
    };
    luaL_register(L, NULL, fns);
    luaL_newmetatable(L, HANDLE_MT);
    lua_pushcfunction(L, handle_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "mayfly.http: stream");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
