/* Errors answered with a status of their own (http_error.h). */
#include "lua/http_error.h"

#include "lua/refs.h"

static int l_http_error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    return 1;
}

void mf_http_error_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_http_error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "mayfly: http error");
    lua_setfield(L, -2, "__metatable");
    mf_vm_set_ref(L, MF_REF_HTTP_ERROR_MT);
}

int mf_http_error_raise(lua_State *L, int status, const char *message)
{
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    mf_vm_push_ref(L, MF_REF_HTTP_ERROR_MT);
    lua_setmetatable(L, -2);
    return lua_error(L);
}

int mf_http_error_status(lua_State *L, int idx, const char **message)
{
    int status = 0;
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
        return 0;
    mf_vm_push_ref(L, MF_REF_HTTP_ERROR_MT);
    int is_error = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!is_error)
        return 0;
    /* Raw reads: the table is the script's once raised, and no script code may run here. */
    lua_pushliteral(L, "status");
    lua_rawget(L, idx < 0 ? idx - 1 : idx);
    lua_Number n = lua_tonumber(L, -1);
    status = lua_type(L, -1) == LUA_TNUMBER && n >= 400 && n <= 599 ? (int)n : 0;
    lua_pop(L, 1);
    lua_pushliteral(L, "message");
    lua_rawget(L, idx < 0 ? idx - 1 : idx);
    *message = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error";
    lua_pop(L, 1); /* the string stays referenced by the error table */
    return status;
}
