/* Responses: what a handler answered, as the HTTP layer sends it, and the host's own JSON error
 * responses. */
#ifndef MF_HTTP_RESPONSE_H
#define MF_HTTP_RESPONSE_H

#include <stddef.h>

#include "http/request.h"
#include "http/stream.h"

struct MHD_Response;

#define MF_CTYPE_TEXT "text/plain; charset=utf-8"
#define MF_CTYPE_JSON "application/json"

/* A response before it becomes an HTTP one, so that mayfly test can read it back in-process.
 * Its strings belong to whoever made it (lua/response_read.c: values on a Lua stack), valid
 * while the response is. */
typedef struct mf_response mf_response_t;
struct mf_response {
    int status;
    const char *body;
    size_t body_len;
    const char *ctype; /* Content-Type to add, NULL when a header sets one or there is no body */
    int nheaders;      /* name/value pairs, read with mf_response_header */
    /* The maker's: how header i is found, and where. */
    void (*header)(const mf_response_t *r, int i, const char **name, const char **value);
    void *source;
    int source_slot;
    /* Non-NULL: the body is streamed (body and body_len are not used): the response's sink
     * becomes the stream's consumer. */
    mf_stream_t *stream;
};

/* Header i (0-based, below r->nheaders): a name and value checked when the response was made
 * (mf_syntax_http_header). */
static inline void mf_response_header(const mf_response_t *r, int i, const char **name,
                                      const char **value)
{
    r->header(r, i, name, value);
}

/* The libmicrohttpd response for resp, or NULL with the reason in err. */
struct MHD_Response *mf_response_to_mhd(const mf_response_t *resp, char *err, size_t errlen);
/* The same for request r's response; one the HTTP layer cannot carry becomes a logged 500
 * with r's id (and r->status says so). The caller destroys it. */
struct MHD_Response *mf_response_for_request(mf_request_t *r, const mf_response_t *resp);

/* The JSON text of an error body (malloc'd, the caller frees it). */
char *mf_response_error_json(const char *message, const char *request_id, size_t *len);
/* {"error": message, "request_id": id} with Content-Type application/json. request_id may be
 * NULL. Never returns NULL (allocation failure aborts). */
struct MHD_Response *mf_response_error(const char *message, const char *request_id);

#endif
