#include "lua/json.h"

#include <lauxlib.h>
#include <lua-cjson.h>

/* Shipped in the library but not declared by Debian's header. */
extern int luaopen_cjson_safe(lua_State *L);

static char cjson_module_key, cjson_safe_module_key, encode_key, decode_key;

void mf_json_open(lua_State *L)
{
    /* The module tables themselves are never handed to scripts: only instances made by new(),
     * so cjson.encode_keep_buffer and friends act on one request's instance. */
    lua_pushlightuserdata(L, &cjson_module_key);
    luaopen_cjson(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &cjson_safe_module_key);
    luaopen_cjson_safe(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    mf_json_push_new_instance(L, 0);
    lua_pushlightuserdata(L, &encode_key);
    lua_getfield(L, -2, "encode");
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &decode_key);
    lua_getfield(L, -2, "decode");
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}

void mf_json_push_encode(lua_State *L)
{
    lua_pushlightuserdata(L, &encode_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

void mf_json_push_decode(lua_State *L)
{
    lua_pushlightuserdata(L, &decode_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

void mf_json_push_new_instance(lua_State *L, int safe)
{
    lua_pushlightuserdata(L, safe ? &cjson_safe_module_key : &cjson_module_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "new");
    lua_remove(L, -2);
    lua_call(L, 0, 1);
}

int mf_json_encode(lua_State *L, int idx)
{
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    mf_json_push_encode(L);
    lua_pushvalue(L, idx);
    return lua_pcall(L, 1, 1, 0) == 0 ? 0 : -1;
}
