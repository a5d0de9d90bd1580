/* Route matching (router.c): a fixed route set with literals, params, rest matches and several
 * methods per shape, and fuzzed methods and paths. Checks what mf_router_match promises: params
 * point into the path, a 405's Allow list is NUL-terminated and fits, a miss leaves m empty.
 * Input: "METHOD path" (the first space splits; no space: GET). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

static const char *const routes[] = {
    "GET /",
    "GET /hello",
    "POST /hello",
    "GET /users/:id",
    "PUT /users/:id",
    "DELETE /users/:id",
    "GET /users/me",
    "GET /users/:id/posts/:post",
    "GET /files/*",
    "HEAD /files/*",
    "GET /a/:b/c/*",
    "GET /a/b/:c/d",
    "OPTIONS /a/b/c/d",
    "GET /:x/:y/:z",
    "PATCH /x/y/z",
    "GET /static/*",
    "GET /static/index.html",
    "POST /api/v1/items",
    "GET /api/v1/items/:item/tags/*",
};

static mf_router_t *router(void)
{
    static mf_router_t *r;
    char err[128];
    if (r)
        return r;
    r = mf_router_new();
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (mf_router_add(r, routes[i], (void *)(routes + i), NULL, err, sizeof err) != 0)
            abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *space = memchr(s, ' ', size);
    char method[32] = "GET";
    if (space && (size_t)(space - s) < sizeof method) {
        memcpy(method, s, (size_t)(space - s));
        method[space - s] = '\0';
        size -= (size_t)(space - s) + 1;
        s = space + 1;
    }
    /* An exact-size copy, so that a read past the path is caught. */
    char *path = size ? malloc(size) : NULL;
    if (size)
        memcpy(path, s, size);
    char allow[24];
    mf_route_match_t m;
    int rc = mf_router_match(router(), method, path, size, &m, allow, sizeof allow);
    if (strlen(allow) >= sizeof allow)
        abort();
    if (rc == MF_ROUTER_OK) {
        if (!m.handler || !m.route || m.nparams < 0 || m.nparams > MF_ROUTER_MAX_PARAMS)
            abort();
        for (int i = 0; i < m.nparams; i++) {
            const mf_route_param_t *p = &m.params[i];
            if (p->value_len && (p->value < path || p->value + p->value_len > path + size))
                abort();
            if (memchr(p->name, '/', p->name_len))
                abort();
        }
    } else if (m.handler || m.route || m.nparams || (rc == MF_ROUTER_NOT_FOUND && allow[0])) {
        abort();
    }
    free(path);
    return 0;
}
