/* mayfly._trace: the primitives under stdlib's mayfly.trace. Scripts' spans go under the span
 * of what runs (lua/binding.h's mf_vm_span); with nothing traced every call checks its
 * arguments as it would otherwise and records nothing, so a script behaves the same whether
 * tracing is on or off. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/api/api.h"
#include "lua/binding.h"
#include "observe/span.h"

#define KEY_MAX 255

static const char *check_key(lua_State *L, int idx, size_t *len, const char *fn)
{
    const char *key = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, len) : NULL;
    if (!key || !*len || *len > KEY_MAX)
        luaL_error(L, "%s: an attribute key is a string of 1 to %d bytes", fn, KEY_MAX);
    return key;
}

/* The value at idx as text, without converting it in place: a string as it is, a number as
 * Lua prints it (into buf), a boolean as true or false, anything else by its type. */
static const char *to_text(lua_State *L, int idx, char buf[32], size_t *len)
{
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        return lua_tolstring(L, idx, len);
    case LUA_TNUMBER:
        *len = (size_t)snprintf(buf, 32, "%.14g", lua_tonumber(L, idx));
        return buf;
    case LUA_TBOOLEAN:
        s = lua_toboolean(L, idx) ? "true" : "false";
        break;
    default:
        s = luaL_typename(L, idx);
    }
    *len = strlen(s);
    return s;
}

/* Sets key (a string at key_idx) to the value at idx on s: a string, a boolean, or a number (an
 * integer when it is one). */
static void set_value(lua_State *L, mf_span_t *s, int key_idx, int idx, const char *fn)
{
    size_t key_len;
    const char *key = check_key(L, key_idx, &key_len, fn);
    /* Keys go to the span NUL-terminated: a key with a NUL in it is cut there. */
    size_t len;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        const char *v = lua_tolstring(L, idx, &len);
        mf_span_set_str(s, key, v, len);
        break;
    }
    case LUA_TBOOLEAN:
        mf_span_set_bool(s, key, lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            mf_span_set_int(s, key, (int64_t)d);
        else
            mf_span_set_double(s, key, d);
        break;
    }
    default:
        luaL_error(L, "%s: attribute '%s' is %s; a value is a string, number or boolean", fn, key,
                   luaL_typename(L, idx));
    }
}

/* Every key = value of the table at idx (nil: none) on s. */
static void set_table(lua_State *L, mf_span_t *s, int idx, const char *fn) /* may raise */
{
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        set_value(L, s, -2, -1, fn);
        lua_pop(L, 1);
    }
}

/* begin(name, attributes): the serial of a span opened under the current one, or nil when
 * nothing is traced. */
static int l_trace_begin(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    uint64_t serial = mf_vm_span_open(L, name, len);
    if (!serial) {
        set_table(L, NULL, 2, "mayfly.trace.span"); /* the same checks */
        lua_pushnil(L);
        return 1;
    }
    set_table(L, mf_vm_span(L), 2, "mayfly.trace.span");
    lua_pushnumber(L, (lua_Number)serial);
    return 1;
}

/* finish(serial[, error]): ends the span, with the error as its status when given. */
static int l_trace_finish(lua_State *L)
{
    uint64_t serial = (uint64_t)luaL_checknumber(L, 1);
    size_t len = 0;
    const char *error = NULL;
    char buf[32];
    if (lua_gettop(L) >= 2)
        error = to_text(L, 2, buf, &len);
    mf_vm_span_close(L, serial, error, len);
    return 0;
}

/* set(key, value): an attribute of the current span. */
static int l_trace_set(lua_State *L)
{
    luaL_checkany(L, 2);
    set_value(L, mf_vm_span(L), 1, 2, "mayfly.trace.set");
    return 0;
}

/* event(name[, attributes]): an event of the current span now; attribute values become text. */
static int l_trace_event(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    mf_span_t *s = mf_vm_span(L);
    mf_span_event(s, name, len);
    if (lua_isnoneornil(L, 2))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        size_t key_len, value_len;
        const char *key = check_key(L, -2, &key_len, "mayfly.trace.event");
        int t = lua_type(L, -1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
            return luaL_error(L, "mayfly.trace.event: attribute '%s' is %s", key,
                              luaL_typename(L, -1));
        char buf[32];
        const char *value = to_text(L, -1, buf, &value_len);
        mf_span_event_str(s, key, value, value_len);
        lua_pop(L, 1);
    }
    return 0;
}

int luaopen_mayfly_trace(lua_State *L)
{
    static const luaL_Reg fns[] = {{"begin", l_trace_begin},
                                   {"finish", l_trace_finish},
                                   {"set", l_trace_set},
                                   {"event", l_trace_event},
                                   {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}
