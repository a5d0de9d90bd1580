#include "lua/sandbox.h"

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>

#include "lua/vm.h"

/* Registry keys: the addresses are what is unique. */
static char frozen_key;  /* proxy -> real table, for every frozen proxy */
static char globals_key; /* the shared globals behind every environment */
static char real_globals_key; /* the state's own _G, with io, debug, jit... */
static char sealed_key;       /* weak set: metatables l_setmetatable_sealing has sealed */
static char hidden_key;       /* weak set: the host's threads, which coroutine.running hides */

static int absidx(lua_State *L, int idx)
{
    return idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
}

static int refuse(lua_State *L, const char *what, const char *why)
{
    return luaL_error(L, "mayfly: %s refused: %s", what, why);
}

/* ---- frozen tables ---- */

static void push_frozen_map(lua_State *L)
{
    lua_pushlightuserdata(L, &frozen_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

int mf_sandbox_is_frozen(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
        return 0; /* every proxy has a metatable: most tables are told apart by one check */
    lua_pop(L, 1);
    idx = absidx(L, idx);
    push_frozen_map(L);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    int frozen = !lua_isnil(L, -1);
    lua_pop(L, 2);
    return frozen;
}

/* Replaces the proxy at idx by the real table behind it. */
static void replace_by_real(lua_State *L, int idx)
{
    push_frozen_map(L);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_replace(L, idx);
    lua_pop(L, 1);
}

static int refuse_write(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : luaL_typename(L, 2);
    return luaL_error(L,
                      "mayfly: assignment to '%s' in %s refused: it is read-only, shared by "
                      "every request (keep state in Redis)",
                      k, name);
}

/* Pushes the proxy of the real table at t; `seen` maps real tables to their proxies so shared
 * and cyclic structures freeze to one proxy each. */
static void freeze_rec(lua_State *L, int t, const char *name, int seen)
{
    lua_pushvalue(L, t);
    lua_rawget(L, seen);
    if (!lua_isnil(L, -1))
        return;
    lua_pop(L, 1);

    lua_newtable(L);
    int proxy = lua_gettop(L);
    lua_pushvalue(L, t);
    lua_pushvalue(L, proxy);
    lua_rawset(L, seen);

    /* Keys that are tables are frozen too (pairs hands them out); they are replaced after the
     * walk, which must not add keys. */
    lua_newtable(L);
    int table_keys = lua_gettop(L), nkeys = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -1) == LUA_TTABLE && !mf_sandbox_is_frozen(L, -1)) {
            char child[160];
            if (lua_type(L, -2) == LUA_TSTRING)
                snprintf(child, sizeof child, "%s.%s", name, lua_tostring(L, -2));
            else
                snprintf(child, sizeof child, "%s[...]", name);
            freeze_rec(L, lua_gettop(L), child, seen);
            lua_pushvalue(L, -3);
            lua_pushvalue(L, -2);
            lua_rawset(L, t); /* an existing key: allowed during the traversal */
            lua_pop(L, 1);
        }
        if (lua_type(L, -2) == LUA_TTABLE && !mf_sandbox_is_frozen(L, -2)) {
            lua_pushvalue(L, -2);
            lua_rawseti(L, table_keys, ++nkeys);
        }
        lua_pop(L, 1);
    }
    for (int i = 1; i <= nkeys; i++) {
        lua_rawgeti(L, table_keys, i);
        int key = lua_gettop(L);
        char child[160];
        snprintf(child, sizeof child, "%s[key]", name);
        lua_pushvalue(L, key);
        lua_rawget(L, t);
        lua_pushvalue(L, key);
        lua_pushnil(L);
        lua_rawset(L, t);
        freeze_rec(L, key, child, seen);
        lua_insert(L, -2);
        lua_rawset(L, t);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, 3);
    lua_pushvalue(L, t);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, refuse_write, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushfstring(L, "mayfly: read-only %s", name);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, proxy);

    push_frozen_map(L);
    lua_pushvalue(L, proxy);
    lua_pushvalue(L, t);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void mf_sandbox_freeze(lua_State *L, int idx, const char *name)
{
    idx = absidx(L, idx);
    if (mf_sandbox_is_frozen(L, idx)) {
        lua_pushvalue(L, idx);
        return;
    }
    lua_newtable(L);
    int seen = lua_gettop(L);
    freeze_rec(L, idx, name, seen);
    lua_remove(L, seen);
}

/* ---- guarded base functions ---- */

/* The iterators pairs/ipairs hand out for a frozen table. Scripts can call them with anything. */
static int frozen_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (mf_sandbox_is_frozen(L, 1))
        replace_by_real(L, 1);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int l_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (mf_sandbox_is_frozen(L, 1))
        return frozen_next(L);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* pairs over a plain table hands out the VM's own next, which the interpreter runs fastest. */
static int l_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (mf_sandbox_is_frozen(L, 1))
        lua_pushcfunction(L, frozen_next);
    else
        lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int frozen_inext(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int i = luaL_checkint(L, 2) + 1;
    lua_settop(L, 1);
    if (mf_sandbox_is_frozen(L, 1))
        replace_by_real(L, 1);
    lua_rawgeti(L, 1, i);
    if (lua_isnil(L, -1))
        return 1;
    lua_pushinteger(L, i);
    lua_insert(L, -2);
    return 2;
}

static int l_ipairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (mf_sandbox_is_frozen(L, 1)) {
        lua_pushcfunction(L, frozen_inext);
        lua_pushvalue(L, 1);
        lua_pushinteger(L, 0);
        return 3;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_call(L, 1, 3);
    return 3;
}

static int l_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    if (mf_sandbox_is_frozen(L, 1))
        replace_by_real(L, 1);
    lua_rawget(L, 1);
    return 1;
}

static int l_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (mf_sandbox_is_frozen(L, 1))
        return refuse(L, "rawset", "the table is a read-only host table");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Calls the original function (upvalue 1) with every argument and returns what it returns. */
static int call_original(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_setmetatable(lua_State *L)
{
    if (mf_sandbox_is_frozen(L, 1))
        return refuse(L, "setmetatable", "the table is a read-only host table");
    if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
        lua_getfield(L, -1, "__metatable");
        if (!lua_isnil(L, -1))
            return luaL_error(L, "mayfly: setmetatable refused: the metatable is protected (%s)",
                              lua_isstring(L, -1) ? lua_tostring(L, -1) : luaL_typename(L, -1));
        lua_pop(L, 2);
    }
    return call_original(L);
}

/* setmetatable as stdlib modules see it: the metatable of an object a host module hands out is
 * shared by every request, so the first use seals it: every table it holds (__index's methods)
 * is frozen and getmetatable answers a string. A module cannot forget to. */
static int l_setmetatable_sealing(lua_State *L)
{
    if (mf_sandbox_is_frozen(L, 2))
        return refuse(L, "setmetatable", "a read-only host table cannot be a metatable here");
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushlightuserdata(L, &sealed_key);
        lua_rawget(L, LUA_REGISTRYINDEX);
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            int sealed = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, 2)) {
                if (lua_istable(L, -1) && !mf_sandbox_is_frozen(L, -1)) {
                    mf_sandbox_freeze(L, -1, "a host object's methods");
                    lua_pushvalue(L, -3);
                    lua_insert(L, -2);
                    lua_rawset(L, 2); /* an existing key: allowed during the traversal */
                }
                lua_pop(L, 1);
            }
            lua_pushliteral(L, "__metatable");
            lua_rawget(L, 2);
            if (lua_isnil(L, -1)) {
                lua_pushliteral(L, "__metatable");
                lua_pushliteral(L, "mayfly: host object");
                lua_rawset(L, 2);
            }
            lua_pop(L, 1);
            lua_pushvalue(L, 2);
            lua_pushboolean(L, 1);
            lua_rawset(L, sealed);
        }
        lua_settop(L, 2);
    }
    return call_original(L);
}

void mf_sandbox_push_sealing_setmetatable(lua_State *L)
{
    mf_sandbox_push_globals(L);
    lua_getfield(L, -1, "setmetatable");
    lua_remove(L, -2);
    lua_pushcclosure(L, l_setmetatable_sealing, 1);
}

static int l_table_insert(lua_State *L)
{
    if (mf_sandbox_is_frozen(L, 1))
        return refuse(L, "table.insert", "the table is a read-only host table");
    return call_original(L);
}

static int l_table_move(lua_State *L)
{
    if (mf_sandbox_is_frozen(L, lua_isnoneornil(L, 5) ? 1 : 5))
        return refuse(L, "table.move", "the destination is a read-only host table");
    return call_original(L);
}

/* Pushes the function a setfenv/getfenv argument names: itself, or the one running at a level. */
static void push_fenv_target(lua_State *L)
{
    if (lua_isfunction(L, 1)) {
        lua_pushvalue(L, 1);
        return;
    }
    int level = luaL_checkint(L, 1);
    lua_Debug ar;
    if (level < 0 || !lua_getstack(L, level, &ar))
        luaL_argerror(L, 1, "invalid level");
    lua_getinfo(L, "f", &ar);
}

/* 1 when the table at idx is the state's real global table (the environment of the standard
 * library's own functions), which no script may see. */
static int is_real_globals(lua_State *L, int idx)
{
    lua_pushlightuserdata(L, &real_globals_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    int same = lua_rawequal(L, -1, idx < 0 && idx > LUA_REGISTRYINDEX ? idx - 1 : idx);
    lua_pop(L, 1);
    return same;
}

static int l_setfenv(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_isnumber(L, 1) && lua_tointeger(L, 1) == 0) {
        /* The running thread's environment: reset at the start of every request. */
        lua_pushvalue(L, 2);
        lua_replace(L, LUA_GLOBALSINDEX);
        return 0;
    }
    push_fenv_target(L);
    if (lua_iscfunction(L, -1))
        return refuse(L, "setfenv", "host functions have no environment to change");
    lua_getfenv(L, -1);
    if (mf_sandbox_is_frozen(L, -1) || is_real_globals(L, -1))
        return refuse(L, "setfenv", "the function belongs to the host");
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    lua_setfenv(L, -2);
    return 1;
}

/* A C function's environment is the host's real global table: never hand it out, nor the
 * environment of a host Lua function. */
static int l_getfenv(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_settop(L, 0), lua_pushinteger(L, 1);
    if (lua_isnumber(L, 1) && lua_tointeger(L, 1) == 0) {
        lua_pushvalue(L, LUA_GLOBALSINDEX);
        return 1;
    }
    push_fenv_target(L);
    if (lua_iscfunction(L, -1)) {
        lua_pushvalue(L, LUA_GLOBALSINDEX);
    } else {
        /* A host function's environment (the real globals, a stdlib module's) is the host's:
         * the caller gets its own instead, as for a C function. */
        lua_getfenv(L, -1);
        if (is_real_globals(L, -1) || mf_sandbox_is_frozen(L, -1))
            lua_pushvalue(L, LUA_GLOBALSINDEX);
    }
    return 1;
}

static int load_text(lua_State *L, int nargs_for_original)
{
    if (lua_type(L, 1) == LUA_TSTRING && lua_tostring(L, 1)[0] == '\033')
        return refuse(L, "load", "binary chunks cannot be loaded");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    lua_call(L, nargs_for_original, 2);
    if (lua_isfunction(L, -2))
        mf_sandbox_nojit(L, -2);
    return 2;
}

/* load(chunk [, chunkname [, mode [, env]]]): text only; the chunk gets the request's
 * environment (the thread's) unless env is given. */
static int l_load(lua_State *L)
{
    lua_settop(L, 4);
    if (!lua_isnil(L, 3) && !strchr(luaL_checkstring(L, 3), 't'))
        return refuse(L, "load", "binary chunks cannot be loaded");
    if (!lua_isnil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    load_text(L, 3);
    if (lua_isfunction(L, -2) && !lua_isnil(L, 4)) {
        lua_pushvalue(L, 4);
        lua_setfenv(L, -3);
    }
    return 2;
}

static int l_loadstring(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 2);
    return load_text(L, 3);
}

/* coroutine.running(): nil on a thread of the host's (a request's run, a constant's), as on
 * Lua's main thread, so that no script holds a coroutine the host resumes. */
static int l_coroutine_running(lua_State *L)
{
    if (lua_pushthread(L)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlightuserdata(L, &hidden_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    if (lua_toboolean(L, -1))
        lua_pushnil(L);
    else
        lua_pushvalue(L, -3);
    return 1;
}

void mf_sandbox_hide_thread(lua_State *L, int idx)
{
    idx = absidx(L, idx);
    lua_pushlightuserdata(L, &hidden_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static int l_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0)
        return refuse(L, "collectgarbage", "only collectgarbage('count') is available: the "
                                           "collector is shared by every request");
    return call_original(L);
}

/* ---- building ---- */

static void copy_field(lua_State *L, int from, int to, const char *name)
{
    lua_getfield(L, from, name);
    lua_setfield(L, to, name);
}

static void set_wrapped(lua_State *L, int t, const char *name, int from, lua_CFunction fn)
{
    lua_getfield(L, from, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, t, name);
}

static void freeze_field(lua_State *L, int t, const char *name, int from)
{
    lua_getfield(L, from, name);
    mf_sandbox_freeze(L, -1, name);
    lua_setfield(L, t, name);
    lua_pop(L, 1);
}

/* Sets env as the environment of every Lua function stored in the table at t. */
static void rehome(lua_State *L, int t, int env)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_isfunction(L, -1) && !lua_iscfunction(L, -1)) {
            lua_pushvalue(L, env);
            lua_setfenv(L, -2);
        }
        lua_pop(L, 1);
    }
}

void mf_sandbox_open(lua_State *L)
{
    static const char *plain[] = {"assert",   "error",    "pcall",        "xpcall", "rawequal",
                                  "select",   "tonumber", "tostring",     "type",   "unpack",
                                  "_VERSION", "getmetatable", NULL};
    static const char *os_pure[] = {"time", "clock", "date", "getenv", "difftime", NULL};
    int top = lua_gettop(L);

    /* Weak keys: a proxy, a metatable or a thread nobody holds any more (an old config, old
     * constants) is forgotten. */
    static char *const weak_sets[] = {&frozen_key, &sealed_key, &hidden_key};
    for (size_t i = 0; i < sizeof weak_sets / sizeof weak_sets[0]; i++) {
        lua_pushlightuserdata(L, weak_sets[i]);
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }

    lua_pushvalue(L, LUA_GLOBALSINDEX);
    int G = lua_gettop(L);
    lua_pushlightuserdata(L, &real_globals_key);
    lua_pushvalue(L, G);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    int g = lua_gettop(L);

    for (int i = 0; plain[i]; i++)
        copy_field(L, G, g, plain[i]);
    lua_getfield(L, G, "next"); /* pairs hands out the original next for plain tables */
    lua_pushcclosure(L, l_pairs, 1);
    lua_setfield(L, g, "pairs");
    lua_pushcfunction(L, l_next);
    lua_setfield(L, g, "next");
    set_wrapped(L, g, "ipairs", G, l_ipairs);
    lua_pushcfunction(L, l_rawget);
    lua_setfield(L, g, "rawget");
    lua_pushcfunction(L, l_rawset);
    lua_setfield(L, g, "rawset");
    set_wrapped(L, g, "setmetatable", G, l_setmetatable);
    lua_pushcfunction(L, l_setfenv);
    lua_setfield(L, g, "setfenv");
    lua_pushcfunction(L, l_getfenv);
    lua_setfield(L, g, "getfenv");
    lua_getfield(L, G, "load");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_load, 1);
    lua_setfield(L, g, "load");
    lua_pushcclosure(L, l_loadstring, 1);
    lua_setfield(L, g, "loadstring");
    set_wrapped(L, g, "collectgarbage", G, l_collectgarbage);

    /* Pure libraries, frozen in place: only the proxies are reachable from scripts. */
    freeze_field(L, g, "string", G);
    freeze_field(L, g, "math", G);
    freeze_field(L, g, "bit", G);
    lua_getfield(L, G, "coroutine");
    lua_pushcfunction(L, l_coroutine_running);
    lua_setfield(L, -2, "running");
    lua_pop(L, 1);
    freeze_field(L, g, "coroutine", G);

    /* table: a copy whose writers check their destination. */
    lua_getfield(L, G, "table");
    int tl = lua_gettop(L);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, tl)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    set_wrapped(L, tl + 1, "insert", tl, l_table_insert);
    lua_getfield(L, tl, "move");
    if (!lua_isnil(L, -1)) {
        lua_pushcclosure(L, l_table_move, 1);
        lua_setfield(L, tl + 1, "move");
    } else {
        lua_pop(L, 1);
    }
    mf_sandbox_freeze(L, tl + 1, "table");
    lua_setfield(L, g, "table");
    lua_settop(L, g);

    lua_getfield(L, G, "os");
    lua_newtable(L);
    for (int i = 0; os_pure[i]; i++)
        copy_field(L, lua_gettop(L) - 1, lua_gettop(L), os_pure[i]);
    mf_sandbox_freeze(L, -1, "os");
    lua_setfield(L, g, "os");
    lua_settop(L, g);

    lua_getfield(L, G, "debug");
    lua_newtable(L);
    copy_field(L, -2, lua_gettop(L), "traceback");
    mf_sandbox_freeze(L, -1, "debug");
    lua_setfield(L, g, "debug");
    lua_settop(L, g);

    /* getmetatable("") hands out a read-only view; the real metatable keeps serving methods. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_newtable(L);
    lua_getfield(L, g, "string");
    lua_setfield(L, -2, "__index");
    mf_sandbox_freeze(L, -1, "string metatable");
    lua_setfield(L, -3, "__metatable");
    lua_settop(L, g);

    lua_pushlightuserdata(L, &globals_key);
    lua_pushvalue(L, g);
    lua_rawset(L, LUA_REGISTRYINDEX);

    /* LuaJIT writes a few library functions in Lua (string.len, table.remove, math.deg, ...):
     * their environment is the real _G. Give them the frozen shared globals instead. */
    mf_sandbox_freeze(L, g, "globals");
    int frozen_g = lua_gettop(L);
    rehome(L, G, frozen_g);
    lua_pushnil(L);
    while (lua_next(L, G)) {
        if (lua_istable(L, -1))
            rehome(L, lua_gettop(L), frozen_g);
        lua_pop(L, 1);
    }
    lua_settop(L, g);

    lua_createtable(L, 0, 2);
    lua_pushvalue(L, g);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "mayfly: request environment");
    lua_setfield(L, -2, "__metatable");
    mf_vm_set_ref(L, MF_REF_ENV_MT);
    /* A thread's environment between runs: no script runs there, and were one to, it could
     * keep nothing in it. */
    lua_newtable(L);
    mf_sandbox_freeze(L, -1, "the idle environment");
    mf_vm_set_ref(L, MF_REF_IDLE_ENV);
    lua_pop(L, 1);

    lua_settop(L, top);
}

void mf_sandbox_set_global(lua_State *L, const char *name)
{
    lua_pushlightuserdata(L, &globals_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void mf_sandbox_push_globals(lua_State *L)
{
    lua_pushlightuserdata(L, &globals_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

void mf_sandbox_enter_env(lua_State *L)
{
    lua_createtable(L, 0, 4);
    mf_vm_push_ref(L, MF_REF_ENV_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    lua_pushvalue(L, -1);
    lua_replace(L, LUA_GLOBALSINDEX);
}

void mf_sandbox_leave_env(lua_State *L)
{
    mf_vm_push_ref(L, MF_REF_IDLE_ENV);
    lua_replace(L, LUA_GLOBALSINDEX);
}

void mf_sandbox_nojit(lua_State *L, int idx)
{
    luaJIT_setmode(L, idx, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
}
