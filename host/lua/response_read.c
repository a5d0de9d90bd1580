#include "lua/response_read.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "base/syntax.h"
#include "lua/json.h"

/* Headers the host writes itself: a script's value would contradict the framing. */
static int host_owned(const char *name)
{
    return !strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding");
}

typedef struct {
    int status;
    int has_ctype;
    const char *ctype;
    int is_json; /* ctype is MF_CTYPE_JSON */
    int body_idx;    /* stack index of the body string, 0 for none */
    int headers_idx; /* stack index of a validated {name, value, name, value...} array */
    int nheaders;
    char *err;
    size_t errlen;
} conv_t;

/* Appends name/value pairs from the value at vidx (a string, number or array of them) to the
 * array at out. Returns 0 or -1 with conv->err set. in_list: vidx is an element of such an
 * array, where a table is refused (one level only: a table containing itself would recurse
 * until the C stack overflows). */
static int add_header(lua_State *L, conv_t *c, int out, int nameidx, int vidx, int in_list)
{
    size_t nlen, vlen;
    const char *name = lua_tolstring(L, nameidx, &nlen);
    if (lua_type(L, vidx) == LUA_TTABLE && !in_list) {
        int n = (int)lua_objlen(L, vidx);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, vidx, i);
            int rc = add_header(L, c, out, nameidx, lua_gettop(L), 1);
            lua_pop(L, 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (lua_type(L, vidx) != LUA_TSTRING && lua_type(L, vidx) != LUA_TNUMBER) {
        snprintf(c->err, c->errlen, "header '%s' has a %s value%s; expected a string", name,
                 luaL_typename(L, vidx), in_list ? " in its list" : "");
        return -1;
    }
    const char *value = lua_tolstring(L, vidx, &vlen);
    if (!mf_syntax_http_header(name, nlen, value, vlen)) {
        snprintf(c->err, c->errlen,
                 "header '%.64s' refused: names must be HTTP tokens and values must not hold "
                 "CR, LF, NUL or other control bytes",
                 name);
        return -1;
    }
    if (host_owned(name))
        return 0;
    if (!strcasecmp(name, "content-type")) {
        c->has_ctype = 1;
    }
    lua_pushvalue(L, nameidx);
    lua_rawseti(L, out, ++c->nheaders);
    lua_pushlstring(L, value, vlen); /* a string even when it was a number: readers keep it */
    lua_rawseti(L, out, ++c->nheaders);
    return 0;
}

/* Reads the result at idx into c, leaving what it needs on the stack. Returns 0 or -1. May run
 * the script's metamethods: it runs inside the request's run. */
static int read_result(lua_State *L, int idx, conv_t *c) /* may raise */
{
    c->status = 200;
    c->ctype = MF_CTYPE_TEXT;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        c->status = 204;
        return 0;
    case LUA_TSTRING:
        c->body_idx = idx;
        return 0;
    case LUA_TTABLE:
        break;
    default:
        snprintf(c->err, c->errlen, "handler returned a %s; return a string or a table",
                 luaL_typename(L, idx));
        return -1;
    }

    lua_getfield(L, idx, "status");
    if (!lua_isnil(L, -1)) {
        lua_Number n = lua_tonumber(L, -1);
        /* The range first: converting NaN or a huge number to int is undefined. */
        if (lua_type(L, -1) != LUA_TNUMBER || !(n >= 200 && n <= 599) || n != (lua_Number)(int)n) {
            snprintf(c->err, c->errlen, "invalid status %s; expected an integer from 200 to 599",
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : luaL_typename(L, -1));
            return -1;
        }
        c->status = (int)n;
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "json");
    if (!lua_isnil(L, -1)) {
        if (mf_json_encode(L, lua_gettop(L))) {
            snprintf(c->err, c->errlen, "json= cannot be encoded: %s", lua_tostring(L, -1));
            return -1;
        }
        c->body_idx = lua_gettop(L);
        c->ctype = MF_CTYPE_JSON;
        c->is_json = 1;
    } else {
        lua_pop(L, 1);
        lua_getfield(L, idx, "body");
        if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
            lua_tostring(L, -1);
            c->body_idx = lua_gettop(L);
        } else if (!lua_isnil(L, -1)) {
            snprintf(c->err, c->errlen, "body is a %s; expected a string (or use json=)",
                     luaL_typename(L, -1));
            return -1;
        }
    }

    lua_getfield(L, idx, "headers");
    int hidx = lua_gettop(L);
    if (!lua_isnil(L, hidx)) {
        if (!lua_istable(L, hidx)) {
            snprintf(c->err, c->errlen, "headers is a %s; expected a table",
                     luaL_typename(L, hidx));
            return -1;
        }
        lua_newtable(L);
        c->headers_idx = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, hidx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                snprintf(c->err, c->errlen, "header names must be strings");
                return -1;
            }
            if (add_header(L, c, c->headers_idx, lua_gettop(L) - 1, lua_gettop(L), 0))
                return -1;
            lua_pop(L, 1);
        }
    }
    return 0;
}

int mf_response_read_lua(lua_State *L)
{
    char err[256];
    conv_t c = {.err = err, .errlen = sizeof err};
    lua_settop(L, 1);
    err[0] = '\0';
    if (read_result(L, 1, &c))
        return luaL_error(L, "invalid response: %s", err);
    /* Only values the host made or checked leave here: the reader after the run touches them
     * raw, so no script code can run outside the run. */
    lua_pushinteger(L, c.status);
    if (c.body_idx)
        lua_pushvalue(L, c.body_idx);
    else
        lua_pushnil(L);
    /* The host's Content-Type by number: no string to make per response. */
    lua_pushinteger(L, c.has_ctype || c.status == 204 || c.status == 304 ? 0
                       : c.is_json                                       ? 2
                                                                         : 1);
    if (c.headers_idx)
        lua_pushvalue(L, c.headers_idx);
    else
        lua_pushnil(L);
    return 4;
}

/* Both strings stay referenced by the headers table, so popping them keeps them valid. */
static void header_from_stack(const mf_response_t *r, int i, const char **name, const char **value)
{
    lua_State *L = r->source;
    lua_rawgeti(L, r->source_slot, 2 * i + 1);
    lua_rawgeti(L, r->source_slot, 2 * i + 2);
    *name = lua_tostring(L, -2);
    *value = lua_tostring(L, -1);
    lua_pop(L, 2);
}

void mf_response_from_stack(lua_State *L, int base, mf_response_t *out)
{
    out->status = (int)lua_tointeger(L, base);
    out->body_len = 0;
    out->body = lua_type(L, base + 1) == LUA_TSTRING ? lua_tolstring(L, base + 1, &out->body_len)
                                                      : "";
    if (out->status == 204 || out->status == 304)
        out->body_len = 0;
    static const char *const ctypes[] = {NULL, MF_CTYPE_TEXT, MF_CTYPE_JSON};
    out->ctype = ctypes[lua_tointeger(L, base + 2) % 3];
    out->header = header_from_stack;
    out->source = L;
    out->source_slot = lua_istable(L, base + 3) ? base + 3 : 0;
    out->nheaders = out->source_slot ? (int)lua_objlen(L, base + 3) / 2 : 0;
}
