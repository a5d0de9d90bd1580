/* What a new state is built with: the sandbox, the host modules (lua/module.h's table, then
 * stdlib/'s), the mayfly table and the short globals; and require, which finds them and the
 * scripts' own modules. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua/config_source.h"
#include "lua/embedded.h"
#include "lua/http_error.h"
#include "lua/json.h"
#include "lua/module.h"
#include "lua/request_object.h"
#include "lua/sandbox.h"
#include "lua/vm_private.h"

static char modules_key;  /* registry: host modules by require name */
static char internal_key; /* registry: the primitives only stdlib modules reach (mayfly._*) */

void mf_vm__push_modules(lua_State *L)
{
    lua_pushlightuserdata(L, &modules_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* require(name): host modules (shared, read-only); lua-cjson as a new instance; files of the
 * scripts folder, run in the request's environment once per request. */
static int l_require(lua_State *L)
{
    mf_vm_t *vm = mf_vm_of(L);
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);

    mf_vm__push_modules(L);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1))
        return 1;
    lua_settop(L, 1);

    /* Per-request cache, so a module required twice in one request is one value. */
    if (vm->loaded_ref == LUA_NOREF) {
        lua_newtable(L);
        vm->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->loaded_ref);
    int loaded = lua_gettop(L);
    lua_pushvalue(L, 1);
    lua_rawget(L, loaded);
    if (lua_toboolean(L, -1) && !lua_islightuserdata(L, -1))
        return 1;
    if (lua_islightuserdata(L, -1))
        return luaL_error(L, "mayfly: require '%s': loop in the requires between modules", name);
    lua_pop(L, 1);

    if (!strcmp(name, "cjson") || !strcmp(name, "cjson.safe")) {
        mf_json_push_new_instance(L, name[5] == '.');
    } else {
        int file = vm->scripts ? mf_scripts_find_module(vm->scripts, name, len) : -1;
        if (file < 0)
            return luaL_error(L,
                              "mayfly: module '%s' not found: not a host module and no %s.lua "
                              "in the scripts folder",
                              name, name);
        lua_pushvalue(L, 1);
        lua_pushlightuserdata(L, vm); /* marks "loading" to catch loops */
        lua_rawset(L, loaded);
        mf_vm__push_chunk(vm, L, file, LUA_GLOBALSINDEX);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
        }
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, loaded);
    return 1;
}

/* Registers the value on top (popped) as a host module: frozen, and findable by require; a
 * name starting "mayfly._" is an internal one, which only stdlib modules reach (see
 * open_stdlib), so no script holds a primitive that trusts its caller. */
void mf_vm__add_module(lua_State *L, const char *name)
{
    mf_sandbox_freeze(L, -1, name);
    if (!strncmp(name, "mayfly._", 8)) {
        lua_pushlightuserdata(L, &internal_key);
        lua_rawget(L, LUA_REGISTRYINDEX);
    } else {
        mf_vm__push_modules(L);
    }
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 3);
}

/* internal(name): an internal module; handed to stdlib modules as their chunk's second
 * argument, never stored where a script can reach it. Looked up at each call, so a module that
 * is replaced (the config source) is always the current one. */
static int l_internal(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_pushlightuserdata(L, &internal_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1))
        return luaL_error(L, "no internal module '%s'", lua_tostring(L, 1));
    return 1;
}

/* ---- building the state ---- */

static int open_stdlib(lua_State *L, char *err, size_t errlen)
{
    /* Host Lua modules run once, in an environment of their own over the shared globals, and
     * are frozen like the C ones; the objects they hand out get sealed metatables. Their
     * functions keep JIT compilation. */
    for (const mf_embedded_lua_t *m = mf_stdlib_modules; m->module; m++) {
        if (luaL_loadbuffer(L, m->source, m->len, m->chunkname) != 0) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            return -1;
        }
        lua_newtable(L);
        mf_sandbox_push_sealing_setmetatable(L);
        lua_setfield(L, -2, "setmetatable");
        lua_newtable(L);
        mf_sandbox_push_globals(L);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, -2);
        mf_sandbox_freeze(L, -1, m->module);
        lua_remove(L, -2);
        lua_setfenv(L, -2);
        lua_pushstring(L, m->module);
        lua_pushcfunction(L, l_internal);
        if (lua_pcall(L, 2, 1, 0) != 0) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            return -1;
        }
        mf_vm__add_module(L, m->module);
    }
    return 0;
}

int mf_vm__build_state(mf_vm_t *vm, char *err, size_t errlen)
{
    lua_State *L = vm->L;
    luaL_openlibs(L);

    lua_getfield(L, LUA_GLOBALSINDEX, "debug");
    lua_getfield(L, -1, "traceback");
    mf_vm_set_ref(L, MF_REF_TRACEBACK);
    lua_pop(L, 1);
    if (mf_vm__open_runs(L, err, errlen))
        return -1;
    mf_request_object_open(L);
    mf_http_error_open(L);
    mf_vm__open_random(L);
    mf_sandbox_open(L);
    mf_json_open(L);
    lua_pushlightuserdata(L, &modules_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &internal_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    /* The standard libraries are modules too (require "string" works as in plain Lua). */
    mf_sandbox_push_globals(L);
    static const char *libs[] = {"string",    "table", "math",  "os",
                                 "coroutine", "bit",   "debug", NULL};
    for (int i = 0; libs[i]; i++) {
        mf_vm__push_modules(L);
        lua_getfield(L, -2, libs[i]);
        lua_setfield(L, -2, libs[i]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* The fork's pure table extensions, by the names it registers them under. */
    static const char *table_ext[] = {"table.new",   "table.clear",   "table.clone",
                                      "table.nkeys", "table.isempty", "table.isarray",
                                      NULL};
    lua_getfield(L, LUA_GLOBALSINDEX, "package");
    lua_getfield(L, -1, "preload");
    for (int i = 0; table_ext[i]; i++) {
        lua_getfield(L, -1, table_ext[i]);
        if (lua_isfunction(L, -1)) {
            lua_pushstring(L, table_ext[i]);
            lua_call(L, 1, 1);
            mf_vm__push_modules(L);
            lua_insert(L, -2);
            lua_setfield(L, -2, table_ext[i]);
            lua_pop(L, 1);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);

    lua_pushcfunction(L, l_require);
    mf_sandbox_set_global(L, "require");

    /* The host's C modules (lua/api/), then stdlib/'s, which may use them; then the mayfly
     * table that gathers them. */
    for (const mf_lua_module_t *m = mf_lua_modules; m->name; m++) {
        if (m->kind == MF_MODULE_FIELD)
            continue;
        m->open(L);
        if (m->kind == MF_MODULE_GLOBAL)
            mf_sandbox_set_global(L, m->name);
        else
            mf_vm__add_module(L, m->name);
    }
    mf_config_push_source(L, NULL);
    mf_vm__add_module(L, "mayfly._config_source");
    if (open_stdlib(L, err, errlen))
        return -1;

    mf_vm__push_modules(L);
    lua_newtable(L); /* mayfly */
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        const char *name = lua_tostring(L, -2);
        if (!strncmp(name, "mayfly.", 7) && name[7] != '_') {
            lua_pushstring(L, name + 7);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pushliteral(L, MAYFLY_VERSION);
    lua_setfield(L, -2, "version");
    for (const mf_lua_module_t *m = mf_lua_modules; m->name; m++) {
        if (m->kind == MF_MODULE_FIELD) {
            m->open(L);
            lua_setfield(L, -2, m->name);
        }
    }
    mf_sandbox_freeze(L, -1, "mayfly");
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "mayfly");
    mf_sandbox_set_global(L, "mayfly");
    lua_pop(L, 1);
    /* The short names every environment has. */
    static const char *const globals[][2] = {
        {"redis", "mayfly.redis"}, {"log", "mayfly.log"}, {"config", "mayfly.config"}};
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++) {
        lua_getfield(L, -1, globals[i][1]);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, globals[i][0]);
        mf_sandbox_set_global(L, globals[i][0]);
    }
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT, 0);
    /* The live heap (sandbox, host modules, compiled scripts) is re-marked by every GC cycle
     * while each request leaves only short-lived garbage: cycles started later cost less per
     * request, for a heap a few times larger (a few MiB per worker). */
    lua_gc(L, LUA_GCSETPAUSE, 1000);
    return 0;
}
