/* redis: the one place state lives. */
#include <lauxlib.h>

#include "lapi.h"
#include "vm.h"

static int l_redis_unconfigured(lua_State *L)
{
    return luaL_error(L, "mayfly: Redis is not configured: set MAYFLY_REDIS_URL");
}

int luaopen_mayfly_redis(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, l_redis_unconfigured);
    lua_setfield(L, -2, "call");
    lua_pushcfunction(L, l_redis_unconfigured);
    lua_setfield(L, -2, "pcall");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
