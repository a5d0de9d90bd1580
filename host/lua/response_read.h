/* A handler's result read into a response (http/response.h), in two steps so that no script
 * code runs outside the run: mf_response_read_lua checks the result inside the run and leaves
 * plain values the host made; mf_response_from_stack reads those after the run, raw. */
#ifndef MF_LUA_RESPONSE_READ_H
#define MF_LUA_RESPONSE_READ_H

#include <lua.h>

#include "http/response.h"

/* The C function a run calls on its handler's result (argument 1), inside the run: checks it
 * and returns status, body (or nil), the host's Content-Type to add (0: none, 1: text, 2: JSON)
 * and the header array (or nil). Raises "invalid response: ..." on a result it cannot send;
 * arguments 2 and 3, when given, name a middleware's result in that message ("after",
 * "users.lua"). */
int mf_response_read_lua(lua_State *L); /* may raise */
/* The C function a run calls, inside the run, on a result (arguments as mf_response_read_lua's)
 * that middleware's `after` is to see: checks it as mf_response_read_lua does and returns it as
 * a new table {status=, headers=, body= or json=}: status always set, headers a table (names
 * lower-cased, repeated names an array of their values, values strings, Content-Length and
 * Transfer-Encoding left out), json= as the result held it (not encoded), body= a string or
 * absent. */
int mf_response_table_lua(lua_State *L); /* may raise */
/* Reads what mf_response_read_lua returned, at base..base+3 of L, into out without running any
 * Lua; out points into those values, valid while they stay on L's stack. */
void mf_response_from_stack(lua_State *L, int base, mf_response_t *out);

#endif
