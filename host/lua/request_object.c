/* The request object handlers receive. Every field but method is built on first access, so a
 * handler pays only for what it reads. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <microhttpd.h>

#include "lua/request_object.h"

#include "base/syntax.h"
#include "http/cookie.h"
#include "http/form.h"
#include "lua/binding.h"
#include "lua/http_error.h"
#include "lua/json.h"

/* ---- percent-decoding ---- */

/* Pushes s decoded: %XX escapes (invalid ones kept as they are) and, when plus is set, '+' as
 * space (the form encoding of query strings). */
static void push_decoded(lua_State *L, const char *s, size_t len, int plus)
{
    if (!memchr(s, '%', len) && !(plus && memchr(s, '+', len))) {
        lua_pushlstring(L, s, len);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < len && (h = mf_syntax_hex_digit((unsigned char)s[i + 1])) >= 0 &&
            (l = mf_syntax_hex_digit((unsigned char)s[i + 2])) >= 0) {
            luaL_addchar(&b, (char)(h * 16 + l));
            i += 2;
        } else if (plus && s[i] == '+') {
            luaL_addchar(&b, ' ');
        } else {
            luaL_addchar(&b, s[i]);
        }
    }
    luaL_pushresult(&b);
}

/* ---- lazily built fields ---- */

/* Pushes a table of the pairs of a query string or a form body (application/x-www-form-urlencoded):
 * decoded, '+' as space; a key without '=' is true; a repeated key gives an array of its values
 * in order; an empty key is dropped. */
static void push_pairs(lua_State *L, const char *p, size_t len)
{
    lua_newtable(L);
    const char *end = p ? p + len : NULL;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        if (kend > p) {
            push_decoded(L, p, (size_t)(kend - p), 1);
            if (eq)
                push_decoded(L, eq + 1, (size_t)(stop - eq - 1), 1);
            else
                lua_pushboolean(L, 1);
            /* A repeated key collects its values in order into an array. */
            lua_pushvalue(L, -2);
            lua_rawget(L, -4);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_rawset(L, -3);
            } else {
                if (lua_type(L, -1) != LUA_TTABLE) {
                    lua_createtable(L, 2, 0);
                    lua_insert(L, -2);
                    lua_rawseti(L, -2, 1);
                    lua_pushvalue(L, -3);
                    lua_pushvalue(L, -2);
                    lua_rawset(L, -6);
                }
                lua_insert(L, -2);
                lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
                lua_pop(L, 2);
            }
        }
        p = stop + 1;
    }
}

/* Cookie headers, in the order received (a client may split its cookies over several, as
 * HTTP/2 allows): the first value of a name wins, as RFC 6265 orders the longer path first. */
static void add_cookies(lua_State *L, const char *header)
{
    const char *p = header, *end = header + strlen(header);
    mf_cookie_t c;
    while (mf_cookie_next(&p, end, &c)) {
        lua_pushlstring(L, c.name, c.name_len);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, c.value, c.value_len);
            lua_rawset(L, -3);
        } else {
            lua_pop(L, 2);
        }
    }
}

static enum MHD_Result on_cookie_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    if (value && !strcasecmp(key, "cookie"))
        add_cookies(cls, value);
    return MHD_YES;
}

static void push_cookies(lua_State *L, mf_request_t *r)
{
    lua_newtable(L);
    if (r->conn)
        MHD_get_connection_values(r->conn, MHD_HEADER_KIND, on_cookie_header, L);
    for (const char *const *f = r->fields; f && f[0]; f += 2)
        on_cookie_header(L, MHD_HEADER_KIND, f[0], f[1]);
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    lua_State *L = cls;
    char lower[256];
    size_t n = strlen(key);
    (void)kind;
    if (n == 0 || n >= sizeof lower)
        return MHD_YES;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)key[i]);
    lua_pushlstring(L, lower, n);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushstring(L, value ? value : "");
    } else if (n == 6 && !memcmp(lower, "cookie", 6)) {
        lua_pushliteral(L, "; "); /* Cookie's own separator (RFC 9113, 8.2.3) */
        lua_pushstring(L, value ? value : "");
        lua_concat(L, 3);
    } else {
        /* Repeated fields combine into one, comma separated (RFC 9110, 5.3). */
        lua_pushliteral(L, ", ");
        lua_pushstring(L, value ? value : "");
        lua_concat(L, 3);
    }
    lua_rawset(L, -3);
    return MHD_YES;
}

static void push_remote_addr(lua_State *L, mf_request_t *r)
{
    char buf[MF_REQUEST_ADDR_MAX];
    lua_pushstring(L, mf_request_client_address(r, buf));
}

/* req.trace: the W3C trace context of the request; traceparent is the value to send on to
 * downstream calls (this request's span as their parent). tracestate is passed on only with a
 * valid traceparent, as the spec asks. */
static void push_trace(lua_State *L, mf_request_t *r)
{
    const mf_trace_t *t = mf_request_trace(r);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, t->trace_id);
    lua_setfield(L, -2, "trace_id");
    lua_pushstring(L, t->span_id);
    lua_setfield(L, -2, "span_id");
    if (t->parent_id[0]) {
        lua_pushstring(L, t->parent_id);
        lua_setfield(L, -2, "parent_id");
        const char *state = mf_request_header(r, "tracestate");
        if (state && mf_trace_state_ok(state)) {
            lua_pushstring(L, state);
            lua_setfield(L, -2, "tracestate");
        }
    }
    lua_pushboolean(L, t->sampled);
    lua_setfield(L, -2, "sampled");
    lua_pushstring(L, t->traceparent);
    lua_setfield(L, -2, "traceparent");
}

static int l_request_json(lua_State *L)
{
    mf_request_t *r = mf_vm_request_of(L, 1);
    if (!r)
        return luaL_error(L, "mayfly: req:json() called outside of its request");
    if (!r->body.len)
        return mf_http_error_raise(L, 400, "request body is empty; expected JSON");
    mf_json_push_decode(L);
    lua_pushlstring(L, r->body.data, r->body.len);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        lua_pushfstring(L, "request body is not valid JSON: %s", lua_tostring(L, -1));
        return mf_http_error_raise(L, 400, lua_tostring(L, -1));
    }
    return 1;
}

static int l_request_form(lua_State *L)
{
    mf_request_t *r = mf_vm_request_of(L, 1);
    if (!r)
        return luaL_error(L, "mayfly: req:form() called outside of its request");
    if (!mf_form_media_type_is(mf_request_header(r, "content-type"),
                               "application/x-www-form-urlencoded"))
        return mf_http_error_raise(
            L, 400, "request body is not a form: expected application/x-www-form-urlencoded");
    push_pairs(L, r->body.data ? r->body.data : "", r->body.len);
    return 1;
}

static void push_lower(lua_State *L, const char *s, size_t len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++)
        luaL_addchar(&b, (char)tolower((unsigned char)s[i]));
    luaL_pushresult(&b);
}

/* Appends {name=, filename=, content_type=, headers=, body=} to the list on top. */
static void on_part(void *ctx, const mf_form_part_t *part)
{
    lua_State *L = ctx;
    lua_createtable(L, 0, 5);
    lua_pushlstring(L, part->name, part->name_len);
    lua_setfield(L, -2, "name");
    if (part->filename) {
        lua_pushlstring(L, part->filename, part->filename_len);
        lua_setfield(L, -2, "filename");
    }
    if (part->content_type) {
        lua_pushlstring(L, part->content_type, part->content_type_len);
        lua_setfield(L, -2, "content_type");
    }
    lua_createtable(L, 0, part->nheaders);
    for (int i = 0; i < part->nheaders; i++) {
        const mf_form_header_t *h = &part->headers[i];
        push_lower(L, h->name, h->name_len);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, h->value, h->value_len);
        } else {
            lua_pushliteral(L, ", "); /* as req.headers joins repeated fields */
            lua_pushlstring(L, h->value, h->value_len);
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, part->body, part->body_len);
    lua_setfield(L, -2, "body");
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
}

static int l_request_multipart(lua_State *L)
{
    mf_request_t *r = mf_vm_request_of(L, 1);
    if (!r)
        return luaL_error(L, "mayfly: req:multipart() called outside of its request");
    const char *type = mf_request_header(r, "content-type"), *boundary, *err;
    size_t boundary_len;
    if (!mf_form_media_type_is(type, "multipart/form-data"))
        return mf_http_error_raise(L, 400,
                                   "request body is not multipart: expected multipart/form-data");
    if (mf_form_boundary(type, &boundary, &boundary_len))
        return mf_http_error_raise(L, 400,
                                   "multipart/form-data without a valid boundary parameter");
    lua_newtable(L);
    if (mf_form_multipart_parse(r->body.data ? r->body.data : "", r->body.len, boundary,
                                boundary_len, on_part, L, &err)) {
        lua_pushfstring(L, "request body is not valid multipart/form-data: %s", err);
        return mf_http_error_raise(L, 400, lua_tostring(L, -1));
    }
    return 1;
}

/* The names l_request_index answers: the methods first, then the fields it builds. */
enum {
    F_JSON,
    F_FORM,
    F_MULTIPART,
    F_PATH,
    F_ID,
    F_PARAMS,
    F_HEADERS,
    F_QUERY,
    F_BODY,
    F_REMOTE_ADDR,
    F_TRACE,
    F_COOKIES,
    F_NONE
};

/* By length first: most reads are of one name, found without a string compare per name. */
static int field_of(const char *k, size_t len)
{
    static const struct {
        const char *name;
        size_t len;
    } names[F_NONE] = {
        [F_JSON] = {"json", 4},
        [F_FORM] = {"form", 4},
        [F_MULTIPART] = {"multipart", 9},
        [F_PATH] = {"path", 4},
        [F_ID] = {"id", 2},
        [F_PARAMS] = {"params", 6},
        [F_HEADERS] = {"headers", 7},
        [F_QUERY] = {"query", 5},
        [F_BODY] = {"body", 4},
        [F_REMOTE_ADDR] = {"remote_addr", 11},
        [F_TRACE] = {"trace", 5},
        [F_COOKIES] = {"cookies", 7},
    };
    for (int i = 0; i < F_NONE; i++)
        if (names[i].len == len && !memcmp(names[i].name, k, len))
            return i;
    return F_NONE;
}

static int l_request_index(lua_State *L)
{
    mf_request_t *r = mf_vm_request_of(L, 1);
    size_t len;
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    const char *k = lua_tolstring(L, 2, &len);
    int field = field_of(k, len);
    if (field == F_JSON) {
        mf_vm_push_ref(L, MF_REF_REQUEST_JSON);
        return 1;
    }
    if (field == F_FORM || field == F_MULTIPART) {
        lua_pushcfunction(L, field == F_FORM ? l_request_form : l_request_multipart);
        return 1;
    }
    if (!r)
        return luaL_error(L, "mayfly: req.%s read outside of its request", k);
    if (field == F_NONE)
        return 0;
    if (field == F_PATH) {
        lua_pushlstring(L, r->target, r->path_len);
    } else if (field == F_ID) {
        lua_pushstring(L, mf_request_id(r));
    } else if (field == F_PARAMS) {
        lua_createtable(L, 0, r->match.nparams);
        for (int i = 0; i < r->match.nparams; i++) {
            const mf_route_param_t *p = &r->match.params[i];
            lua_pushlstring(L, p->name, p->name_len);
            push_decoded(L, p->value, p->value_len, 0);
            lua_rawset(L, -3);
        }
    } else if (field == F_HEADERS) {
        lua_newtable(L);
        if (r->conn)
            MHD_get_connection_values(r->conn, MHD_HEADER_KIND, on_header, L);
        for (const char *const *f = r->fields; f && f[0]; f += 2)
            on_header(L, MHD_HEADER_KIND, f[0], f[1]);
    } else if (field == F_QUERY) {
        push_pairs(L, r->query, r->query_len);
    } else if (field == F_BODY) {
        lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
    } else if (field == F_REMOTE_ADDR) {
        push_remote_addr(L, r);
    } else if (field == F_TRACE) {
        push_trace(L, r);
    } else {
        push_cookies(L, r);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

void mf_request_object_open(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_request_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "mayfly: request");
    lua_setfield(L, -2, "__metatable");
    mf_vm_set_ref(L, MF_REF_REQUEST_MT);
    lua_pushcfunction(L, l_request_json);
    mf_vm_set_ref(L, MF_REF_REQUEST_JSON);
}

void mf_request_object_push(lua_State *L, mf_request_t *r)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, r->method);
    lua_setfield(L, -2, "method");
    mf_vm_push_ref(L, MF_REF_REQUEST_MT);
    lua_setmetatable(L, -2);
}
