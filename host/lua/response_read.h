/* A handler's result read into a response (http/response.h), in two steps so that no script
 * code runs outside the run: mf_response_read_lua checks the result inside the run and leaves
 * plain values the host made; mf_response_from_stack reads those after the run, raw. */
#ifndef MF_LUA_RESPONSE_READ_H
#define MF_LUA_RESPONSE_READ_H

#include <lua.h>

#include "http/response.h"

/* The C function a run calls on its handler's result (argument 1), inside the run: checks it
 * and returns status, body (or nil), the host's Content-Type to add (0: none, 1: text, 2: JSON)
 * and the header array (or nil). Raises "invalid response: ..." on a result it cannot send. */
int mf_response_read_lua(lua_State *L); /* may raise */
/* Reads what mf_response_read_lua returned, at base..base+3 of L, into out without running any
 * Lua; out points into those values, valid while they stay on L's stack. */
void mf_response_from_stack(lua_State *L, int base, mf_response_t *out);

#endif
