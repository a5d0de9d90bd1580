/* Errors a handler (or a host function on its behalf) raises to be answered with a status of
 * their own instead of 500: {status=, message=} with a metatable only the host has. */
#ifndef MF_LUA_HTTP_ERROR_H
#define MF_LUA_HTTP_ERROR_H

#include <lua.h>

/* Registers the errors' metatable in a new state. */
void mf_http_error_open(lua_State *L);
/* Raises an error that the host answers with `status` and `message`. */
int mf_http_error_raise(lua_State *L, int status, const char *message); /* raises */
/* When the value at idx is such an error, returns its status and points *message at its text
 * (valid while the value is on the stack); returns 0 otherwise. Runs no script code. */
int mf_http_error_status(lua_State *L, int idx, const char **message);

#endif
