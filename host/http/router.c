/* The route table: a trie with one node per path segment. Each node has its literal children
 * (sorted by length then bytes, binary-searched), at most one :param child, at most one '*'
 * child (always a leaf), and the routes that end there, sorted by method. Param names live in
 * the routes, not the nodes, because routes of different methods may share a node while naming
 * its params differently. A flat array of all routes, sorted by path then method, serves
 * mf_router_foreach and mf_router_count. */
#include "http/router.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

typedef struct {
    char *key; /* "METHOD /path", owned */
    const char *path;
    char method[MF_ROUTER_MAX_METHOD + 1];
    void *handler;
    int nparams;
    /* param names as offsets into key (stable across moves of the route struct) */
    uint32_t name_off[MF_ROUTER_MAX_PARAMS];
    uint32_t name_len[MF_ROUTER_MAX_PARAMS];
} route_t;

typedef struct node {
    char *seg; /* literal segment text, owned (NULL for the root, param and '*' nodes) */
    size_t seg_len;
    struct node **lits; /* sorted by (seg_len, memcmp) */
    size_t nlits;
    struct node *param;
    struct node *wild;
    route_t **routes; /* sorted by method; routes are owned by mf_router.all */
    size_t nroutes;
} node_t;

struct mf_router {
    node_t *root;
    route_t **all; /* owned; sorted by path then method */
    size_t nall;
    size_t cap;
};

enum { SEG_LITERAL, SEG_PARAM, SEG_WILD };

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- route key parsing ---- */

/* Returns the length of the segment starting at s (up to '/' or NUL) and its kind. */
static size_t next_seg(const char *s, int *kind)
{
    size_t n = strcspn(s, "/");

    *kind = s[0] == ':' ? SEG_PARAM : s[0] == '*' ? SEG_WILD : SEG_LITERAL;
    return n;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789"

/* Validates key completely and fills rt's method, path and param names, so that insertion
 * never has to undo anything. */
static int parse_key(const char *key, route_t *rt, char *err, size_t errlen)
{
    size_t mlen = 0, n;
    const char *s;
    int kind, segno = 0;

    while (key[mlen] >= 'A' && key[mlen] <= 'Z')
        mlen++;
    if (mlen == 0 || mlen > MF_ROUTER_MAX_METHOD) {
        set_err(err, errlen, "method must be 1 to %d uppercase letters", MF_ROUTER_MAX_METHOD);
        return MF_ROUTER_EINVAL;
    }
    if (key[mlen] != ' ') {
        set_err(err, errlen, "expected one space between method and path");
        return MF_ROUTER_EINVAL;
    }
    memcpy(rt->method, key, mlen);
    rt->method[mlen] = '\0';
    rt->path = key + mlen + 1;
    rt->nparams = 0;
    if (rt->path[0] != '/') {
        set_err(err, errlen, "path must start with '/'");
        return MF_ROUTER_EINVAL;
    }
    if (rt->path[1] == '\0')
        return MF_ROUTER_OK; /* the root */
    for (s = rt->path + 1;; s += n + 1) {
        segno++;
        n = next_seg(s, &kind);
        if (n == 0) {
            set_err(err, errlen, "empty path segment %d (no '//' and no trailing '/')", segno);
            return MF_ROUTER_EINVAL;
        }
        if (kind != SEG_LITERAL && rt->nparams == MF_ROUTER_MAX_PARAMS) {
            set_err(err, errlen, "more than %d parameters", MF_ROUTER_MAX_PARAMS);
            return MF_ROUTER_EINVAL;
        }
        if (kind == SEG_PARAM) {
            if (n < 2 || (s[1] >= '0' && s[1] <= '9') || strspn(s + 1, NAME_CHARS) != n - 1) {
                set_err(err, errlen, "segment %d: parameter name must match [A-Za-z_][A-Za-z0-9_]*",
                        segno);
                return MF_ROUTER_EINVAL;
            }
            rt->name_off[rt->nparams] = (uint32_t)(s + 1 - key);
            rt->name_len[rt->nparams++] = (uint32_t)(n - 1);
        } else if (kind == SEG_WILD) {
            if (n != 1 || s[1] != '\0') {
                set_err(err, errlen, "segment %d: '*' %s", segno,
                        n != 1 ? "must be a whole segment" : "is only allowed as the last segment");
                return MF_ROUTER_EINVAL;
            }
            rt->name_off[rt->nparams] = (uint32_t)(s - key);
            rt->name_len[rt->nparams++] = 1;
        }
        if (s[n] == '\0')
            return MF_ROUTER_OK;
    }
}

/* ---- trie ---- */

/* Binary search for a literal child; *pos gets the insertion point when absent. */
static node_t *find_lit(const node_t *nd, const char *seg, size_t len, size_t *pos)
{
    size_t lo = 0, hi = nd->nlits;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const node_t *c = nd->lits[mid];
        int cmp = len != c->seg_len ? (len < c->seg_len ? -1 : 1) : memcmp(seg, c->seg, len);

        if (cmp == 0)
            return nd->lits[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

static node_t *child_for(node_t *nd, const char *seg, size_t len, int kind)
{
    node_t *c;
    size_t pos;

    if (kind == SEG_PARAM)
        return nd->param ? nd->param : (nd->param = mf_xcalloc(1, sizeof(node_t)));
    if (kind == SEG_WILD)
        return nd->wild ? nd->wild : (nd->wild = mf_xcalloc(1, sizeof(node_t)));
    c = find_lit(nd, seg, len, &pos);
    if (c)
        return c;
    c = mf_xcalloc(1, sizeof(node_t));
    c->seg = mf_xstrndup(seg, len);
    c->seg_len = len;
    nd->lits = mf_xrealloc(nd->lits, (nd->nlits + 1) * sizeof(node_t *));
    memmove(nd->lits + pos + 1, nd->lits + pos, (nd->nlits - pos) * sizeof(node_t *));
    nd->lits[pos] = c;
    nd->nlits++;
    return c;
}

/* The node where a validated route's path ends, created as needed. */
static node_t *node_for(mf_router_t *r, const char *path)
{
    node_t *nd = r->root;
    const char *s;
    size_t n;
    int kind;

    if (path[1] == '\0')
        return nd;
    for (s = path + 1;; s += n + 1) {
        n = next_seg(s, &kind);
        nd = child_for(nd, s, n, kind);
        if (s[n] == '\0')
            return nd;
    }
}

static route_t *find_method(const node_t *nd, const char *method)
{
    size_t i;

    for (i = 0; i < nd->nroutes; i++)
        if (strcmp(nd->routes[i]->method, method) == 0)
            return nd->routes[i];
    return NULL;
}

static void free_node(node_t *nd)
{
    size_t i;

    if (!nd)
        return;
    for (i = 0; i < nd->nlits; i++)
        free_node(nd->lits[i]);
    free_node(nd->param);
    free_node(nd->wild);
    free(nd->lits);
    free(nd->routes);
    free(nd->seg);
    free(nd);
}

/* ---- public: building ---- */

mf_router_t *mf_router_new(void)
{
    mf_router_t *r = mf_xcalloc(1, sizeof(*r));

    r->root = mf_xcalloc(1, sizeof(node_t));
    return r;
}

void mf_router_free(mf_router_t *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->nall; i++) {
        free(r->all[i]->key);
        free(r->all[i]);
    }
    free(r->all);
    free_node(r->root);
    free(r);
}

static int route_order(const route_t *a, const route_t *b)
{
    int c = strcmp(a->path, b->path);

    return c ? c : strcmp(a->method, b->method);
}

int mf_router_add(mf_router_t *r, const char *route_key, void *handler, void **conflict, char *err,
                  size_t errlen)
{
    route_t tmp, *rt, *old;
    node_t *nd;
    size_t pos;
    int rc;

    memset(&tmp, 0, sizeof(tmp));
    if (conflict)
        *conflict = NULL;
    rc = parse_key(route_key, &tmp, err, errlen);
    if (rc != MF_ROUTER_OK)
        goto fail;
    /* A conflict means the whole shape already exists, so node_for creates nothing then. */
    nd = node_for(r, tmp.path);
    old = find_method(nd, tmp.method);
    if (old) {
        if (conflict)
            *conflict = old->handler;
        set_err(err, errlen, "conflicts with route \"%s\"", old->key);
        rc = MF_ROUTER_ECONFLICT;
        goto fail;
    }

    rt = mf_xmalloc(sizeof(*rt));
    *rt = tmp;
    rt->key = mf_xstrdup(route_key);
    rt->path = rt->key + (tmp.path - route_key);
    rt->handler = handler;

    for (pos = 0; pos < nd->nroutes && strcmp(nd->routes[pos]->method, rt->method) < 0; pos++)
        ;
    nd->routes = mf_xrealloc(nd->routes, (nd->nroutes + 1) * sizeof(route_t *));
    memmove(nd->routes + pos + 1, nd->routes + pos, (nd->nroutes - pos) * sizeof(route_t *));
    nd->routes[pos] = rt;
    nd->nroutes++;

    if (r->nall == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->all = mf_xrealloc(r->all, r->cap * sizeof(route_t *));
    }
    for (pos = r->nall; pos > 0 && route_order(r->all[pos - 1], rt) > 0; pos--)
        r->all[pos] = r->all[pos - 1];
    r->all[pos] = rt;
    r->nall++;
    return MF_ROUTER_OK;

fail:
    return rc;
}

/* ---- public: matching ---- */

typedef struct {
    const char *method;
    int is_head;
    const route_t *found;
    const node_t *first; /* highest-priority node whose shape matched, for the Allow header */
    int nvals;
    const char *val[MF_ROUTER_MAX_PARAMS];
    size_t val_len[MF_ROUTER_MAX_PARAMS];
} search_t;

/* A node whose shape matched the whole path: take its route for the method, if any. */
static int try_node(search_t *st, const node_t *nd)
{
    const route_t *rt;

    if (nd->nroutes == 0)
        return 0;
    rt = find_method(nd, st->method);
    if (!rt && st->is_head)
        rt = find_method(nd, "GET");
    if (rt) {
        st->found = rt;
        return 1;
    }
    if (!st->first)
        st->first = nd;
    return 0;
}

static int push_val(search_t *st, const char *v, size_t len)
{
    /* Cannot overflow for validated routes; checked so a corrupt trie cannot write past. */
    if (st->nvals == MF_ROUTER_MAX_PARAMS)
        return 0;
    st->val[st->nvals] = v;
    st->val_len[st->nvals++] = len;
    return 1;
}

/* Depth-first in priority order (literal, :param, '*'); stops at the first shape that has a
 * route for the method. Recursion depth is bounded by the trie's depth, not the path's. */
static int search(search_t *st, const node_t *nd, const char *p, const char *end)
{
    const char *q;
    const node_t *lit;

    while (p < end && *p == '/')
        p++;
    if (p == end) {
        if (try_node(st, nd))
            return 1;
        if (nd->wild && push_val(st, p, 0)) {
            if (try_node(st, nd->wild))
                return 1;
            st->nvals--;
        }
        return 0;
    }
    q = memchr(p, '/', (size_t)(end - p));
    if (!q)
        q = end;
    lit = nd->nlits ? find_lit(nd, p, (size_t)(q - p), NULL) : NULL;
    if (lit && search(st, lit, q, end))
        return 1;
    if (nd->param && push_val(st, p, (size_t)(q - p))) {
        if (search(st, nd->param, q, end))
            return 1;
        st->nvals--;
    }
    if (nd->wild && push_val(st, p, (size_t)(end - p))) {
        if (try_node(st, nd->wild))
            return 1;
        st->nvals--;
    }
    return 0;
}

/* Appends name to the Allow list in buf; whole names only: once one does not fit, the rest is
 * dropped too, so a short buffer yields a shorter list, never a cut method. */
static void allow_add(char *buf, size_t len, size_t *used, const char *name)
{
    size_t sep = *used ? 2 : 0, n = strlen(name);

    if (*used >= len || *used + sep + n >= len) {
        *used = len;
        return;
    }
    memcpy(buf + *used, ", ", sep);
    memcpy(buf + *used + sep, name, n + 1);
    *used += sep + n;
}

/* The node's methods (sorted already) plus HEAD where GET serves it. */
static void format_allow(const node_t *nd, char *buf, size_t len)
{
    size_t i, used = 0;
    int add_head = find_method(nd, "GET") && !find_method(nd, "HEAD");

    buf[0] = '\0';
    for (i = 0; i < nd->nroutes; i++) {
        if (add_head && strcmp(nd->routes[i]->method, "HEAD") > 0) {
            allow_add(buf, len, &used, "HEAD");
            add_head = 0;
        }
        allow_add(buf, len, &used, nd->routes[i]->method);
    }
    if (add_head)
        allow_add(buf, len, &used, "HEAD");
}

int mf_router_match(const mf_router_t *r, const char *method, const char *path, size_t path_len,
                    mf_route_match_t *m, char *allow, size_t allow_len)
{
    search_t st = {.method = method, .is_head = strcmp(method, "HEAD") == 0};
    int i;

    m->handler = NULL;
    m->route = NULL;
    m->nparams = 0;
    if (allow && allow_len)
        allow[0] = '\0';
    if (!path)
        path = ""; /* so that path + path_len is defined */

    if (!search(&st, r->root, path, path + path_len)) {
        if (!st.first)
            return MF_ROUTER_NOT_FOUND;
        if (allow && allow_len)
            format_allow(st.first, allow, allow_len);
        return MF_ROUTER_METHOD_NOT_ALLOWED;
    }
    m->handler = st.found->handler;
    m->route = st.found->key;
    m->nparams = st.found->nparams;
    for (i = 0; i < st.found->nparams; i++) {
        m->params[i].name = st.found->key + st.found->name_off[i];
        m->params[i].name_len = st.found->name_len[i];
        m->params[i].value = st.val[i];
        m->params[i].value_len = st.val_len[i];
    }
    return MF_ROUTER_OK;
}

/* ---- public: listing ---- */

void mf_router_foreach(const mf_router_t *r, void (*fn)(void *ud, const char *route, void *handler),
                       void *ud)
{
    size_t i;

    for (i = 0; i < r->nall; i++)
        fn(ud, r->all[i]->key, r->all[i]->handler);
}

size_t mf_router_count(const mf_router_t *r)
{
    return r->nall;
}
