/* The Lua-visible host modules, one lapi_<module>.c each. Each luaopen_* pushes the module's
 * table (unfrozen: vm.c freezes it into the shared globals). */
#ifndef MF_LAPI_H
#define MF_LAPI_H

#include <lua.h>

#include "base/config.h"
#include "http/request.h"

int luaopen_mayfly_json(lua_State *L);
int luaopen_mayfly_log(lua_State *L);
int luaopen_mayfly_env(lua_State *L);
int luaopen_mayfly_redis(lua_State *L);
/* Pushes a Redis reply as Lua values, the way Redis's own EVAL converts them: bulk and status
 * strings as strings, integers as numbers, arrays as tables, nil as nil at the top (top != 0) or
 * redis.null inside arrays, error replies as {err = "..."}. */
struct redisReply;
void mf_redis_push_reply(lua_State *L, const struct redisReply *r, int top); /* may raise */
/* The primitive behind stdlib's mayfly.http, registered as mayfly._http. */
int luaopen_mayfly_http(lua_State *L);
/* mayfly.crypto: random_hex(nbytes) from the kernel's CSPRNG, sha1hex(s) for script names. */
int luaopen_mayfly_crypto(lua_State *L);
int luaopen_mayfly_metrics(lua_State *L);
/* Pushes {values=, overrides=} for a config snapshot (NULL: no config folder). */
void mf_config_push_source(lua_State *L, const mf_config_t *c);
/* Pushes mayfly.constant; mf_constant_reset forgets every value (a new script version). */
int luaopen_mayfly_constant(lua_State *L);
void mf_constant_reset(lua_State *L);

/* print(...) as a log line at info level. */
int mf_lapi_print(lua_State *L);

/* JSON through the host's private lua-cjson instance, whose settings no script can change. */
/* Pushes json(value at idx) and returns 0, or pushes an error message and returns -1. */
int mf_json_encode(lua_State *L, int idx);
/* Pushes the private decode function. */
void mf_json_push_decode(lua_State *L);
/* Pushes a new instance of lua-cjson (safe = cjson.safe) for one request's require. */
void mf_json_push_new_instance(lua_State *L, int safe); /* may raise */

/* Registers the request object's metatable in a new state. */
void mf_request_open(lua_State *L);
/* Pushes the request object of r: method is a field; path, id, params, headers, query, body and
 * remote_addr are built on first access; req:json() decodes the body. */
void mf_request_push(lua_State *L, mf_request_t *r); /* may raise */

/* Raises an error that the host answers with `status` and `message` instead of 500. */
int mf_lapi_http_error(lua_State *L, int status, const char *message); /* raises */
/* When the value at idx is such an error, returns its status and points *message at its text
 * (valid while the value is on the stack); returns 0 otherwise. */
int mf_lapi_http_error_status(lua_State *L, int idx, const char **message);

#endif
