/* mayfly.constant(fn): read-only data computed once per script version and worker, so that
 * lookup tables and the like need no mutable global to be fast. The value fn returns is copied
 * (data only: tables, strings, numbers, booleans) and frozen; every later call with the same
 * function (same file and lines) returns that frozen copy until the scripts are reloaded. */
#include <lauxlib.h>

#include "lapi.h"
#include "sandbox.h"
#include "vm.h"

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

static int l_constant(lua_State *L)
{
    lua_Debug ar;
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_pushvalue(L, 1);
    lua_getinfo(L, ">S", &ar);
    if (ar.what[0] == 'C')
        return luaL_argerror(L, 1, "a Lua function of the scripts is expected");
    lua_pushfstring(L, "%s:%d:%d", ar.source, ar.linedefined, ar.lastlinedefined);
    int key = lua_gettop(L);

    mf_vm_push_ref(L, MF_REF_CONSTANTS);
    int cache = lua_gettop(L);
    lua_pushvalue(L, key);
    lua_rawget(L, cache);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);

    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);
    int value = lua_gettop(L);
    lua_newtable(L);
    copy_data(L, value, 0, lua_gettop(L));
    if (lua_istable(L, -1)) {
        mf_sandbox_freeze(L, -1, "mayfly.constant value");
        lua_remove(L, -2);
    }
    lua_pushvalue(L, key);
    lua_pushvalue(L, -2);
    lua_rawset(L, cache);
    return 1;
}

void mf_constant_reset(lua_State *L)
{
    lua_newtable(L);
    mf_vm_set_ref(L, MF_REF_CONSTANTS);
}

int luaopen_mayfly_constant(lua_State *L)
{
    mf_constant_reset(L);
    lua_pushcfunction(L, l_constant);
    return 1;
}
