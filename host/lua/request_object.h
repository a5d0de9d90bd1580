/* The request object a handler receives: method is a field; path, id, params, headers, query,
 * cookies, body, remote_addr and trace are built on first access; req:json(), req:form() and
 * req:multipart() read the body. */
#ifndef MF_LUA_REQUEST_OBJECT_H
#define MF_LUA_REQUEST_OBJECT_H

#include <lua.h>

#include "http/request.h"

/* Registers the object's metatable in a new state. */
void mf_request_object_open(lua_State *L);
/* Pushes the request object of r. */
void mf_request_object_push(lua_State *L, mf_request_t *r); /* may raise */

#endif
