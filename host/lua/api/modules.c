/* The one table of the host's C modules (lua/module.h): adding a module is a file in lua/api/,
 * its entry point in api.h, and a line here. */
#include "lua/api/api.h"
#include "lua/module.h"

static int open_print(lua_State *L)
{
    lua_pushcfunction(L, mf_lapi_print);
    return 1;
}

const mf_lua_module_t mf_lua_modules[] = {
    {"print", MF_MODULE_GLOBAL, open_print},
    {"mayfly.json", MF_MODULE_REQUIRE, luaopen_mayfly_json},
    {"mayfly.env", MF_MODULE_REQUIRE, luaopen_mayfly_env},
    {"mayfly.log", MF_MODULE_REQUIRE, luaopen_mayfly_log},
    {"mayfly.redis", MF_MODULE_REQUIRE, luaopen_mayfly_redis},
    {"mayfly._http", MF_MODULE_REQUIRE, luaopen_mayfly_http},
    {"mayfly.crypto", MF_MODULE_REQUIRE, luaopen_mayfly_crypto},
    {"mayfly.metrics", MF_MODULE_REQUIRE, luaopen_mayfly_metrics},
    {"mayfly.time", MF_MODULE_REQUIRE, luaopen_mayfly_time},
    {"mayfly._jwks", MF_MODULE_REQUIRE, luaopen_mayfly_jwks_cache},
    {"mayfly._trace", MF_MODULE_REQUIRE, luaopen_mayfly_trace},
    {"constant", MF_MODULE_FIELD, luaopen_mayfly_constant},
    {"sleep", MF_MODULE_FIELD, luaopen_mayfly_sleep},
    {"subscribe", MF_MODULE_FIELD, luaopen_mayfly_subscribe},
    {"psubscribe", MF_MODULE_FIELD, luaopen_mayfly_psubscribe},
    {NULL, 0, NULL},
};
