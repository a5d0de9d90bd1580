/* mayfly.json: the host's own encode and decode (lua/json.c), whose settings no script can
 * change, and null. */
#include "lua/api/api.h"
#include "lua/json.h"

int luaopen_mayfly_json(lua_State *L)
{
    lua_createtable(L, 0, 3);
    mf_json_push_encode(L);
    lua_setfield(L, -2, "encode");
    mf_json_push_decode(L);
    lua_setfield(L, -2, "decode");
    lua_pushlightuserdata(L, NULL); /* lua-cjson's null */
    lua_setfield(L, -2, "null");
    return 1;
}
