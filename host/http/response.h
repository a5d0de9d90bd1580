/* Responses: a handler's return value turned into an HTTP response, and the host's own JSON
 * error responses. */
#ifndef MF_RESPONSE_H
#define MF_RESPONSE_H

#include <stddef.h>

#include <lua.h>

struct MHD_Response;

/* A response before it becomes an HTTP one, so that mayfly test can read it back in-process.
 * The strings point into values on L's stack (body, headers) or static text (ctype), valid
 * until the stack is reset. */
typedef struct {
    int status;
    const char *body;
    size_t body_len;
    const char *ctype; /* Content-Type to add, NULL when a header sets one or there is no body */
    int nheaders;      /* name/value pairs, read with mf_response_header */
    /* private */
    lua_State *L;
    int headers_idx;
} mf_response_t;

/* The C function a run calls on its handler's result (argument 1), inside the run: checks it
 * and returns status, body (or nil), the host's Content-Type to add (0: none, 1: text, 2: JSON),
 * the header array (or nil): plain values the host made. Raises "invalid response: ..." on a result it cannot send. */
int mf_response_read_lua(lua_State *L); /* may raise */

/* Reads what mf_response_read_lua returned, at base..base+3 of L, into out without running any
 * Lua; out points into those values. */
void mf_response_from_stack(lua_State *L, int base, mf_response_t *out);

/* Header i (0-based, below r->nheaders): a validated name and value. */
void mf_response_header(const mf_response_t *r, int i, const char **name, const char **value);

/* The libmicrohttpd response for r, or NULL with the reason in err. */
struct MHD_Response *mf_response_to_mhd(const mf_response_t *r, char *err, size_t errlen);

/* The JSON text of an error body (malloc'd, the caller frees it). */
char *mf_response_error_json(const char *message, const char *request_id, size_t *len);

/* {"error": message, "request_id": id} with Content-Type application/json. request_id may be
 * NULL. Never returns NULL (allocation failure aborts). */
struct MHD_Response *mf_response_error(const char *message, const char *request_id);

/* 1 when name is an HTTP token and value holds no CR, LF, NUL or other control byte but tab. */
int mf_response_header_ok(const char *name, size_t name_len, const char *value, size_t value_len);

#endif
