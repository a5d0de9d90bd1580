/* mayfly.subscribe(channel, ...) and mayfly.psubscribe(pattern, ...): Redis pub/sub held by the
 * worker (redis/pubsub.h: one subscriber connection per worker, shared by every run), in a
 * request's run only. The subscription object:
 *   sub:next([timeout]) -> message, channel (, pattern for psubscribe): at once when a message
 *       is queued; otherwise waits on the worker's loop up to timeout seconds (nil: no bound but
 *       the run's own) and returns nil when it passed, or nil, why when the runtime cut the wait
 *       ("closed", "timeout", "draining": lua/binding.h's mf_vm_wait_refused);
 *   sub:dropped() -> the messages lost to the queue's bound;
 *   sub:close().
 * It ends with its run, however the run ends, and serves that run only: one carried out of it
 * raises. */
#include <string.h>

#include <lauxlib.h>

#include "base/clock.h"
#include "lua/api/api.h"
#include "lua/binding.h"
#include "redis/pubsub.h"
#include "redis/redis.h"

#define SUB_MT "mayfly.subscription"

/* The userdata, anchored in the registry until it ends, so that no collection frees it while
 * its run may still wait on it or a delivery reaches it (a finalizer running inside a delivery
 * could not close a subscription safely). sub is NULL once closed or once its run ended: then
 * nothing of the C side is touched again (the run's record serves other runs). */
typedef struct {
    mf_redis_sub_t *sub;
    mf_vm_run_t *run;
    mf_vm_t *vm;
    int ref; /* the registry's anchor */
    mf_vm_cleanup_t cleanup;
    mf_loop_t *loop;
    mf_timer_t timer; /* next's timeout */
    mf_vm_waiter_t w; /* w.run NULL: no next is waiting */
    uint64_t dropped; /* kept at the end */
} sub_ud_t;

static void end_sub(sub_ud_t *u)
{
    if (mf_timer_armed(&u->timer))
        mf_loop_timer_stop(u->loop, &u->timer);
    u->dropped = mf_redis_sub_dropped(u->sub);
    mf_redis_sub_close(u->sub);
    u->sub = NULL;
    u->run = NULL;
    u->w.run = NULL;
    luaL_unref(mf_vm_state(u->vm), LUA_REGISTRYINDEX, u->ref); /* u may go after this */
}

/* The run ended (its cleanup). */
static void on_run_end(void *ud)
{
    end_sub(ud);
}

/* ---- next ---- */

/* Pushes a message's values on L; returns how many. */
static int push_message(lua_State *L, mf_redis_msg_t *m)
{
    lua_pushlstring(L, m->payload, m->payload_len);
    lua_pushlstring(L, m->channel, m->channel_len);
    int n = 2;
    if (m->pattern) {
        lua_pushlstring(L, m->pattern, m->pattern_len);
        n = 3;
    }
    mf_redis_msg_release(m);
    return n;
}

static void on_message(void *ud)
{
    sub_ud_t *u = ud;
    mf_vm_waiter_t w = u->w;
    u->w.run = NULL;
    if (mf_timer_armed(&u->timer))
        mf_loop_timer_stop(u->loop, &u->timer);
    mf_vm_wake(w, push_message(mf_vm_state(mf_vm_run_vm(w.run)), mf_redis_sub_take(u->sub)));
}

static void on_timeout(void *ud)
{
    sub_ud_t *u = ud;
    mf_vm_waiter_t w = u->w;
    u->w.run = NULL;
    mf_redis_sub_notify(u->sub, NULL, NULL);
    lua_pushnil(mf_vm_state(mf_vm_run_vm(w.run)));
    mf_vm_wake(w, 1);
}

static void on_cancel(void *ud)
{
    sub_ud_t *u = ud;
    u->w.run = NULL;
    mf_redis_sub_notify(u->sub, NULL, NULL);
    if (mf_timer_armed(&u->timer))
        mf_loop_timer_stop(u->loop, &u->timer);
}

/* The subscription at 1, open and its own run's, running now. */
static sub_ud_t *check_sub(lua_State *L, const char *method) /* may raise */
{
    sub_ud_t *u = luaL_checkudata(L, 1, SUB_MT);
    if (!u->sub)
        luaL_error(L, "sub:%s: this subscription is closed (or its run ended)", method);
    if (u->run != mf_vm_current_run(L))
        luaL_error(L, "sub:%s: this subscription belongs to another request's run", method);
    return u;
}

static int l_sub_next(lua_State *L)
{
    sub_ud_t *u = check_sub(L, "next");
    double timeout = -1; /* none */
    if (!lua_isnoneornil(L, 2)) {
        timeout = lua_tonumber(L, 2);
        if (lua_type(L, 2) != LUA_TNUMBER || !(timeout >= 0))
            return luaL_error(L, "sub:next: the timeout must be a number of seconds, 0 or more");
    }
    mf_redis_msg_t *m = mf_redis_sub_take(u->sub);
    if (m)
        return push_message(L, m);
    if (timeout == 0) {
        lua_pushnil(L);
        return 1;
    }
    mf_vm_run_t *run = mf_vm_run_of(L);
    if (!run)
        return luaL_error(L, "sub:next: cannot wait here (only in a request's handler or stream "
                             "itself, not in a coroutine of its own or a callback of a C "
                             "function such as string.gsub's)");
    int refused = mf_vm_wait_refused(L, run);
    if (refused)
        return refused;
    int64_t now = mf_now_ns(), deadline = mf_vm_run_deadline(run);
    int64_t at = timeout < 0 || timeout >= 1e9 ? 0 : now + (int64_t)(timeout * 1e9);
    if (deadline && (!at || deadline < at))
        at = deadline;
    u->w = mf_vm_waiter(run);
    if (at)
        mf_loop_timer_start(u->loop, &u->timer, at);
    mf_redis_sub_notify(u->sub, on_message, u);
    mf_vm_wait_cancelable(run, on_cancel, u);
    return mf_vm_wait(L, run);
}

static int l_sub_dropped(lua_State *L)
{
    sub_ud_t *u = luaL_checkudata(L, 1, SUB_MT);
    if (u->sub)
        check_sub(L, "dropped");
    lua_pushnumber(L, (lua_Number)(u->sub ? mf_redis_sub_dropped(u->sub) : u->dropped));
    return 1;
}

static int l_sub_close(lua_State *L)
{
    sub_ud_t *u = luaL_checkudata(L, 1, SUB_MT);
    if (!u->sub)
        return 0; /* closed already, or its run ended */
    check_sub(L, "close");
    mf_vm_run_undefer(&u->cleanup);
    end_sub(u);
    return 0;
}

static int l_sub_tostring(lua_State *L)
{
    sub_ud_t *u = luaL_checkudata(L, 1, SUB_MT);
    lua_pushstring(L, u->sub ? "mayfly.subscription" : "mayfly.subscription (closed)");
    return 1;
}

/* ---- subscribing ---- */

/* Redis confirmed the subscription (or its link failed): mayfly.subscribe returns it. */
static void on_ready(void *ud)
{
    sub_ud_t *u = ud;
    mf_vm_waiter_t w = u->w;
    u->w.run = NULL;
    mf_loop_timer_stop(u->loop, &u->timer);
    mf_timer_init(&u->timer, on_timeout, u);
    lua_State *V = mf_vm_state(u->vm);
    lua_rawgeti(V, LUA_REGISTRYINDEX, u->ref);
    mf_vm_wake(w, 1);
}

/* No confirmation within MAYFLY_REDIS_TIMEOUT: the subscription stands, made when Redis
 * answers. */
static void on_ready_late(void *ud)
{
    sub_ud_t *u = ud;
    mf_redis_sub_when_ready(u->sub, NULL, NULL);
    on_ready(u);
}

static int subscribe(lua_State *L, int patterns)
{
    const char *fn = patterns ? "mayfly.psubscribe" : "mayfly.subscribe";
    const char *names[MF_REDIS_SUB_MAX_NAMES];
    size_t lens[MF_REDIS_SUB_MAX_NAMES];
    int n = lua_gettop(L);
    if (n < 1)
        return luaL_error(L, "%s: a %s is needed", fn, patterns ? "pattern" : "channel");
    if (n > MF_REDIS_SUB_MAX_NAMES)
        return luaL_error(L, "%s: at most %d %s at once", fn, MF_REDIS_SUB_MAX_NAMES,
                          patterns ? "patterns" : "channels");
    for (int i = 0; i < n; i++) {
        if (lua_type(L, i + 1) != LUA_TSTRING)
            return luaL_error(L, "%s: %s %d must be a string, not %s", fn,
                              patterns ? "pattern" : "channel", i + 1, luaL_typename(L, i + 1));
        names[i] = lua_tolstring(L, i + 1, &lens[i]);
        if (!lens[i])
            return luaL_error(L, "%s: %s %d is empty", fn, patterns ? "pattern" : "channel", i + 1);
    }
    mf_vm_t *vm = mf_vm_of(L);
    mf_vm_run_t *run = mf_vm_current_run(L);
    mf_loop_t *loop = mf_vm_loop(vm);
    /* A detached run (mayfly.constant's function) has the request's run but no request. */
    if (!run || !loop || !mf_vm_request(vm))
        return luaL_error(L, "%s: only in a request's run", fn);
    if (!mf_redis_configured())
        return luaL_error(L, "%s: no Redis configured (MAYFLY_REDIS_URL)", fn);

    sub_ud_t *u = lua_newuserdata(L, sizeof *u);
    memset(u, 0, sizeof *u);
    luaL_getmetatable(L, SUB_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    u->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* before the subscription: this may raise */
    char err[512];
    u->sub = mf_redis_subscribe(loop, mf_vm_options(vm), patterns, names, lens, n, err, sizeof err);
    if (!u->sub) {
        luaL_unref(L, LUA_REGISTRYINDEX, u->ref);
        return luaL_error(L, "%s: %s", fn, err);
    }
    u->run = run;
    u->vm = vm;
    u->loop = loop;
    mf_timer_init(&u->timer, on_timeout, u);
    mf_vm_run_defer(run, &u->cleanup, on_run_end, u);
    /* Returned once Redis confirmed it, so that what the run reads next (a Redis Stream's
     * backlog) and what it is sent from now on leave no gap between them. */
    mf_vm_run_t *waiter = mf_vm_run_of(L);
    if (!waiter || mf_redis_sub_when_ready(u->sub, on_ready, u))
        return 1;
    u->w = mf_vm_waiter(waiter);
    mf_timer_init(&u->timer, on_ready_late, u);
    mf_loop_timer_start(loop, &u->timer, mf_now_ns() + mf_vm_options(vm)->redis_timeout_ms * 1000000);
    return mf_vm_wait(L, waiter);
}

static int l_subscribe(lua_State *L)
{
    return subscribe(L, 0);
}

static int l_psubscribe(lua_State *L)
{
    return subscribe(L, 1);
}

static void open_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"next", l_sub_next},
        {"dropped", l_sub_dropped},
        {"close", l_sub_close},
        {NULL, NULL},
    };
    if (!luaL_newmetatable(L, SUB_MT)) {
        lua_pop(L, 1);
        return;
    }
    lua_newtable(L);
    luaL_register(L, NULL, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_sub_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "mayfly: subscription");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

int luaopen_mayfly_subscribe(lua_State *L)
{
    open_metatable(L);
    lua_pushcfunction(L, l_subscribe);
    return 1;
}

int luaopen_mayfly_psubscribe(lua_State *L)
{
    open_metatable(L);
    lua_pushcfunction(L, l_psubscribe);
    return 1;
}
