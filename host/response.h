/* Responses: a handler's return value turned into an HTTP response, and the host's own JSON
 * error responses. */
#ifndef MF_RESPONSE_H
#define MF_RESPONSE_H

#include <stddef.h>

#include <lua.h>

struct MHD_Response;

/* Registers what mf_response_from_lua needs in a new state. */
void mf_response_open(lua_State *L);

/* Converts the handler result at idx. Returns the response with *status set, or NULL with the
 * reason in err (the caller answers 500). Never raises. */
struct MHD_Response *mf_response_from_lua(lua_State *L, int idx, int *status, char *err,
                                          size_t errlen);

/* {"error": message, "request_id": id} with Content-Type application/json. request_id may be
 * NULL. Never returns NULL (allocation failure aborts). */
struct MHD_Response *mf_response_error(const char *message, const char *request_id);

/* 1 when name is an HTTP token and value holds no CR, LF, NUL or other control byte but tab. */
int mf_response_header_ok(const char *name, size_t name_len, const char *value, size_t value_len);

#endif
