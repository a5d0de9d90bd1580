/* The raw config values behind the `config` module (stdlib/mayfly/config.lua): a config
 * snapshot as Lua tables, and the MAYFLY_CFG_<NAME> overrides. */
#ifndef MF_LUA_CONFIG_SOURCE_H
#define MF_LUA_CONFIG_SOURCE_H

#include <lua.h>

#include "base/config.h"

/* Pushes {values=, overrides=} for a config snapshot (NULL: no config folder). */
void mf_config_push_source(lua_State *L, const mf_config_t *c);

#endif
