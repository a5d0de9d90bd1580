/* mayfly.constant(fn): read-only data computed once per script version and worker, so that
 * lookup tables and the like need no mutable global to be fast. fn runs detached from any
 * request (mf_vm_call_detached: an environment, a require cache and a random sequence of its
 * own, no request). Its value is copied (data only: tables, strings, numbers, booleans) and
 * frozen, keys included.
 *
 * Values are kept only while a version loads (mf_vm_warm runs the top level of every file that
 * names a constant): what the scripts' own top level computes with no request in sight. A call
 * the load did not reach computes its value anew every time and keeps nothing, so no request can
 * choose what the cache holds, learn from it what an earlier request did, or fill it. A value is
 * keyed by its function's bytecode (with its source name and lines) and upvalues. */
#include <stdint.h>
#include <stdio.h>

#include <lauxlib.h>

#include "lua/api/api.h"
#include "lua/binding.h"
#include "lua/sandbox.h"

#define MAX_DEPTH 64

/* Pushes a copy of the value at idx made of fresh tables; raises on anything but data. */
static void copy_data(lua_State *L, int idx, int depth, int seen)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
    case LUA_TSTRING:
        lua_pushvalue(L, idx);
        return;
    case LUA_TTABLE:
        break;
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) { /* mayfly.json.null */
            lua_pushvalue(L, idx);
            return;
        }
        /* fall through */
    default:
        luaL_error(L, "mayfly.constant: the value holds a %s; only tables, strings, numbers and "
                      "booleans can be shared between requests",
                   luaL_typename(L, idx));
    }
    if (depth > MAX_DEPTH)
        luaL_error(L, "mayfly.constant: the value is nested deeper than %d tables", MAX_DEPTH);
    lua_pushvalue(L, idx);
    lua_rawget(L, seen);
    if (!lua_isnil(L, -1))
        return; /* a table met before: shared structure stays shared */
    lua_pop(L, 1);
    lua_newtable(L);
    int copy = lua_gettop(L);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, copy);
    lua_rawset(L, seen);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int v = lua_gettop(L);
        copy_data(L, v - 1, depth + 1, seen);
        copy_data(L, v, depth + 1, seen);
        lua_rawset(L, copy);
        lua_pop(L, 1);
    }
}

static int dump_to_buffer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    luaL_addlstring(ud, p, n);
    return 0;
}

/* Pushes the cache key of the Lua function at 1: its bytecode with debug information (so two
 * functions differ as soon as their code, source name or lines do) and each upvalue, by value
 * for strings, numbers and booleans and by identity for the rest. */
static void push_key(lua_State *L)
{
    luaL_Buffer b;
    lua_pushvalue(L, 1);
    luaL_buffinit(L, &b);
    /* The buffer sits above the function on the stack; lua_dump reads the function at the top
     * before the buffer adds anything. */
    lua_dump(L, dump_to_buffer, &b);
    for (int i = 1; lua_getupvalue(L, 1, i) != NULL; i++) {
        char id[48];
        int len;
        switch (lua_type(L, -1)) {
        case LUA_TSTRING: {
            size_t n;
            const char *v = lua_tolstring(L, -1, &n);
            len = snprintf(id, sizeof id, "|s%zu:", n);
            luaL_addlstring(&b, id, (size_t)len);
            luaL_addlstring(&b, v, n);
            lua_pop(L, 1);
            continue;
        }
        case LUA_TNUMBER:
            len = snprintf(id, sizeof id, "|n%.17g", lua_tonumber(L, -1));
            break;
        case LUA_TBOOLEAN:
            len = snprintf(id, sizeof id, "|b%d", lua_toboolean(L, -1));
            break;
        default:
            len = snprintf(id, sizeof id, "|%d:%p", lua_type(L, -1), lua_topointer(L, -1));
        }
        lua_pop(L, 1);
        luaL_addlstring(&b, id, (size_t)len);
    }
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

static int l_constant(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    if (lua_iscfunction(L, 1))
        return luaL_argerror(L, 1, "a Lua function of the scripts is expected");
    lua_settop(L, 1);
    push_key(L);
    int key = lua_gettop(L);

    mf_vm_push_ref(L, MF_REF_CONSTANTS);
    int cache = lua_gettop(L);
    lua_pushvalue(L, key);
    lua_rawget(L, cache);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);

    mf_vm_call_detached(L, 1);
    int value = lua_gettop(L);
    lua_newtable(L);
    copy_data(L, value, 0, lua_gettop(L));
    if (lua_istable(L, -1)) {
        mf_sandbox_freeze(L, -1, "mayfly.constant value");
        lua_remove(L, -2);
    }
    if (mf_vm_loading(mf_vm_of(L))) {
        lua_pushvalue(L, key);
        lua_pushvalue(L, -2);
        lua_rawset(L, cache);
    }
    return 1;
}

int luaopen_mayfly_constant(lua_State *L)
{
    lua_newtable(L); /* the cache: a state holds one version, so its constants are that one's */
    mf_vm_set_ref(L, MF_REF_CONSTANTS);
    lua_pushcfunction(L, l_constant);
    return 1;
}
