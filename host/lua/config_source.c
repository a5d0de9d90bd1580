#include "lua/config_source.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/json.h"

extern char **environ;

void mf_config_push_source(lua_State *L, const mf_config_t *c)
{
    static const char prefix[] = "MAYFLY_CFG_";

    lua_createtable(L, 0, 2);
    lua_newtable(L);
    if (c && c->json) {
        /* checked when the snapshot was loaded: an object; its keys go under the files' */
        mf_json_push_decode(L);
        lua_pushlstring(L, c->json, c->json_len);
        if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1)) {
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, -5);
            }
        }
        lua_pop(L, 1);
    }
    for (int i = 0; c && i < c->nentries; i++) {
        lua_pushlstring(L, c->entries[i].value, c->entries[i].len);
        lua_setfield(L, -2, c->entries[i].key);
    }
    lua_setfield(L, -2, "values");
    /* Overrides are keyed by the variable's suffix; config.lua normalises names to match. */
    lua_newtable(L);
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, prefix, sizeof prefix - 1) != 0 || eq == *e + sizeof prefix - 1)
            continue;
        lua_pushlstring(L, *e + sizeof prefix - 1, (size_t)(eq - *e) - (sizeof prefix - 1));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "overrides");
}
