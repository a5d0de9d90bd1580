/* CORS answered by the host (MAYFLY_CORS_*): the policy is read once at start-up; per request
 * it says whether a request is a preflight, whether its origin is allowed and which headers the
 * response carries. Pure functions: the caller reads the request's headers and adds the ones
 * given back. docs/cors.md is the contract. */
#ifndef MF_CORS_H
#define MF_CORS_H

#include <stddef.h>

#include "base/options.h"

typedef struct mf_cors mf_cors_t;

/* The policy of o's MAYFLY_CORS_* settings in *out, NULL when CORS is off (no origins). Returns
 * 0, or -1 with a message naming the setting (mf_options_load has refused the same already).
 * The caller owns the policy: mf_cors_free. */
int mf_cors_new(const mf_options_t *o, mf_cors_t **out, char *err, size_t errlen);
void mf_cors_free(mf_cors_t *c);

/* Whether origin (an Origin header's value) is one the policy allows. */
int mf_cors_allowed(const mf_cors_t *c, const char *origin);

/* A preflight: OPTIONS with an Origin and an Access-Control-Request-Method (either NULL when
 * absent). An OPTIONS without them is a request like any other and goes to the routes. */
int mf_cors_is_preflight(const char *method, const char *origin, const char *request_method);

#define MF_CORS_MAX_HEADERS 6

/* Headers to add to a response. Values point into the policy or into the strings given to the
 * call that filled it: add them before those change. */
typedef struct {
    int n;
    struct {
        const char *name, *value;
    } h[MF_CORS_MAX_HEADERS];
} mf_cors_headers_t;

/* The headers of the 204 that answers a preflight from origin asking for request_method and
 * request_headers (Access-Control-Request-Headers, NULL when absent). An origin not allowed
 * gets only Vary. */
void mf_cors_preflight(const mf_cors_t *c, const char *origin, const char *request_method,
                       const char *request_headers, mf_cors_headers_t *out);

/* The headers of any other response to a request with origin (NULL when it had none). */
void mf_cors_response(const mf_cors_t *c, const char *origin, mf_cors_headers_t *out);

#endif
