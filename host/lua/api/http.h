/* Private to mayfly._http's two files: http.c (calls and their whole responses) and
 * http_stream.c (responses whose body is read as it arrives). */
#ifndef MF_LUA_API_HTTP_H
#define MF_LUA_API_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "base/options.h"
#include "client/http_client.h"

/* Reads a call from the running C function's arguments 1-8 (method, url, headers, body,
 * timeout, retries, redirects, budget_header) into *call, with the request's id, trace context
 * and deadline. call then points into two userdata this pushes, which must stay on the stack
 * while it is used; the second holds the parsed URL, returned (freed with the userdata, or
 * earlier by mf_http_url_free). Misuse raises. */
mf_http_url_t *mf_lapi_http_read_call(lua_State *L, mf_http_call_t *call); /* may raise */
/* A timeout argument (seconds, or a duration string such as "500ms") in milliseconds; dflt
 * when absent. name is the option's, for the error. */
int64_t mf_lapi_http_timeout_arg(lua_State *L, int idx, int64_t dflt,
                                 const char *name); /* may raise */
/* Pushes a result's header lines as a table (names lower-case, repeats joined with ", "). */
void mf_lapi_http_push_headers(lua_State *L, const char *p, size_t len);
/* How long before the request's deadline a call, or a read of its body, ends: a tenth of
 * MAYFLY_REQUEST_TIMEOUT, at most 100 ms, so the handler can still answer. */
int64_t mf_lapi_http_reserve_ms(const mf_options_t *o);
/* Adds stream, head, read and close (http_stream.c) to the module table on the top of the
 * stack. */
void mf_lapi_http_stream_open(lua_State *L);

#endif
