/* A version in a state: its files compiled, and their top levels run while it loads (probes of
 * a version's files, and the warm-up that computes its constants). */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "base/clock.h"
#include "lua/sandbox.h"
#include "lua/vm_private.h"
#include "observe/log.h"

int mf_vm_compile(mf_vm_t *vm, const mf_scripts_t *s, char *err, size_t errlen)
{
    lua_State *L = vm->L;
    if (vm->chunks_ref != LUA_NOREF) {
        snprintf(err, errlen, "a state compiles one version: renew it for another");
        return -1;
    }
    lua_createtable(L, 3 * s->nfiles + s->nroutes, 0);
    for (int i = 0; i < s->nfiles; i++) {
        const mf_script_file_t *f = &s->files[i];
        if (luaL_loadbuffer(L, f->source, f->len, f->chunkname) != 0) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            lua_pop(L, 2);
            return -1;
        }
        mf_sandbox_nojit(L, -1);
        lua_rawseti(L, -2, i + 1);
        lua_pushstring(L, f->module);
        lua_rawseti(L, -2, s->nfiles + 2 * i + 1);
        lua_pushstring(L, f->name);
        lua_rawseti(L, -2, s->nfiles + 2 * i + 2);
    }
    for (int i = 0; i < s->nroutes; i++) {
        lua_pushstring(L, s->routes[i].key);
        lua_rawseti(L, -2, 3 * s->nfiles + i + 1);
    }
    vm->chunks_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    vm->scripts = s;
    return 0;
}

void mf_vm__push_chunk(mf_vm_t *vm, lua_State *L, int file, int env)
{
    if (env < 0 && env > LUA_REGISTRYINDEX)
        env = lua_gettop(L) + env + 1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->chunks_ref);
    lua_rawgeti(L, -1, file + 1);
    lua_replace(L, -2);
    lua_pushvalue(L, env);
    lua_setfenv(L, -2);
}

void mf_vm__push_route_names(mf_vm_t *vm, lua_State *L, const mf_route_t *route)
{
    const mf_scripts_t *s = vm->scripts;
    int r = (int)(route - s->routes); /* one of the vm's version's (mf_dispatch_start) */
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->chunks_ref);
    lua_rawgeti(L, -1, s->nfiles + 2 * route->file + 1);
    lua_rawgeti(L, -2, 3 * s->nfiles + r + 1);
    lua_rawgeti(L, -3, s->nfiles + 2 * route->file + 2);
    lua_remove(L, -4);
}

/* Pushes the traceback handler and a fresh environment, runs file's chunk in it. Leaves
 * [traceback, env, result] on the stack and returns 0, or [traceback, env, error] and -1. */
static int run_chunk(mf_vm_t *vm, int file)
{
    lua_State *L = vm->L;
    mf_vm_push_ref(L, MF_REF_TRACEBACK);
    int msgh = lua_gettop(L);
    mf_sandbox_enter_env(L);
    mf_vm__push_chunk(vm, L, file, -1);
    lua_pushstring(L, vm->scripts->files[file].module);
    int rc = lua_pcall(L, 1, 1, msgh) ? -1 : 0;
    mf_vm__uncap(vm);
    return rc;
}

/* Loading runs in the thread that loads, without the watchdog: a counting hook bounds it. */
static __thread int64_t probe_deadline;
static __thread int64_t probe_limit_ms;

static void on_probe_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (mf_now_ns() > probe_deadline)
        luaL_error(L, "mayfly: loading the script took longer than %dms", (int)probe_limit_ms);
}

static void ignore_key(void *ud, const char *key, int type)
{
    (void)ud, (void)key, (void)type;
}

void mf_vm_warm(mf_vm_t *vm, int64_t limit_ms)
{
    char err[512];
    int is_table;
    for (int i = 0; vm->scripts && i < vm->scripts->nfiles; i++) {
        const mf_script_file_t *f = &vm->scripts->files[i];
        if (!memmem(f->source, f->len, "constant", 8))
            continue; /* nothing to keep: no need to run its top level once more */
        if (mf_vm_probe(vm, i, limit_ms, ignore_key, NULL, &is_table, err, sizeof err))
            mf_log_msg(MF_LOG_WARN, "%s: constants not computed at load: %.300s", f->name, err);
    }
}

int mf_vm_loading(mf_vm_t *vm)
{
    return vm->loading;
}

int mf_vm_may_declare(mf_vm_t *vm)
{
    return vm->loading || vm->in_hook;
}

/* Runs file's chunk as a load does (bounded by limit_ms, 0: no bound). Returns 0 with its result
 * on top, or -1 with the error in err; probe_end puts the stack back to top either way. */
static int probe_begin(mf_vm_t *vm, int file, int64_t limit_ms, char *err, size_t errlen)
{
    lua_State *L = vm->L;
    if (limit_ms > 0) {
        probe_limit_ms = limit_ms;
        probe_deadline = mf_now_ns() + limit_ms * 1000000;
        lua_sethook(L, on_probe_hook, LUA_MASKCOUNT, 100000);
    }
    vm->loading = 1;
    int failed = run_chunk(vm, file);
    vm->loading = 0;
    if (limit_ms > 0)
        lua_sethook(L, NULL, 0, 0);
    if (failed) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        return -1;
    }
    return 0;
}

static void probe_end(mf_vm_t *vm, int top)
{
    lua_settop(vm->L, top);
    mf_sandbox_leave_env(vm->L);
    mf_vm__run_end(vm);
}

int mf_vm_probe(mf_vm_t *vm, int file, int64_t limit_ms,
                void (*fn)(void *ud, const char *key, int type), void *ud, int *is_table, char *err,
                size_t errlen)
{
    lua_State *L = vm->L;
    int top = lua_gettop(L);
    if (probe_begin(vm, file, limit_ms, err, errlen)) {
        probe_end(vm, top);
        return -1;
    }
    *is_table = lua_istable(L, -1);
    if (*is_table) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING)
                fn(ud, lua_tostring(L, -2), lua_type(L, -1));
            lua_pop(L, 1);
        }
    }
    probe_end(vm, top);
    return 0;
}

/* ---- shared middleware ---- */

/* The before and after of the layer at idx, read raw (no script code runs outside the probe's
 * protected call): each nil or a function. Returns their MF_MIDDLEWARE_* bits, or -1 with the
 * reason in err, prefixed with what (NULL: none). */
static int layer_bits(lua_State *L, int idx, const char *what, char *err, size_t errlen)
{
    static const char *const keys[] = {"before", "after"};
    static const int key_bits[] = {MF_MIDDLEWARE_BEFORE, MF_MIDDLEWARE_AFTER};
    int bits = 0;
    for (int k = 0; k < 2; k++) {
        lua_pushstring(L, keys[k]);
        lua_rawget(L, idx);
        int type = lua_type(L, -1);
        lua_pop(L, 1);
        if (type == LUA_TNIL)
            continue;
        if (type != LUA_TFUNCTION) {
            snprintf(err, errlen, "%s%s'%s' is a %s, not a function", what ? what : "",
                     what ? ": " : "", keys[k], lua_typename(L, type));
            return -1;
        }
        bits |= key_bits[k];
    }
    return bits;
}

int mf_vm_probe_middleware(mf_vm_t *vm, int file, int64_t limit_ms, unsigned *bits, char *err,
                           size_t errlen)
{
    lua_State *L = vm->L;
    int top = lua_gettop(L), rc = -1;
    char what[64];
    *bits = 0;
    if (probe_begin(vm, file, limit_ms, err, errlen))
        goto done;
    int t = lua_gettop(L);
    if (!lua_istable(L, t)) {
        snprintf(err, errlen,
                 "returned a %s; expected a table with before and/or after, or a "
                 "list of such tables",
                 luaL_typename(L, t));
        goto done;
    }
    int own = layer_bits(L, t, NULL, err, errlen);
    if (own < 0)
        goto done;
    int n = (int)lua_objlen(L, t);
    if (own && n) {
        snprintf(err, errlen, "holds both before/after and a list: it is one or the other");
        goto done;
    }
    *bits = (unsigned)own;
    for (int i = 1; i <= n; i++) {
        snprintf(what, sizeof what, "entry %d", i);
        lua_rawgeti(L, t, i);
        if (!lua_istable(L, -1)) {
            snprintf(err, errlen, "%s is a %s; expected a table with before and/or after", what,
                     luaL_typename(L, -1));
            goto done;
        }
        int layer = layer_bits(L, lua_gettop(L), what, err, errlen);
        if (layer < 0)
            goto done;
        if (!layer) {
            snprintf(err, errlen, "%s has neither before nor after", what);
            goto done;
        }
        *bits |= (unsigned)layer;
        lua_pop(L, 1);
    }
    rc = 0;
done:
    probe_end(vm, top);
    return rc;
}
