/* Streamed responses: a handler that returns {stream = fn} has its head sent at once, then fn
 * runs on in the same run (its environment, its request) with an out object, writing the body
 * as it goes; the response ends when fn returns. Its waits (a write the client is slow to read,
 * mayfly.sleep, sub:next) hold no worker. What ends a stream early: its client leaving, its
 * MAYFLY_STREAM_TIMEOUT, the drain, or a new version waiting for the old one's runs to end. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "lua/response_read.h"
#include "lua/vm_private.h"
#include "observe/log.h"

/* The out object: a userdata holding its run, NULL once the run ended. */
typedef struct {
    mf_vm_run_t *run;
} out_t;

/* ---- why a stream ends ---- */

static const char *end_reason(mf_vm_run_t *run)
{
    if (!run->stream)
        return NULL;
    if (mf_stream_gone(run->stream))
        return "closed";
    return run->cut;
}

int mf_vm_wait_refused(lua_State *L, mf_vm_run_t *run)
{
    const char *why = end_reason(run);
    if (!why)
        return 0;
    if (run->refusals++ > 0)
        luaL_error(L, "stream ended (%s)", why);
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

void mf_vm_wait_cancelable(mf_vm_run_t *run, void (*cancel)(void *ud), void *ud)
{
    run->cancel = cancel;
    run->cancel_ud = ud;
}

void mf_vm__cancel_wait(mf_vm_run_t *run, const char *why)
{
    void (*cancel)(void *) = run->cancel;
    if (!run->waiting || !cancel)
        return;
    run->cancel = NULL;
    cancel(run->cancel_ud);
    lua_State *L = run->vm->L;
    lua_pushnil(L);
    lua_pushstring(L, why);
    mf_vm_wake((mf_vm_waiter_t){run, run->wait_id}, 2);
}

/* Something made run end (why NULL: its client left): its wait, if the runtime may cut it,
 * returns now. */
static void wind_down(mf_vm_run_t *run, const char *why)
{
    if (why && !run->cut)
        run->cut = why;
    mf_vm__cancel_wait(run, end_reason(run));
}

static void on_end_timer(void *ud)
{
    mf_vm_run_t *run = ud;
    run->cut = "timeout";
    wind_down(run, "timeout");
}

static void on_client_gone(void *ud)
{
    wind_down(ud, NULL);
}

void mf_vm_drain_streams(mf_vm_t *vm)
{
    vm->draining = 1;
    mf_vm_end_streams(vm);
}

void mf_vm_end_streams(mf_vm_t *vm)
{
    for (mf_vm_run_t *run = vm->streams, *next; run; run = next) {
        next = run->stream_next;
        wind_down(run, "draining");
    }
}

int mf_vm_streaming(mf_vm_t *vm)
{
    return vm->streams != NULL;
}

/* ---- writing ---- */

static void on_heartbeat(void *ud)
{
    mf_vm_run_t *run = ud;
    int64_t now = mf_now_ns();
    int64_t due = run->last_write_ns + run->heartbeat_ns;
    if (now >= due) {
        /* Only into an empty buffer: never inside an event a write left half-buffered. When it
         * is not empty the stream is not idle: the next is due a whole interval later either
         * way, never now again (the loop would fire it without end). */
        if (!run->pending.w.run && mf_stream_state(run->stream) == MF_STREAM_EMPTY &&
            !mf_stream_gone(run->stream)) {
            mf_stream_write(run->stream, run->heartbeat_text, run->heartbeat_len);
            run->last_write_ns = now;
        }
        due = now + run->heartbeat_ns;
    }
    mf_loop_timer_start(run->vm->loop, &run->heartbeat, due);
}

/* The pending write takes what fits; once all of it is in, its run goes on (a client that
 * leaves cuts the wait: on_client_gone). */
static void on_room(void *ud)
{
    mf_vm_run_t *run = ud;
    mf_stream_t *s = run->stream;
    run->pending.off +=
        mf_stream_write(s, run->pending.p + run->pending.off, run->pending.len - run->pending.off);
    if (run->pending.off < run->pending.len) {
        mf_stream_on_room(s, on_room, run);
        return;
    }
    mf_vm_waiter_t w = run->pending.w;
    run->pending.w.run = NULL;
    lua_pushboolean(run->vm->L, 1);
    mf_vm_wake(w, 1);
}

static void cancel_write(void *ud)
{
    mf_vm_run_t *run = ud;
    mf_stream_on_room(run->stream, NULL, NULL);
    run->pending.w.run = NULL;
}

/* The out object's own run, running now: an object carried out of its run serves nothing. */
static mf_vm_run_t *out_run(lua_State *L)
{
    out_t *o = luaL_checkudata(L, 1, "mayfly.stream");
    if (!o->run || o->run != mf_vm_current_run(L))
        luaL_error(L, "this stream has ended (an out object serves its own run only)");
    return o->run;
}

/* out:write(s) -> true, or nil, "closed" (the client left; nothing more is sent), or nil,
 * "draining" | "timeout" when the stream is to end and the client is too slow to take s now. */
static int l_out_write(lua_State *L)
{
    mf_vm_run_t *run = out_run(L);
    size_t len;
    const char *p = luaL_checklstring(L, 2, &len);
    if (mf_stream_gone(run->stream))
        return mf_vm_wait_refused(L, run); /* nil, "closed" */
    run->last_write_ns = mf_now_ns();
    size_t off = mf_stream_write(run->stream, p, len);
    if (off == len) {
        lua_pushboolean(L, 1);
        return 1;
    }
    /* The client lags: the rest goes in as it reads, this run waiting meanwhile; a stream
     * that is to end waits for no client. */
    const char *why = end_reason(run);
    if (why) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    mf_vm_run_t *waiter = mf_vm_run_of(L);
    if (!waiter)
        return luaL_error(L, "out:write: the client reads slowly and this write cannot wait "
                             "here (inside a callback of a C function)");
    run->pending.w = mf_vm_waiter(waiter);
    run->pending.p = p;
    run->pending.len = len;
    run->pending.off = off;
    mf_stream_on_room(run->stream, on_room, run);
    mf_vm_wait_cancelable(run, cancel_write, run);
    return mf_vm_wait(L, waiter);
}

/* out:draining() -> true once the stream should end: the process drains, a new version waits,
 * MAYFLY_STREAM_TIMEOUT passed or the client left. */
static int l_out_draining(lua_State *L)
{
    mf_vm_run_t *run = out_run(L);
    lua_pushboolean(L, end_reason(run) != NULL);
    return 1;
}

void mf_vm__open_streams(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"write", l_out_write},
        {"draining", l_out_draining},
        {NULL, NULL},
    };
    luaL_newmetatable(L, "mayfly.stream");
    lua_newtable(L);
    luaL_register(L, NULL, methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "mayfly: stream");
    lua_setfield(L, -2, "__metatable");
    mf_vm_set_ref(L, MF_REF_STREAM_OUT_MT);
}

/* ---- beginning and ending ---- */

/* begin_stream(status, nil, ctype, headers, heartbeat_s, heartbeat_text) -> out: what
 * mf_response_read_lua returned for a streamed result. The head goes to the sink now. */
int mf_vm__begin_stream(lua_State *L)
{
    mf_vm_t *vm = mf_vm_of(L);
    mf_vm_run_t *run = vm->current;
    if (!run || run->co != L || run->stream)
        return luaL_error(L, "mayfly: no response to stream");
    double every = lua_tonumber(L, 5);
    size_t text_len = 0;
    const char *text = lua_tolstring(L, 6, &text_len);

    mf_response_t resp;
    mf_response_from_stack(L, 1, &resp);
    run->stream = resp.stream = mf_stream_new();
    mf_stream_on_gone(run->stream, on_client_gone, run);
    run->r->status = resp.status;
    run->sink(run->sink_ud, &resp);

    out_t *o = lua_newuserdata(L, sizeof *o);
    o->run = run;
    run->out = o;
    mf_vm_push_ref(L, MF_REF_STREAM_OUT_MT);
    lua_setmetatable(L, -2);

    run->stream_prev = NULL;
    run->stream_next = vm->streams;
    if (vm->streams)
        vm->streams->stream_prev = run;
    vm->streams = run;
    run->last_write_ns = mf_now_ns();
    mf_timer_init(&run->end_timer, on_end_timer, run);
    mf_timer_init(&run->heartbeat, on_heartbeat, run);
    if (vm->loop && vm->opts->stream_timeout_ms > 0)
        mf_loop_timer_start(vm->loop, &run->end_timer,
                            run->last_write_ns + vm->opts->stream_timeout_ms * 1000000);
    if (vm->loop && every > 0 && text_len) {
        run->heartbeat_text = mf_xmalloc(text_len);
        memcpy(run->heartbeat_text, text, text_len);
        run->heartbeat_len = text_len;
        run->heartbeat_ns = (int64_t)(every * 1e9);
        mf_loop_timer_start(vm->loop, &run->heartbeat, run->last_write_ns + run->heartbeat_ns);
    }
    if (vm->draining)
        run->cut = "draining";
    return 1;
}

void mf_vm__end_stream(mf_vm_run_t *run, int ok)
{
    mf_vm_t *vm = run->vm;
    if (vm->loop) {
        mf_loop_timer_stop(vm->loop, &run->end_timer);
        mf_loop_timer_stop(vm->loop, &run->heartbeat);
    }
    free(run->heartbeat_text);
    run->heartbeat_text = NULL;
    if (run->stream_prev)
        run->stream_prev->stream_next = run->stream_next;
    else
        vm->streams = run->stream_next;
    if (run->stream_next)
        run->stream_next->stream_prev = run->stream_prev;
    ((out_t *)run->out)->run = NULL;
    run->out = NULL;
    mf_stream_on_room(run->stream, NULL, NULL);
    run->pending.w.run = NULL;
    mf_stream_end(run->stream, ok);
    mf_stream_unref(run->stream);
    run->stream = NULL;
    run->cut = NULL;
}
