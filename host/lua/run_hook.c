/* Runs of a script file's lifecycle hooks (app/hooks.c schedules them), outside any request. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "base/clock.h"
#include "lua/sandbox.h"
#include "lua/vm_private.h"

/* ---- hooks ---- */

/* The hook function named by arguments 2 (the key) and 3 (a job's interval, or nil) in the table
 * that chunk 1 returns: every[interval] is a function, or a table holding one as `run`. */
static int push_hook(lua_State *L)
{
    const mf_script_file_t *f = lua_touserdata(L, 4);
    const char *key = lua_tostring(L, 2), *job = lua_tostring(L, 3);
    lua_pushvalue(L, 1);
    lua_pushstring(L, f->module);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "%s returned a %s instead of its table", f->name,
                          luaL_typename(L, -1));
    lua_getfield(L, -1, key);
    if (job) {
        if (!lua_istable(L, -1))
            return luaL_error(L, "%s: 'every' is not a table in this run", f->name);
        lua_getfield(L, -1, job);
        if (lua_istable(L, -1))
            lua_getfield(L, -1, "run");
    }
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "%s: hook '%s%s%s' is not a function in this run", f->name, key,
                          job ? " " : "", job ? job : "");
    return 1;
}

/* Arguments 5 to 7, for a singleton job: the lease key, its ttl in seconds and the owner. The
 * job runs only while this process holds the lease (mayfly.lease, in Redis); else it returns
 * nothing. */
static int call_hook(lua_State *L)
{
    push_hook(L);
    if (lua_isstring(L, 5)) {
        mf_vm__push_modules(L);
        lua_getfield(L, -1, "mayfly.lease");
        if (!lua_istable(L, -1))
            return luaL_error(L, "singleton jobs need mayfly.lease");
        lua_getfield(L, -1, "acquire");
        lua_pushvalue(L, 5);
        lua_pushvalue(L, 6);
        lua_pushvalue(L, 7);
        lua_call(L, 3, 1);
        if (!lua_toboolean(L, -1))
            return 0;
        lua_pop(L, 3);
    }
    lua_call(L, 0, 2);
    return 2;
}

/* A run outside any request, bounded by limit_ms (0: none): pushes [traceback, env, fn, chunk of
 * file with env as its environment] for a protected call of fn. */
static void begin_file_call(mf_vm_t *vm, int file, lua_CFunction fn, int64_t limit_ms)
{
    lua_State *L = vm->L;
    mf_vm__run_begin(vm, NULL);
    atomic_store(&vm->deadline_ns, limit_ms > 0 ? mf_now_ns() + limit_ms * 1000000 : 0);
    mf_vm_push_ref(L, MF_REF_TRACEBACK);
    mf_sandbox_enter_env(L);
    lua_pushcfunction(L, fn);
    mf_vm__push_chunk(vm, L, file, 2);
}

static void end_file_call(mf_vm_t *vm)
{
    lua_settop(vm->L, 0);
    mf_sandbox_leave_env(vm->L);
    mf_vm__run_end(vm);
}

int mf_vm_run_hook(mf_vm_t *vm, int file, const char *hook, const char *job,
                   const mf_vm_lease_t *lease, int traced, int64_t limit_ms, char *err,
                   size_t errlen)
{
    lua_State *L = vm->L;
    int rc = 0;

    begin_file_call(vm, file, call_hook, limit_ms);
    mf_vm__hook_span_begin(vm, traced ? vm->scripts->files[file].name : NULL, hook, job);
    vm->in_hook = 1;
    lua_pushstring(L, hook);
    if (job)
        lua_pushstring(L, job);
    else
        lua_pushnil(L);
    lua_pushlightuserdata(L, (void *)&vm->scripts->files[file]);
    if (lease) {
        lua_pushstring(L, lease->key);
        lua_pushnumber(L, (double)lease->ttl_ms / 1000);
        lua_pushstring(L, lease->owner);
    }
    int failed = lua_pcall(L, lease ? 7 : 4, 2, 1);
    vm->in_hook = 0;
    mf_vm__uncap(vm);
    if (failed) {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errlen, "%s%s", mf_vm__is_late(vm) ? "timed out: " : "", msg ? msg : "error");
        rc = -1;
    } else if (lua_isboolean(L, -2) && !lua_toboolean(L, -2)) {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", msg ? msg : "returned false");
        rc = 1;
    }
    mf_vm__hook_span_end(vm, rc ? err : NULL);
    end_file_call(vm);
    return rc;
}

/* every = { ["10s"] = fn, ["1m"] = { run = fn, singleton = true } } */
static int list_jobs(lua_State *L)
{
    const mf_script_file_t *f = lua_touserdata(L, 2);
    void (*fn)(void *, const char *, int) =
        (void (*)(void *, const char *, int))(uintptr_t)lua_touserdata(L, 3);
    void *ud = lua_touserdata(L, 4);
    lua_pushvalue(L, 1);
    lua_pushstring(L, f->module);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    lua_getfield(L, -1, "every");
    if (lua_isnil(L, -1))
        return 0;
    if (!lua_istable(L, -1))
        return luaL_error(L, "'every' is a %s, not a table of jobs", luaL_typename(L, -1));
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        int singleton = 0;
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "every: job keys are intervals such as \"30s\"");
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "singleton");
            singleton = lua_toboolean(L, -1);
            lua_getfield(L, -2, "run");
            lua_replace(L, -3);
            lua_pop(L, 1);
        }
        if (!lua_isfunction(L, -1))
            return luaL_error(L, "every[\"%s\"] is a %s, not a function or {run = fn}",
                              lua_tostring(L, -2), luaL_typename(L, -1));
        fn(ud, lua_tostring(L, -2), singleton);
        lua_pop(L, 1);
    }
    return 0;
}

int mf_vm_list_jobs(mf_vm_t *vm, int file,
                    void (*fn)(void *ud, const char *interval, int singleton), void *ud, char *err,
                    size_t errlen)
{
    lua_State *L = vm->L;
    int rc = 0;
    begin_file_call(vm, file, list_jobs, 0);
    lua_pushlightuserdata(L, (void *)&vm->scripts->files[file]);
    lua_pushlightuserdata(L, (void *)(uintptr_t)fn);
    lua_pushlightuserdata(L, ud);
    int failed = lua_pcall(L, 4, 0, 1);
    mf_vm__uncap(vm);
    if (failed) {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errlen, "%s: %s", vm->scripts->files[file].name, msg ? msg : "error");
        char *tb = strstr(err, "\nstack traceback:");
        if (tb)
            *tb = '\0';
        rc = -1;
    }
    end_file_call(vm);
    return rc;
}
