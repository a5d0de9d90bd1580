/* The route table: maps "METHOD /path" keys from Lua scripts to opaque handlers.
 *
 * Route key syntax: METHOD (1..20 uppercase ASCII letters), exactly one space, then a path that
 * starts with '/'. The path is "/" (the root) or '/'-separated non-empty segments, each one of:
 *   literal   any bytes except '/', not starting with ':' or '*'; matched byte-exact
 *   :name     a parameter, name = [A-Za-z_][A-Za-z0-9_]*; matches one non-empty segment
 *   *         the rest (last segment only); matches zero or more remaining segments and is
 *             delivered as a parameter named "*": the raw remainder after the slashes that
 *             precede it, trailing slashes kept (pattern s + rest, path "/s//a//b/": "a//b/")
 * At most MF_ROUTER_MAX_PARAMS parameters per route, the '*' included.
 *
 * Two routes conflict when they have the same method and the same shape (same literals, params
 * and '*' at the same positions; param names do not matter).
 *
 * Matching walks the request path segment by segment (empty segments are skipped, nothing is
 * percent-decoded) preferring literal > :param > * at each segment, backtracking until a shape
 * with a route for the method is found; an exact node beats '*' matching an empty rest. A HEAD
 * request takes a shape's HEAD route, else its GET route, shape by shape in that order.
 *
 * Not thread-safe for writes; concurrent mf_router_match calls on a router nobody modifies are
 * safe. Matching never allocates.
 */
#ifndef MF_HTTP_ROUTER_H
#define MF_HTTP_ROUTER_H

#include <stddef.h>

#define MF_ROUTER_MAX_PARAMS 16
#define MF_ROUTER_MAX_METHOD 20

enum {
    MF_ROUTER_OK = 0,
    MF_ROUTER_NOT_FOUND = -1,
    MF_ROUTER_METHOD_NOT_ALLOWED = -2,
    MF_ROUTER_EINVAL = -3,
    MF_ROUTER_ECONFLICT = -4,
};

typedef struct mf_router mf_router_t;

/* name points into router-owned memory (valid until mf_router_free); value points into the
 * caller's path buffer, raw (not decoded, not NUL-terminated). Neither is NUL-terminated. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} mf_route_param_t;

typedef struct {
    void *handler;     /* as given to mf_router_add */
    const char *route; /* the route key as registered; router-owned, NUL-terminated */
    int nparams;       /* params in pattern order, '*' (if any) last */
    mf_route_param_t params[MF_ROUTER_MAX_PARAMS];
} mf_route_match_t;

/* Never returns NULL (allocation failure aborts). */
mf_router_t *mf_router_new(void);

/* Frees the router and every string it copied; handlers are the caller's. NULL is a no-op. */
void mf_router_free(mf_router_t *r);

/* Registers handler under route_key (copied). Returns MF_ROUTER_OK, MF_ROUTER_EINVAL (syntax;
 * err gets a one-line reason) or MF_ROUTER_ECONFLICT (*conflict gets the handler registered
 * earlier for the same method and shape, err names its key). On error the router is unchanged.
 * conflict and err may be NULL; *conflict is set to NULL when there is no conflict. */
int mf_router_add(mf_router_t *r, const char *route_key, void *handler, void **conflict, char *err,
                  size_t errlen);

/* Matches a request. method is NUL-terminated and compared exactly; path is path_len raw bytes
 * without the query string (may be NULL when path_len is 0). Returns:
 *   MF_ROUTER_OK                  *m filled; param values point into path
 *   MF_ROUTER_METHOD_NOT_ALLOWED  some shape matches but none has a route for method; allow
 *                                 gets the Allow header value of the highest-priority matching
 *                                 shape, e.g. "GET, HEAD, POST"; a short buffer gets the
 *                                 leading methods that fit whole
 *   MF_ROUTER_NOT_FOUND           no shape matches
 * allow may be NULL; otherwise it is always NUL-terminated ("" unless 405). On failure
 * m->handler and m->route are NULL and m->nparams is 0. */
int mf_router_match(const mf_router_t *r, const char *method, const char *path, size_t path_len,
                    mf_route_match_t *m, char *allow, size_t allow_len);

/* Calls fn for every route, ordered by path (bytewise) then method. fn must not modify r. */
void mf_router_foreach(const mf_router_t *r, void (*fn)(void *ud, const char *route, void *handler),
                       void *ud);

size_t mf_router_count(const mf_router_t *r);

#endif
