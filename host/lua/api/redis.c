/* redis: the one place state lives. redis.call(cmd, ...) raises on an error reply (and answers
 * 503 when Redis cannot be reached); redis.pcall returns nil, err instead; redis.pipeline(fn)
 * sends every command fn queues in one round trip. Those three are Lua (redis.lua, beside it)
 * over the primitives here, so that raising happens after a run has come back from waiting. A
 * handler's command waits on its worker's own connection (redis/conn.c) and suspends only its
 * run; elsewhere (hooks, mayfly test, code that cannot yield) it blocks on the process-wide
 * pool (redis/redis.c). This file owns what a command may be and how its reply looks in Lua. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>
#include <lauxlib.h>

#include "base/alloc.h"
#include "lua/api/api.h"
#include "lua/binding.h"
#include "lua/embedded.h"
#include "lua/http_error.h"
#include "observe/span.h"
#include "redis/command_keys.h"
#include "redis/conn.h"
#include "redis/redis.h"

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

/* Every call looks its command up: the first letter (the lists' words begin with upper-case
 * letters) rules out most words before any strlen. */
static int in_list(const char *const *list, const char *word, size_t len)
{
    for (int i = 0; list[i]; i++)
        if (list[i][0] == (word[0] & ~0x20) && strlen(list[i]) == len &&
            !strncasecmp(word, list[i], len))
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

/* Raises when the command at stack slots [first, first + argc) means nothing on a cluster. */
static void refuse_on_cluster(lua_State *L, int first, int argc) /* may raise */
{
    if (!mf_redis_cluster_mode())
        return;
    const char *argv[2], *why;
    size_t lens[2];
    argv[0] = lua_tolstring(L, first, &lens[0]);
    argv[1] = argc > 1 ? lua_tolstring(L, first + 1, &lens[1]) : NULL;
    mf_redis_cmd_t c = {argc > 1 ? 2 : 1, argv, lens};
    if (argv[0] && mf_redis_command_first_key(&c, &why) < 0)
        luaL_error(L, "redis: %s refused on a Redis Cluster: %s", argv[0], why);
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
static char pipeline_mt_key; /* the metatable of the queues new_pipeline makes */
static char convert_key;     /* convert, made once: on_done runs it for every reply */

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
    return b; /* its finalizer only when replies land in it: see exchange */
}

static void push_null(lua_State *L)
{
    lua_pushlightuserdata(L, NULL);
}

/* An error reply's text; on a cluster, CROSSSLOT's says what to do about it. */
static void push_error_text(lua_State *L, const redisReply *r)
{
    lua_pushlstring(L, r->str, r->len);
    if (r->len >= 9 && !memcmp(r->str, "CROSSSLOT", 9) && mf_redis_cluster_mode()) {
        lua_pushliteral(L, " (on a Redis Cluster the keys of one command must share a slot: "
                           "give them a common {hash tag}, e.g. {user:42}:cart and "
                           "{user:42}:orders)");
        lua_concat(L, 2);
    }
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
        push_error_text(L, r);
        lua_setfield(L, -2, "err");
        break;
    default:
        push_null(L);
        break;
    }
}

/* Commands that block the connection until something happens: on a worker's multiplexed
 * connection they would stall every other request's commands, so they go through the pool. */
static const char *const blocking_commands[] = {"BLMOVE",     "BLMPOP",  "BLPOP",    "BRPOP",
                                                "BRPOPLPUSH", "BZMPOP",  "BZPOPMAX", "BZPOPMIN",
                                                "WAIT",       "WAITAOF", NULL};

static int is_blocking(const mf_redis_cmd_t *c)
{
    if (in_list(blocking_commands, c->argv[0], c->lens[0]))
        return 1;
    if ((c->lens[0] == 5 && !strncasecmp(c->argv[0], "XREAD", 5)) ||
        (c->lens[0] == 10 && !strncasecmp(c->argv[0], "XREADGROUP", 10)))
        for (int i = 1; i < c->argc; i++)
            if (c->lens[i] == 5 && !strncasecmp(c->argv[i], "BLOCK", 5))
                return 1;
    return 0;
}

/* ---- results ---- */

/* Pushes what the Lua side gets for n replies: for a call (n == 1, !pipeline) true and the
 * value, or false, the error reply's message and "reply"; for a pipeline true and the table of
 * replies. Returns how many values it pushed. */
static int push_results(lua_State *L, redisReply **replies, int n, int pipeline) /* may raise */
{
    if (!pipeline) {
        const redisReply *r = replies[0];
        if (r->type == REDIS_REPLY_ERROR) {
            lua_pushboolean(L, 0);
            push_error_text(L, r);
            lua_pushliteral(L, "reply");
            return 3;
        }
        lua_pushboolean(L, 1);
        mf_redis_push_reply(L, r, 1);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        mf_redis_push_reply(L, replies[i], 0);
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

static int push_outage(lua_State *L, const char *err)
{
    lua_pushboolean(L, 0);
    lua_pushstring(L, err);
    lua_pushliteral(L, "unavailable");
    return 3;
}

/* ---- the client span of a round trip ---- */

/* A span for b's n commands under the current one: named by the command (upper-cased, only when
 * it is a plain word), or PIPELINE; never with the arguments. NULL when nothing is traced. */
static mf_span_t *begin_span(lua_State *L, const batch_t *b, int n, int pipeline)
{
    mf_span_t *parent = mf_vm_span(L);
    if (!parent)
        return NULL;
    char name[32];
    size_t len = 0;
    if (pipeline) {
        memcpy(name, "PIPELINE", len = 8);
    } else {
        const char *cmd = b->cmds[0].argv[0];
        size_t cmd_len = b->cmds[0].lens[0];
        for (; len < cmd_len && len < sizeof name; len++) {
            char c = cmd[len];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '|'))
                break;
            name[len] = (char)toupper((unsigned char)c);
        }
        if (len == 0 || len < cmd_len)
            memcpy(name, "UNKNOWN", len = 7);
    }
    mf_span_t *s = mf_span_begin_child(parent, MF_SPAN_CLIENT, name, len);
    mf_span_set_str(s, "db.system", "redis", 5);
    mf_span_set_str(s, "db.system.name", "redis", 5);
    mf_span_set_str(s, "db.operation.name", name, len);
    if (pipeline)
        mf_span_set_int(s, "db.operation.batch.size", n);
    return s;
}

/* Ends the span with the outcome: an outage, or a command's error reply (its code only: the
 * message may quote the arguments). */
static void end_span(mf_span_t *s, redisReply **replies, int n, int pipeline, const char *err)
{
    if (!s)
        return;
    if (err) {
        mf_span_set_str(s, "error.type", "unavailable", 11);
        mf_span_error(s, err, strlen(err));
    } else if (!pipeline && n == 1 && replies[0] && replies[0]->type == REDIS_REPLY_ERROR) {
        const char *msg = replies[0]->str ? replies[0]->str : "";
        size_t code = strcspn(msg, " ");
        mf_span_set_str(s, "error.type", msg, code);
        mf_span_error(s, msg, code);
    }
    mf_span_end(s);
}

/* ---- waiting on the worker's connection ---- */

typedef struct {
    mf_vm_waiter_t waiter;
    int pipeline;
    mf_span_t *span;
} waiter_t;

typedef struct {
    redisReply **replies;
    int n, pipeline;
} converting_t;

static int convert(lua_State *L)
{
    converting_t *cv = lua_touserdata(L, 1);
    lua_pop(L, 1);
    return push_results(L, cv->replies, cv->n, cv->pipeline);
}

/* The worker's connection answered: the results are made on the main thread, where a reply too
 * deep to convert raises safely, and handed to the run. */
static void on_done(void *ud, redisReply **replies, int n, const char *err)
{
    waiter_t *wt = ud;
    lua_State *L = mf_vm_state(mf_vm_run_vm(wt->waiter.run));
    int base = lua_gettop(L);
    end_span(wt->span, replies, n, wt->pipeline, err);
    if (err) {
        push_outage(L, err);
    } else {
        converting_t cv = {replies, n, wt->pipeline};
        lua_pushlightuserdata(L, &convert_key); /* made once (luaopen), not once a reply */
        lua_rawget(L, LUA_REGISTRYINDEX);
        lua_pushlightuserdata(L, &cv);
        if (lua_pcall(L, 1, LUA_MULTRET, 0)) {
            const char *msg = lua_tostring(L, -1);
            lua_pushboolean(L, 0);
            lua_pushfstring(L, "reply not converted: %s", msg ? msg : "error");
            lua_pushliteral(L, "reply");
            lua_remove(L, -4);
        }
        for (int i = 0; i < n; i++)
            freeReplyObject(replies[i]);
    }
    mf_vm_wake(wt->waiter, lua_gettop(L) - base);
    free(wt);
}

/* Sends b's n commands (b: the batch its caller pushed last) and pushes the results (see
 * push_results), waiting on the worker's connection when the run may, else blocking on the pool. */
static int exchange(lua_State *L, batch_t *b, int n, int pipeline) /* may raise */
{
    int batch_idx = lua_gettop(L); /* b, pushed last by the caller */
    char err[512];
    mf_vm_run_t *run = mf_vm_run_of(L);
    int on_worker = run != NULL;
    for (int i = 0; on_worker && i < n; i++)
        if (is_blocking(&b->cmds[i]))
            on_worker = 0;
    mf_span_t *span = begin_span(L, b, n, pipeline);
    if (on_worker) {
        waiter_t *wt = mf_xmalloc(sizeof *wt);
        wt->waiter = mf_vm_waiter(run);
        wt->pipeline = pipeline;
        wt->span = span;
        int rc = mf_redis_send(mf_vm_loop(mf_vm_of(L)), b->cmds, n, mf_vm_run_deadline(run),
                               on_done, wt, err, sizeof err);
        if (rc == 0)
            return mf_vm_wait(L, run);
        free(wt);
        if (rc < 0) {
            end_span(span, NULL, 0, pipeline, err);
            return push_outage(L, err);
        }
        /* rc 1: this worker has no connection of its own: the pool, blocking */
    }
    /* The replies land in b, and converting them may raise: b's finalizer frees them then. A
     * call on the worker's connection gets its replies in on_done and needs none, which spares
     * the collector a finalizer per call. */
    lua_pushlightuserdata(L, &batch_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, batch_idx);
    if (mf_redis_run(b->cmds, n, b->replies, err, sizeof err)) {
        end_span(span, NULL, 0, pipeline, err);
        return push_outage(L, err);
    }
    end_span(span, b->replies, n, pipeline, NULL);
    b->n = n;
    int pushed = push_results(L, b->replies, n, pipeline);
    free_replies(b);
    return pushed;
}

/* ---- the primitives under redis.call, redis.pcall, redis.pipeline (redis.lua) ---- */

/* run(what, cmd, ...) */
static int l_redis_run(lua_State *L)
{
    const char *what = luaL_checkstring(L, 1);
    int argc = lua_gettop(L) - 1;
    if (argc < 1)
        return luaL_error(L, "%s needs a command name", what);
    for (int i = 1; i <= argc; i++)
        to_arg(L, i + 1, i, what);
    refuse_connection_state(L, 2, argc);
    refuse_on_cluster(L, 2, argc);
    batch_t *b = push_batch(L, 1, argc);
    for (int i = 0; i < argc; i++)
        b->argv[i] = lua_tolstring(L, i + 2, &b->lens[i]);
    b->cmds[0] = (mf_redis_cmd_t){argc, b->argv, b->lens};
    return exchange(L, b, 1, 0);
}

/* p:call(cmd, ...): queues the command as a table of its words in p; returns its index in the
 * results. */
static int l_pipeline_call(lua_State *L)
{
    /* It writes into its first argument: only a pipeline, never a table a script could share
     * with later requests (p.call taken out of p and called on a host table). */
    int is_pipeline = lua_getmetatable(L, 1);
    if (is_pipeline) {
        lua_pushlightuserdata(L, &pipeline_mt_key);
        lua_rawget(L, LUA_REGISTRYINDEX);
        is_pipeline = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!is_pipeline)
        return luaL_argerror(L, 1, "a pipeline is expected (p:call)");
    int argc = lua_gettop(L) - 1;
    if (argc < 1)
        return luaL_error(L, "pipeline:call needs a command name");
    for (int i = 2; i <= argc + 1; i++)
        to_arg(L, i, i - 1, "pipeline:call");
    refuse_connection_state(L, 2, argc);
    refuse_on_cluster(L, 2, argc);
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

/* new_pipeline(): p, which is also the queue p:call fills. */
static int l_new_pipeline(lua_State *L)
{
    lua_newtable(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, -2);
    return 1;
}

/* run_pipeline(p): sends what p queued in one round trip. */
static int l_redis_run_pipeline(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    int n = (int)lua_objlen(L, 1), total = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_type(L, -1) != LUA_TTABLE || lua_objlen(L, -1) < 1)
            return luaL_error(L, "redis.pipeline: entry %d is not a queued command", i);
        total += (int)lua_objlen(L, -1);
        lua_pop(L, 1);
    }
    if (n == 0) {
        lua_pushboolean(L, 1);
        lua_newtable(L);
        return 2;
    }
    batch_t *b = push_batch(L, n, total);
    int w = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i); /* the command table stays in p: its strings stay anchored */
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
    return exchange(L, b, n, 1);
}

/* raise(kind, message): "unavailable" is the 503 error, anything else a Lua error. */
static int l_redis_raise(lua_State *L)
{
    const char *kind = lua_tostring(L, 1);
    const char *msg = lua_tostring(L, 2);
    if (kind && !strcmp(kind, "unavailable"))
        return mf_http_error_raise(L, 503, msg ? msg : "Redis unavailable");
    return luaL_error(L, "redis: %s", msg ? msg : "error");
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
    lua_pushlightuserdata(L, &convert_key);
    lua_pushcfunction(L, convert);
    lua_rawset(L, LUA_REGISTRYINDEX);

    const mf_embedded_lua_t *m = mf_embedded_lua_find(mf_host_lua, "lua.api.redis");
    if (!m || luaL_loadbuffer(L, m->source, m->len, m->chunkname))
        return luaL_error(L, "the redis module did not load");
    static const luaL_Reg fns[] = {{"run", l_redis_run},
                                   {"run_pipeline", l_redis_run_pipeline},
                                   {"raise", l_redis_raise},
                                   {NULL, NULL}};
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    push_null(L);
    lua_setfield(L, -2, "null");
    /* The pipeline object's metatable: p:call queues. */
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_pipeline_call);
    lua_setfield(L, -2, "call");
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "pipeline");
    lua_setfield(L, -2, "__metatable");
    lua_pushlightuserdata(L, &pipeline_mt_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushcclosure(L, l_new_pipeline, 1);
    lua_setfield(L, -2, "new_pipeline");
    lua_call(L, 1, 1);
    return 1;
}
