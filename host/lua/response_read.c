#include "lua/response_read.h"

#include <ctype.h>
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
    int is_json;     /* ctype is MF_CTYPE_JSON */
    int body_idx;    /* stack index of the body string (or of the json= value, kept as it is,
                        when is_json and read_result's keep_json), 0 for none */
    int headers_idx; /* stack index of a validated {name, value, name, value...} array */
    int stream_idx;  /* stack index of the stream function, 0 for none */
    int heartbeat_idx; /* stack index of the heartbeat table ({every=, text=}), 0 for none */
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

/* A streamed result's stream= (a function, instead of a body) and heartbeat= ({every = seconds,
 * text = bytes written after that long without a write}). Returns 0 or -1. */
static int read_stream(lua_State *L, int idx, conv_t *c)
{
    lua_getfield(L, idx, "stream");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_isfunction(L, -1)) {
        snprintf(c->err, c->errlen, "stream is a %s; expected a function",
                 luaL_typename(L, -1));
        return -1;
    }
    if (c->body_idx) {
        snprintf(c->err, c->errlen, "a response has a body or a stream, not both");
        return -1;
    }
    if (c->status == 204 || c->status == 304) {
        snprintf(c->err, c->errlen, "a %d response has no body to stream", c->status);
        return -1;
    }
    c->stream_idx = lua_gettop(L);
    lua_getfield(L, idx, "heartbeat");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    int h = lua_gettop(L);
    lua_getfield(L, h, "every");
    lua_getfield(L, h, "text");
    if (!lua_istable(L, h) || lua_type(L, -2) != LUA_TNUMBER || !(lua_tonumber(L, -2) > 0) ||
        lua_type(L, -1) != LUA_TSTRING || !lua_objlen(L, -1)) {
        snprintf(c->err, c->errlen,
                 "heartbeat must be {every = seconds above 0, text = a non-empty string}");
        return -1;
    }
    lua_pop(L, 2);
    c->heartbeat_idx = h;
    return 0;
}

/* Reads the result at idx into c, leaving what it needs on the stack; json= is encoded into the
 * body unless keep_json. Returns 0 or -1. May run the script's metamethods: it runs inside the
 * request's run. */
static int read_result(lua_State *L, int idx, conv_t *c, int keep_json) /* may raise */
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
        snprintf(c->err, c->errlen, "returned a %s; return a string or a table",
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
        if (!keep_json && mf_json_encode(L, lua_gettop(L))) {
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

    if (read_stream(L, idx, c))
        return -1;

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

/* Raises the reader's error about the result at 1 of a function called with nargs arguments
 * (result[, role, file]): role and file name where a middleware's result came from ("after",
 * "users.lua"); without them the result is a handler's. */
static int raise_invalid(lua_State *L, int nargs, const char *err)
{
    const char *role = nargs >= 3 ? lua_tostring(L, 2) : NULL;
    const char *file = nargs >= 3 ? lua_tostring(L, 3) : NULL;
    /* lua_error, not luaL_error: the position would be run.lua's, which tells the author nothing */
    if (role && file) {
        lua_pushfstring(L, "invalid response from the %s in %s: %s", role, file, err);
    } else {
        int type = lua_type(L, 1);
        int not_response =
            type != LUA_TNIL && type != LUA_TNONE && type != LUA_TSTRING && type != LUA_TTABLE;
        lua_pushfstring(L, "invalid response: %s%s", not_response ? "handler " : "", err);
    }
    return lua_error(L);
}

int mf_response_read_lua(lua_State *L)
{
    char err[256];
    conv_t c = {.err = err, .errlen = sizeof err};
    int nargs = lua_gettop(L); /* the result[, role, file]: read_result pushes above them */
    err[0] = '\0';
    if (read_result(L, 1, &c, 0))
        return raise_invalid(L, nargs, err);
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
    if (!c.stream_idx)
        return 4;
    lua_pushvalue(L, c.stream_idx);
    if (!c.heartbeat_idx)
        return 5;
    lua_getfield(L, c.heartbeat_idx, "every");
    lua_getfield(L, c.heartbeat_idx, "text");
    return 7;
}

/* Sets t[name] (name lower-cased) to value, or adds value to what t[name] holds: a string becomes
 * an array of both. */
static void merge_header(lua_State *L, int t, const char *name, size_t len, int value)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++)
        luaL_addchar(&b, (char)tolower((unsigned char)name[i]));
    luaL_pushresult(&b);
    int key = lua_gettop(L);
    lua_pushvalue(L, key);
    lua_rawget(L, t);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, value);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, value);
        lua_rawseti(L, -2, 2);
    } else {
        lua_pushvalue(L, value);
        lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
    }
    lua_rawset(L, t);
    lua_settop(L, key - 1);
}

int mf_response_table_lua(lua_State *L)
{
    char err[256];
    conv_t c = {.err = err, .errlen = sizeof err};
    int nargs = lua_gettop(L);
    err[0] = '\0';
    if (read_result(L, 1, &c, 1))
        return raise_invalid(L, nargs, err);
    lua_createtable(L, 0, 3);
    int res = lua_gettop(L);
    lua_pushinteger(L, c.status);
    lua_setfield(L, res, "status");
    lua_newtable(L);
    int headers = lua_gettop(L);
    for (int i = 1; c.headers_idx && i < c.nheaders; i += 2) {
        size_t len;
        lua_rawgeti(L, c.headers_idx, i);
        lua_rawgeti(L, c.headers_idx, i + 1);
        const char *name = lua_tolstring(L, -2, &len);
        merge_header(L, headers, name, len, lua_gettop(L));
        lua_pop(L, 2);
    }
    lua_setfield(L, res, "headers");
    if (c.is_json) {
        lua_pushvalue(L, c.body_idx);
        lua_setfield(L, res, "json");
    } else if (c.body_idx) {
        lua_pushvalue(L, c.body_idx);
        lua_setfield(L, res, "body");
    }
    if (c.stream_idx) {
        lua_pushvalue(L, c.stream_idx);
        lua_setfield(L, res, "stream");
    }
    if (c.heartbeat_idx) {
        lua_pushvalue(L, c.heartbeat_idx);
        lua_setfield(L, res, "heartbeat");
    }
    return 1;
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
    out->stream = NULL;
}
