/* redis: the one place state lives. redis.call(cmd, ...) raises on an error reply (and answers
 * 503 when Redis cannot be reached); redis.pcall returns nil, err instead; redis.pipeline(fn)
 * sends every command fn queues in one round trip. Connections come from the process-wide pool
 * in redis.c; this file owns what a command may be and how its reply looks in Lua. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>
#include <lauxlib.h>

#include "lapi.h"
#include "redis.h"
#include "vm.h"

/* ---- what a command may be ---- */

/* Commands that change the connection itself: on a connection shared by every request of the
 * process they would carry state from one request to the next. */
static const char *const connection_state_commands[] = {
    "AUTH",       "DISCARD",     "EXEC",         "HELLO",      "MONITOR",   "MULTI",
    "PSUBSCRIBE", "PSYNC",       "PUNSUBSCRIBE", "QUIT",       "READONLY",  "READWRITE",
    "REPLCONF",   "RESET",       "SELECT",       "SSUBSCRIBE", "SUBSCRIBE", "SUNSUBSCRIBE",
    "SYNC",       "UNSUBSCRIBE", "UNWATCH",      "WATCH",      NULL};

/* CLIENT subcommands that do: the rest (ID, INFO, LIST, GETNAME, KILL...) only read or act on
 * other connections. */
static const char *const client_state_subcommands[] = {"CACHING", "NO-EVICT", "NO-TOUCH", "REPLY",
                                                       "SETINFO", "SETNAME",  "TRACKING", NULL};

static int in_list(const char *const *list, const char *word, size_t len)
{
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == len && !strncasecmp(word, list[i], len))
            return 1;
    return 0;
}

/* Raises when the command at stack slots [first, first + argc) may not run. */
static void refuse_connection_state(lua_State *L, int first, int argc) /* may raise */
{
    size_t len0, len1 = 0;
    const char *cmd = lua_tolstring(L, first, &len0);
    const char *sub = argc > 1 ? lua_tolstring(L, first + 1, &len1) : NULL;
    if (!cmd)
        return; /* not a string: the conversion names the bad argument */
    if (in_list(connection_state_commands, cmd, len0) ||
        (len0 == 6 && !strncasecmp(cmd, "CLIENT", 6) && sub &&
         in_list(client_state_subcommands, sub, len1)))
        luaL_error(L,
                   "redis: %s%s%s refused: it changes the connection, which later requests "
                   "share (choose the database in MAYFLY_REDIS_URL; for atomic groups use EVAL)",
                   cmd, sub ? " " : "", sub ? sub : "");
}

/* Turns the value at idx into the string Redis receives, in place: strings as they are (any
 * bytes), integers in decimal ("3", not "3.0"), other numbers in the shortest of 15 or 17
 * significant digits that reads back equal ("0.1", not "0.10000000000000001"), booleans as "1" /
 * "0". nil, tables, functions and the like raise, naming the argument: a silent "nil" or "table:
 * 0x..." in Redis is a bug found too late. */
static void to_arg(lua_State *L, int idx, int argn, const char *what) /* may raise */
{
    char buf[32];
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        return;
    case LUA_TNUMBER: {
        lua_Number n = lua_tonumber(L, idx);
        if (n == floor(n) && fabs(n) < 9007199254740992.0)
            snprintf(buf, sizeof buf, "%lld", (long long)n);
        else if (snprintf(buf, sizeof buf, "%.15g", n), strtod(buf, NULL) != n)
            snprintf(buf, sizeof buf, "%.17g", n);
        lua_pushstring(L, buf);
        break;
    }
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "1" : "0");
        break;
    default:
        luaL_error(L, "%s: argument #%d is %s; Redis arguments are strings, numbers or booleans",
                   what, argn, luaL_typename(L, idx));
    }
    lua_replace(L, idx);
}

/* ---- one round trip ---- */

/* A call's scratch memory: the argument vectors and the replies, in one userdata whose __gc
 * frees replies still held, so an error raised while converting them leaks nothing. */
typedef struct {
    int n;
    redisReply **replies;
    mf_redis_cmd_t *cmds;
    const char **argv;
    size_t *lens;
} batch_t;

static char batch_mt_key;

static void free_replies(batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        if (b->replies[i])
            freeReplyObject(b->replies[i]);
        b->replies[i] = NULL;
    }
}

static int batch_gc(lua_State *L)
{
    free_replies(lua_touserdata(L, 1));
    return 0;
}

/* Pushes a batch for n commands of total words in all. */
static batch_t *push_batch(lua_State *L, int n, int total) /* may raise */
{
    size_t size = sizeof(batch_t) + (size_t)n * (sizeof(redisReply *) + sizeof(mf_redis_cmd_t)) +
                  (size_t)total * (sizeof(char *) + sizeof(size_t));
    batch_t *b = lua_newuserdata(L, size);
    b->n = 0; /* nothing to free until the replies arrive */
    b->replies = (redisReply **)(b + 1);
    b->cmds = (mf_redis_cmd_t *)(b->replies + n);
    b->argv = (const char **)(b->cmds + n);
    b->lens = (size_t *)(b->argv + total);
    lua_pushlightuserdata(L, &batch_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    return b;
}

static void push_null(lua_State *L)
{
    lua_pushlightuserdata(L, NULL);
}

void mf_redis_push_reply(lua_State *L, const redisReply *r, int top) /* may raise */
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        lua_pushlstring(L, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        lua_pushnumber(L, (lua_Number)r->integer);
        break;
    case REDIS_REPLY_NIL:
        if (top)
            lua_pushnil(L);
        else
            push_null(L);
        break;
    case REDIS_REPLY_ARRAY:
        luaL_checkstack(L, 4, "redis: reply nested too deep");
        lua_createtable(L, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            mf_redis_push_reply(L, r->element[i], 0);
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    case REDIS_REPLY_ERROR:
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, r->str, r->len);
        lua_setfield(L, -2, "err");
        break;
    default:
        push_null(L);
        break;
    }
}

/* Sends b's commands. Returns 0 with b's replies filled, or -1 with the outage message pushed. */
static int run_batch(lua_State *L, batch_t *b, int n)
{
    char err[512];
    if (mf_redis_run(b->cmds, n, b->replies, err, sizeof err)) {
        lua_pushstring(L, err);
        return -1;
    }
    b->n = n;
    return 0;
}

/* ---- redis.call / redis.pcall ---- */

/* Runs the command in the arguments. Returns 1 with the reply pushed, or 0 with an error
 * message pushed and *unavailable set when Redis could not be reached. */
static int run_command(lua_State *L, const char *what, int *unavailable) /* may raise */
{
    int argc = lua_gettop(L);
    *unavailable = 0;
    if (argc < 1)
        luaL_error(L, "%s needs a command name", what);
    for (int i = 1; i <= argc; i++)
        to_arg(L, i, i, what);
    refuse_connection_state(L, 1, argc);
    batch_t *b = push_batch(L, 1, argc);
    for (int i = 0; i < argc; i++)
        b->argv[i] = lua_tolstring(L, i + 1, &b->lens[i]);
    b->cmds[0] = (mf_redis_cmd_t){argc, b->argv, b->lens};
    if (run_batch(L, b, 1)) {
        *unavailable = 1;
        return 0;
    }
    const redisReply *r = b->replies[0];
    if (r->type == REDIS_REPLY_ERROR)
        lua_pushlstring(L, r->str, r->len);
    else
        mf_redis_push_reply(L, r, 1);
    int ok = r->type != REDIS_REPLY_ERROR;
    free_replies(b);
    return ok;
}

static int l_redis_call(lua_State *L)
{
    int unavailable;
    if (run_command(L, "redis.call", &unavailable))
        return 1;
    if (unavailable)
        return mf_lapi_http_error(L, 503, lua_tostring(L, -1));
    return luaL_error(L, "redis: %s", lua_tostring(L, -1));
}

static int l_redis_pcall(lua_State *L)
{
    int unavailable;
    if (run_command(L, "redis.pcall", &unavailable))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* ---- redis.pipeline ---- */

/* p:call(cmd, ...): queues the command as a table of its words in p; returns its index in the
 * results. */
static int l_pipeline_call(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int argc = lua_gettop(L) - 1;
    if (argc < 1)
        return luaL_error(L, "pipeline:call needs a command name");
    for (int i = 2; i <= argc + 1; i++)
        to_arg(L, i, i - 1, "pipeline:call");
    refuse_connection_state(L, 2, argc);
    lua_createtable(L, argc, 0);
    for (int i = 1; i <= argc; i++) {
        lua_pushvalue(L, i + 1);
        lua_rawseti(L, -2, i);
    }
    int index = (int)lua_objlen(L, 1) + 1;
    lua_rawseti(L, 1, index);
    lua_pushinteger(L, index);
    return 1;
}

/* redis.pipeline(fn): calls fn(p), then sends what p:call queued in one round trip and returns
 * the replies in order (nil as redis.null, error replies as {err = msg}). Raises the 503 error
 * when Redis is unreachable. */
static int l_redis_pipeline(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_newtable(L); /* 2: p, which is also the queue */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, 2);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 0);

    int n = (int)lua_objlen(L, 2), total = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        if (lua_type(L, -1) != LUA_TTABLE || lua_objlen(L, -1) < 1)
            return luaL_error(L, "redis.pipeline: entry %d is not a queued command", i);
        total += (int)lua_objlen(L, -1);
        lua_pop(L, 1);
    }
    lua_createtable(L, n, 0); /* 3: results */
    if (n == 0)
        return 1;
    batch_t *b = push_batch(L, n, total); /* 4 */
    int w = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i); /* the command table stays in p: its strings stay anchored */
        int argc = (int)lua_objlen(L, -1);
        b->cmds[i - 1] = (mf_redis_cmd_t){argc, b->argv + w, b->lens + w};
        for (int a = 1; a <= argc; a++, w++) {
            lua_rawgeti(L, -1, a);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "redis.pipeline: entry %d was changed after queuing", i);
            b->argv[w] = lua_tolstring(L, -1, &b->lens[w]);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    if (run_batch(L, b, n))
        return mf_lapi_http_error(L, 503, lua_tostring(L, -1));
    for (int i = 0; i < n; i++) {
        mf_redis_push_reply(L, b->replies[i], 0);
        lua_rawseti(L, 3, i + 1);
    }
    free_replies(b);
    lua_settop(L, 3);
    return 1;
}

int luaopen_mayfly_redis(lua_State *L)
{
    char err[256];
    /* A malformed URL is reported by every call; the server checks it at start-up. */
    mf_redis_init(mf_vm_options(mf_vm_of(L)), err, sizeof err);

    lua_pushlightuserdata(L, &batch_mt_key);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, batch_gc);
    lua_setfield(L, -2, "__gc");
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_createtable(L, 0, 4);
    push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushcfunction(L, l_redis_call);
    lua_setfield(L, -2, "call");
    lua_pushcfunction(L, l_redis_pcall);
    lua_setfield(L, -2, "pcall");
    /* The pipeline object's metatable: p:call queues. */
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_pipeline_call);
    lua_setfield(L, -2, "call");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "pipeline");
    lua_setfield(L, -2, "__metatable");
    lua_pushcclosure(L, l_redis_pipeline, 1);
    lua_setfield(L, -2, "pipeline");
    return 1;
}
