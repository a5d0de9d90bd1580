/* mayfly._http: the primitive behind mayfly.http (stdlib/mayfly/http.lua). It checks what must
 * never reach the wire (schemes, header names and values), adds the request id and trace context
 * of the incoming request, bounds the call by the request's remaining time, and makes it with
 * the worker's client (client/). Responses read as they arrive are http_stream.c's. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/syntax.h"
#include "client/http_client.h"
#include "lua/api/api.h"
#include "lua/api/http.h"
#include "lua/binding.h"

#define MAX_HEADERS 100
#define MAX_REDIRECTS 10
#define MAX_RETRIES 10
/* A call ends this much before the request's deadline, so the handler can still answer with
 * the call's error instead of being cut off itself: a tenth of MAYFLY_REQUEST_TIMEOUT, at most
 * 100 ms. */
#define RESERVE_MAX_MS 100

static char client_key, call_box_key;

typedef struct {
    mf_http_client_t *client;
} client_box_t;

static int client_gc(lua_State *L)
{
    client_box_t *b = lua_touserdata(L, 1);
    mf_http_client_free(b->client);
    b->client = NULL;
    return 0;
}

static mf_http_client_t *get_client(lua_State *L)
{
    lua_pushlightuserdata(L, &client_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    client_box_t *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return b->client;
}

/* A call's URL and result, held by a userdata until the call's values are pushed, so that a raise
 * (out of memory) frees them. */
typedef struct {
    mf_http_url_t url;
    mf_http_result_t res;
} call_box_t;

static void call_box_free(call_box_t *box)
{
    mf_http_url_free(&box->url);
    mf_http_result_free(&box->res);
}

static int call_box_gc(lua_State *L)
{
    call_box_free(lua_touserdata(L, 1));
    return 0;
}

/* ---- checks ---- */

static int name_is(const char *name, size_t len, const char *what)
{
    return strlen(what) == len && !strncasecmp(name, what, len);
}

/* Header lines as one userdata: the pointer array, then the "Name: value" strings. */
typedef struct {
    int n;
    size_t used, size;
} lines_t;

static void add_line(lines_t *ls, char **ptrs, char *text, const char *name, size_t nl,
                     const char *value, size_t vl)
{
    char *p = text + ls->used;
    memcpy(p, name, nl);
    p[nl] = ':';
    p[nl + 1] = ' ';
    memcpy(p + nl + 2, value, vl);
    p[nl + 2 + vl] = '\0';
    ptrs[ls->n++] = p;
    ls->used += nl + vl + 3;
}

/* Walks the headers table at idx: checks every name and value (raising on a bad one) when
 * ptrs is NULL, counting lines and bytes into ls; writes the lines otherwise. */
static void walk_headers(lua_State *L, int idx, lines_t *ls, char **ptrs, char *text)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t nl, vl;
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "mayfly.http: header names must be strings");
        const char *name = lua_tolstring(L, -2, &nl);
        if (!ptrs) {
            if (!mf_syntax_http_token(name, nl))
                luaL_error(L, "mayfly.http: '%s' is not a valid header name", name);
            if (name_is(name, nl, "content-length") || name_is(name, nl, "transfer-encoding"))
                luaL_error(L, "mayfly.http: the %s header is set from the body", name);
        }
        int is_list = lua_istable(L, -1);
        int count = is_list ? (int)lua_objlen(L, -1) : 1;
        for (int i = 1; i <= count; i++) {
            if (is_list)
                lua_rawgeti(L, -1, i);
            else
                lua_pushvalue(L, -1);
            int t = lua_type(L, -1);
            if (t != LUA_TSTRING && t != LUA_TNUMBER)
                luaL_error(L, "mayfly.http: header '%s' must be a string, a number or a list",
                           name);
            const char *value = lua_tolstring(L, -1, &vl);
            if (!ptrs) {
                if (!mf_syntax_http_value(value, vl))
                    luaL_error(L,
                               "mayfly.http: header '%s' holds a control character (CR, LF, "
                               "NUL, ...): refused",
                               name);
                if (ls->n >= MAX_HEADERS)
                    luaL_error(L, "mayfly.http: more than %d headers", MAX_HEADERS);
                ls->n++;
                ls->used += nl + vl + 3;
            } else {
                add_line(ls, ptrs, text, name, nl, value, vl);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

static int headers_have(lua_State *L, int idx, const char *name)
{
    int found = 0;
    lua_pushnil(L);
    while (!found && lua_next(L, idx)) {
        size_t nl;
        const char *k = lua_tolstring(L, -2, &nl);
        found = name_is(k, nl, name);
        lua_pop(L, 1);
    }
    if (found)
        lua_pop(L, 1);
    return found;
}

/* The trace context to pass on: this request's span as the parent of the call (W3C), in the
 * caller's trace when it sent a valid traceparent, else in the new trace the request began. */
static const char *outgoing_traceparent(mf_request_t *r)
{
    return r ? mf_request_trace(r)->traceparent : NULL;
}

/* ---- the call ---- */

int64_t mf_lapi_http_timeout_arg(lua_State *L, int idx, int64_t dflt, const char *name)
{
    int64_t ms;
    switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL:
        return dflt;
    case LUA_TNUMBER: {
        double s = lua_tonumber(L, idx);
        if (!(s > 0 && s < 1e9))
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "%s must be a number of seconds above 0", name));
        ms = (int64_t)(s * 1000 + 0.5);
        return ms > 0 ? ms : 1;
    }
    case LUA_TSTRING:
        if (mf_parse_duration_ms(lua_tostring(L, idx), &ms) || ms <= 0)
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "%s must be a duration such as 500ms or 2s", name));
        return ms;
    default:
        return luaL_argerror(L, idx,
                             lua_pushfstring(L, "%s must be seconds or a duration string", name));
    }
}

void mf_lapi_http_push_headers(lua_State *L, const char *p, size_t len)
{
    const char *end = p + len;
    int lines = 0;
    for (const char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++)
        lines++;
    lua_createtable(L, 0, lines);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *colon = memchr(p, ':', (size_t)(nl - p));
        if (colon) {
            lua_pushlstring(L, p, (size_t)(colon - p));
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
            const char *v = colon + 2 <= nl ? colon + 2 : nl;
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(nl - v));
            } else {
                /* Repeated fields combine into one, as the incoming request's do. */
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(nl - v));
                lua_concat(L, 3);
            }
            lua_rawset(L, -3);
        }
        p = nl + 1;
    }
}

/* Pushes a call's outcome: status, headers, body, attempts; or nil, error kind, message. Frees
 * what box holds. */
static int push_results(lua_State *L, call_box_t *box, int rc) /* may raise */
{
    mf_http_result_t *res = &box->res;
    int n;
    if (rc) {
        lua_pushnil(L);
        lua_pushstring(L, mf_http_err_name(res->err));
        lua_pushstring(L, res->message);
        n = 3;
    } else {
        lua_pushinteger(L, res->status);
        mf_lapi_http_push_headers(L, res->headers, res->headers_len);
        lua_pushlstring(L, res->body ? res->body : "", res->body_len);
        lua_pushinteger(L, res->attempts);
        n = 4;
    }
    call_box_free(box);
    return n;
}

/* A handler's call waiting on its worker's loop. */
typedef struct {
    mf_vm_waiter_t waiter;
    call_box_t *box; /* a userdata on the waiting C function's stack */
    int rc;
} waiter_t;

static int push_waited(lua_State *L)
{
    waiter_t *wt = lua_touserdata(L, 1);
    lua_pop(L, 1);
    return push_results(L, wt->box, wt->rc);
}

/* The results are made on the main thread, where running out of memory raises safely, and
 * handed to the run. */
static void on_call_done(void *ud, int rc)
{
    waiter_t *wt = ud;
    lua_State *L = mf_vm_state(mf_vm_run_vm(wt->waiter.run));
    int base = lua_gettop(L);
    wt->rc = rc;
    lua_pushcfunction(L, push_waited);
    lua_pushlightuserdata(L, wt);
    if (lua_pcall(L, 1, LUA_MULTRET, 0)) {
        call_box_free(wt->box);
        lua_pushnil(L);
        lua_pushliteral(L, "io");
        lua_pushvalue(L, -3);
        lua_remove(L, -4);
    }
    mf_vm_wake(wt->waiter, lua_gettop(L) - base);
    free(wt);
}

int64_t mf_lapi_http_reserve_ms(const mf_options_t *o)
{
    int64_t reserve_ms = o->request_timeout_ms / 10;
    return reserve_ms > RESERVE_MAX_MS ? RESERVE_MAX_MS : reserve_ms;
}

mf_http_url_t *mf_lapi_http_read_call(lua_State *L, mf_http_call_t *out) /* may raise */
{
    mf_vm_t *vm = mf_vm_of(L);
    const mf_options_t *o = mf_vm_options(vm);
    mf_request_t *r = mf_vm_request(vm);
    char err[256];
    size_t len;

    const char *method = luaL_checklstring(L, 1, &len);
    if (!mf_syntax_http_token(method, len))
        luaL_argerror(L, 1, "method must be an HTTP token such as GET");
    const char *url = luaL_checkstring(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    else {
        lua_newtable(L);
        lua_replace(L, 3);
    }
    const char *body = luaL_optlstring(L, 4, NULL, &len);
    mf_http_call_t call = {.method = method, .body = body, .body_len = body ? len : 0};
    call.timeout_ms = mf_lapi_http_timeout_arg(L, 5, o->http_timeout_ms, "timeout");
    call.retries = (int)luaL_optinteger(L, 6, 0);
    if (call.retries < 0 || call.retries > MAX_RETRIES)
        luaL_argerror(L, 6, "retries must be from 0 to 10");
    call.max_redirects = (int)luaL_optinteger(L, 7, 0);
    if (call.max_redirects < 0 || call.max_redirects > MAX_REDIRECTS)
        luaL_argerror(L, 7, "redirects must be from 0 to 10");
    call.budget_header = luaL_optlstring(L, 8, NULL, &len);
    if (call.budget_header && (!mf_syntax_http_token(call.budget_header, len) || len > 64))
        luaL_argerror(L, 8, "budget_header must be a header name (64 characters at most)");

    lines_t ls = {0, 0, 0};
    walk_headers(L, 3, &ls, NULL, NULL);
    /* Propagation: the script's own values win. A traced call's attempts each send their own
     * span as the parent (client/span.c). */
    const char *request_id = r ? mf_request_id(r) : NULL;
    const char *traceparent = outgoing_traceparent(r);
    int add_id = request_id && !headers_have(L, 3, "x-request-id");
    int add_tp = traceparent && !headers_have(L, 3, "traceparent");
    mf_span_t *span = mf_vm_span(L);
    if (span) {
        call.traced = 1;
        call.propagate = add_tp || (!r && !headers_have(L, 3, "traceparent"));
        mf_span_context(span, &call.trace_parent);
        add_tp = 0;
    }
    size_t extra = (add_id ? strlen(request_id) + 16 : 0) + (add_tp ? strlen(traceparent) + 16 : 0);
    size_t nptrs = (size_t)ls.n + 3;
    char **ptrs = lua_newuserdata(L, nptrs * sizeof *ptrs + ls.used + extra);
    char *text = (char *)(ptrs + nptrs);
    ls.n = 0;
    ls.used = 0;
    walk_headers(L, 3, &ls, ptrs, text);
    if (add_id)
        add_line(&ls, ptrs, text, "X-Request-Id", 12, request_id, strlen(request_id));
    if (add_tp)
        add_line(&ls, ptrs, text, "traceparent", 11, traceparent, strlen(traceparent));
    ptrs[ls.n] = NULL;
    call.headers = (const char *const *)ptrs;
    call.request_id = request_id;

    int64_t deadline = mf_vm_deadline_ns(vm);
    if (deadline && o->request_timeout_ms > 0)
        call.deadline_ns = deadline - mf_lapi_http_reserve_ms(o) * 1000000;

    call_box_t *box = lua_newuserdata(L, sizeof *box);
    memset(box, 0, sizeof *box);
    lua_pushlightuserdata(L, &call_box_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    if (mf_http_url_parse(&box->url, url, err, sizeof err))
        luaL_argerror(L, 2, err);
    call.url = &box->url;
    *out = call;
    return &box->url;
}

/* request(method, url, headers, body, timeout, retries, redirects, budget_header): returns
 * status, headers, body, attempts; or nil, error kind, message. Misuse raises. A call from a
 * handler's run that can yield suspends the run meanwhile; elsewhere it blocks. */
static int l_http_request(lua_State *L) /* may raise */
{
    mf_vm_t *vm = mf_vm_of(L);
    const mf_options_t *o = mf_vm_options(vm);
    mf_http_call_t call;
    mf_lapi_http_read_call(L, &call);
    call_box_t *box = lua_touserdata(L, -1);

    mf_vm_run_t *run = mf_vm_run_of(L);
    int rc;
    if (run) {
        waiter_t *wt = mf_xmalloc(sizeof *wt);
        wt->waiter = mf_vm_waiter(run);
        wt->box = box;
        if (mf_http_client_start(mf_http_client_of(mf_vm_loop(vm), o), &call, &box->res,
                                 on_call_done, wt, &rc) == 0)
            return mf_vm_wait(L, run);
        free(wt);
    } else {
        rc = mf_http_client_request(get_client(L), &call, &box->res);
    }
    return push_results(L, box, rc);
}

int luaopen_mayfly_http(lua_State *L)
{
    lua_pushlightuserdata(L, &client_key);
    client_box_t *b = lua_newuserdata(L, sizeof *b);
    b->client = mf_http_client_new(mf_vm_options(mf_vm_of(L)), NULL);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, client_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &call_box_key);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, call_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_rawset(L, LUA_REGISTRYINDEX);

    static const luaL_Reg fns[] = {{"request", l_http_request}, {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    mf_lapi_http_stream_open(L);
    return 1;
}
