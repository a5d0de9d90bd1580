/* The host modules scripts see, one file of lua/api/ each, each with one entry point that pushes
 * the module's value (unfrozen: the state freezes it). modules.c lists them in the one table the
 * state is built from (lua/module.h). What they may use of the runtime is lua/binding.h. */
#ifndef MF_LUA_API_H
#define MF_LUA_API_H

#include <lua.h>

int luaopen_mayfly_json(lua_State *L);    /* json.c */
int luaopen_mayfly_env(lua_State *L);     /* env.c */
int luaopen_mayfly_log(lua_State *L);     /* log.c */
int luaopen_mayfly_redis(lua_State *L);   /* redis.c, with redis.lua */
int luaopen_mayfly_http(lua_State *L);    /* http.c: the primitive under stdlib's mayfly.http */
int luaopen_mayfly_crypto(lua_State *L);  /* crypto.c (keys: crypto_keys.c) */
int luaopen_mayfly_metrics(lua_State *L); /* metrics.c */
int luaopen_mayfly_constant(lua_State *L); /* constant.c */
int luaopen_mayfly_time(lua_State *L);    /* time.c */
int luaopen_mayfly_jwks_cache(lua_State *L); /* jwks_cache.c: mayfly.jwt's JWKS documents */
int luaopen_mayfly_sleep(lua_State *L);   /* sleep.c: mayfly.sleep */
int luaopen_mayfly_trace(lua_State *L);   /* trace.c: the primitive under stdlib's mayfly.trace */
int luaopen_mayfly_subscribe(lua_State *L);  /* subscribe.c: mayfly.subscribe */
int luaopen_mayfly_psubscribe(lua_State *L); /* subscribe.c: mayfly.psubscribe */
/* print(...) as a log line at info level (log.c). */
int mf_lapi_print(lua_State *L);

/* Pushes a Redis reply as Lua values, the way Redis's own EVAL converts them: bulk and status
 * strings as strings, integers as numbers, arrays as tables, nil as nil at the top (top != 0) or
 * redis.null inside arrays, error replies as {err = "..."}. For redis.c and its fuzzer. */
struct redisReply;
void mf_redis_push_reply(lua_State *L, const struct redisReply *r, int top); /* may raise */

#endif
