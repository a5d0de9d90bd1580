/* log.debug/info/warn/error(msg, fields) and print(...): JSON lines carrying the request id and
 * the trace id. */
#include <string.h>

#include <lauxlib.h>

#include "http/request_log.h"
#include "lua/api/api.h"
#include "lua/binding.h"
#include "lua/json.h"
#include "observe/log.h"

/* Writes the fields of the table at idx. Never raises while the line holds memory. */
static void add_fields(lua_State *L, mf_jsonbuf_t *l, int idx)
{
    char prefixed[128];
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            size_t len;
            if (mf_log_reserved(k)) {
                /* A script cannot forge the fields the host writes. */
                snprintf(prefixed, sizeof prefixed, "field_%s", k);
                k = prefixed;
            }
            switch (lua_type(L, -1)) {
            case LUA_TSTRING: {
                const char *s = lua_tolstring(L, -1, &len);
                mf_jsonbuf_str(l, k, s, len);
                break;
            }
            case LUA_TNUMBER:
                mf_jsonbuf_num(l, k, lua_tonumber(L, -1));
                break;
            case LUA_TBOOLEAN:
                mf_jsonbuf_bool(l, k, lua_toboolean(L, -1));
                break;
            case LUA_TTABLE:
                if (mf_json_encode(L, -1) == 0) {
                    const char *s = lua_tolstring(L, -1, &len);
                    mf_jsonbuf_raw(l, k, s, len);
                } else {
                    mf_jsonbuf_cstr(l, k, "(table that cannot be encoded)");
                }
                lua_pop(L, 1);
                break;
            default:
                mf_jsonbuf_cstr(l, k, luaL_typename(L, -1));
                break;
            }
        }
        lua_pop(L, 1);
    }
}

static int log_at(lua_State *L, int level)
{
    if (!mf_log_enabled(level))
        return 0;
    mf_request_t *r = mf_vm_request(mf_vm_of(L));
    size_t len;
    luaL_checkany(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    const char *msg = lua_isstring(L, 1) ? lua_tolstring(L, 1, &len) : NULL;
    if (!msg) {
        msg = luaL_typename(L, 1);
        len = strlen(msg);
    }
    mf_jsonbuf_t l;
    mf_request_log_begin(&l, level, msg, len, r);
    if (lua_istable(L, 2))
        add_fields(L, &l, 2);
    mf_log_end(&l);
    return 0;
}

static int l_log_debug(lua_State *L)
{
    return log_at(L, MF_LOG_DEBUG);
}
static int l_log_info(lua_State *L)
{
    return log_at(L, MF_LOG_INFO);
}
static int l_log_warn(lua_State *L)
{
    return log_at(L, MF_LOG_WARN);
}
static int l_log_error(lua_State *L)
{
    return log_at(L, MF_LOG_ERROR);
}

int mf_lapi_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    lua_getfield(L, LUA_GLOBALSINDEX, "tostring");
    int tostring_idx = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, tostring_idx);
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
        if (!lua_isstring(L, -1))
            return luaL_error(L, "'tostring' must return a string to 'print'");
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_replace(L, 1);
    lua_settop(L, 1);
    return log_at(L, MF_LOG_INFO);
}

int luaopen_mayfly_log(lua_State *L)
{
    static const luaL_Reg fns[] = {{"debug", l_log_debug},
                                   {"info", l_log_info},
                                   {"warn", l_log_warn},
                                   {"error", l_log_error},
                                   {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}
