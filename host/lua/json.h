/* The host's own JSON: a private lua-cjson instance whose settings no script can change, for
 * what the host encodes and decodes in a state (json= responses, log fields, req:json, the
 * config), and the fresh instances require "cjson" hands each request. */
#ifndef MF_LUA_JSON_H
#define MF_LUA_JSON_H

#include <lua.h>

/* Sets up the private instance in a new state. */
void mf_json_open(lua_State *L);
/* Pushes json(value at idx) and returns 0, or pushes an error message and returns -1. */
int mf_json_encode(lua_State *L, int idx);
/* Push the private encode and decode functions (mayfly.json is made of them). */
void mf_json_push_encode(lua_State *L);
void mf_json_push_decode(lua_State *L);
/* Pushes a new instance of lua-cjson (safe = cjson.safe) for one request's require. */
void mf_json_push_new_instance(lua_State *L, int safe); /* may raise */

#endif
