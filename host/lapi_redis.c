/* redis: the one place state lives. redis.call(cmd, ...) raises on an error reply (and answers
 * 503 when Redis cannot be reached); redis.pcall returns nil, err instead. Each worker keeps
 * one connection, opened on first use and reopened after a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <lauxlib.h>

#include "alloc.h"
#include "lapi.h"
#include "vm.h"

#define MAX_ARGS 1024
#define CONNECT_TIMEOUT_MS 500
#define COMMAND_TIMEOUT_MS 1000

typedef struct {
    char host[256];
    int port;
    char user[128], pass[256];
    int db;
} redis_url_t;

/* Per-state connection, kept in the registry as a userdata so lua_close frees it. */
typedef struct {
    redisContext *ctx;
} conn_t;

static char conn_key;

static int parse_url(const char *url, redis_url_t *u)
{
    const char *p = url, *at, *slash, *colon;
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        const char *c = memchr(p, ':', (size_t)(at - p));
        if (c) {
            snprintf(u->user, sizeof u->user, "%.*s", (int)(c - p), p);
            snprintf(u->pass, sizeof u->pass, "%.*s", (int)(at - c - 1), c + 1);
        } else {
            snprintf(u->pass, sizeof u->pass, "%.*s", (int)(at - p), p);
        }
        p = at + 1;
    }
    size_t hostport = slash ? (size_t)(slash - p) : strlen(p);
    colon = memchr(p, ':', hostport);
    size_t hostlen = colon ? (size_t)(colon - p) : hostport;
    if (hostlen == 0 || hostlen >= sizeof u->host)
        return -1;
    memcpy(u->host, p, hostlen);
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != p + hostport || port <= 0 || port > 65535)
            return -1;
        u->port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0)
            return -1;
        u->db = (int)db;
    }
    return 0;
}

static int conn_gc(lua_State *L)
{
    conn_t *c = lua_touserdata(L, 1);
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
    return 0;
}

static conn_t *get_conn(lua_State *L)
{
    lua_pushlightuserdata(L, &conn_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    conn_t *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
}

static void drop(conn_t *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
}

/* Opens the connection when there is none. Returns 0 or -1 with a reason in err. */
static int ensure_connected(lua_State *L, conn_t *c, char *err, size_t errlen)
{
    const char *url = mf_vm_options(mf_vm_of(L))->redis_url;
    redis_url_t u;
    if (c->ctx)
        return 0;
    if (!url) {
        snprintf(err, errlen, "Redis is not configured (set MAYFLY_REDIS_URL)");
        return -1;
    }
    if (parse_url(url, &u)) {
        snprintf(err, errlen, "MAYFLY_REDIS_URL is not redis://[user:pass@]host:port/db");
        return -1;
    }
    struct timeval ct = {0, CONNECT_TIMEOUT_MS * 1000};
    struct timeval rt = {COMMAND_TIMEOUT_MS / 1000, (COMMAND_TIMEOUT_MS % 1000) * 1000};
    c->ctx = redisConnectWithTimeout(u.host, u.port, ct);
    if (!c->ctx || c->ctx->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s:%d: %s", u.host, u.port,
                 c->ctx ? c->ctx->errstr : "out of memory");
        drop(c);
        return -1;
    }
    redisSetTimeout(c->ctx, rt);
    redisReply *r = NULL;
    if (u.pass[0]) {
        r = u.user[0] ? redisCommand(c->ctx, "AUTH %s %s", u.user, u.pass)
                      : redisCommand(c->ctx, "AUTH %s", u.pass);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis AUTH failed: %s", r ? r->str : c->ctx->errstr);
            goto fail;
        }
        freeReplyObject(r);
    }
    if (u.db) {
        r = redisCommand(c->ctx, "SELECT %d", u.db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis SELECT %d failed: %s", u.db, r ? r->str : c->ctx->errstr);
            goto fail;
        }
        freeReplyObject(r);
    }
    return 0;
fail:
    if (r)
        freeReplyObject(r);
    drop(c);
    return -1;
}

static void push_null(lua_State *L)
{
    lua_getfield(L, lua_upvalueindex(1), "null");
}

/* Pushes a reply as Lua values, the way Redis's own EVAL converts them. Error replies inside
 * arrays become {err = "..."} tables. */
static void push_reply(lua_State *L, const redisReply *r, int top)
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
        lua_createtable(L, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            push_reply(L, r->element[i], 0);
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    case REDIS_REPLY_ERROR:
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, r->str, r->len);
        lua_setfield(L, -2, "err");
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

/* Commands that change the connection itself: on a connection shared by every request of the
 * worker they would carry state from one request to the next. */
static const char *const connection_state_commands[] = {
    "AUTH",      "DISCARD",    "EXEC",     "HELLO",        "MONITOR",
    "MULTI",     "PSUBSCRIBE", "PSYNC",      "PUNSUBSCRIBE", "QUIT",     "READONLY",
    "READWRITE", "REPLCONF",   "RESET",      "SELECT",   "SSUBSCRIBE",   "SUBSCRIBE",
    "SUNSUBSCRIBE", "SYNC",    "UNSUBSCRIBE", "UNWATCH", "WATCH",        NULL};

/* CLIENT subcommands that do: the rest (ID, INFO, LIST, GETNAME, KILL...) only read or act on
 * other connections. */
static const char *const client_state_subcommands[] = {
    "CACHING", "NO-EVICT", "NO-TOUCH", "REPLY", "SETINFO", "SETNAME", "TRACKING", NULL};

static int in_list(const char *const *list, const char *word, size_t len)
{
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == len && !strncasecmp(word, list[i], len))
            return 1;
    return 0;
}

static int changes_connection(int argc, const char **argv, const size_t *lens)
{
    if (in_list(connection_state_commands, argv[0], lens[0]))
        return 1;
    return lens[0] == 6 && !strncasecmp(argv[0], "CLIENT", 6) && argc > 1 &&
           in_list(client_state_subcommands, argv[1], lens[1]);
}

/* Runs the command in the arguments. Returns 1 with the reply pushed, or 0 with an error
 * message pushed and *unavailable set when Redis could not be reached. */
static int run_command(lua_State *L, int *unavailable)
{
    int argc = lua_gettop(L);
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    char err[512];

    *unavailable = 0;
    if (argc < 1)
        luaL_error(L, "redis.call needs a command name");
    if (argc > MAX_ARGS)
        luaL_error(L, "redis.call: more than %d arguments", MAX_ARGS);
    for (int i = 1; i <= argc; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            luaL_argerror(L, i, "Redis arguments must be strings or numbers");
        argv[i - 1] = lua_tolstring(L, i, &lens[i - 1]);
    }
    if (changes_connection(argc, argv, lens))
        luaL_error(L,
                   "redis: %s%s%s refused: it changes the connection, which later requests "
                   "share (choose the database in MAYFLY_REDIS_URL; for atomic groups use EVAL)",
                   argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    conn_t *c = get_conn(L);
    int reused = c->ctx != NULL;
    if (ensure_connected(L, c, err, sizeof err)) {
        *unavailable = 1;
        lua_pushstring(L, err);
        return 0;
    }
    redisReply *r = redisCommandArgv(c->ctx, argc, argv, lens);
    if (!r && reused && c->ctx->err == REDIS_ERR_EOF) {
        /* The server closed a connection that sat idle (restart, timeout): one new try. */
        drop(c);
        if (ensure_connected(L, c, err, sizeof err) == 0)
            r = redisCommandArgv(c->ctx, argc, argv, lens);
    }
    if (!r && !c->ctx) {
        *unavailable = 1;
        lua_pushstring(L, err);
        return 0;
    }
    if (!r) {
        snprintf(err, sizeof err, "Redis connection failed: %s", c->ctx->errstr);
        drop(c); /* a timed-out or broken connection is not reused */
        *unavailable = 1;
        lua_pushstring(L, err);
        return 0;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        lua_pushlstring(L, r->str, r->len);
        freeReplyObject(r);
        return 0;
    }
    /* Converting may raise (out of memory): keep the reply anchored until it is freed. */
    push_reply(L, r, 1);
    freeReplyObject(r);
    return 1;
}

static int l_redis_call(lua_State *L)
{
    int unavailable;
    if (run_command(L, &unavailable))
        return 1;
    if (unavailable)
        return mf_lapi_http_error(L, 503, lua_tostring(L, -1));
    return luaL_error(L, "redis: %s", lua_tostring(L, -1));
}

static int l_redis_pcall(lua_State *L)
{
    int unavailable;
    if (run_command(L, &unavailable))
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

int luaopen_mayfly_redis(lua_State *L)
{
    lua_pushlightuserdata(L, &conn_key);
    conn_t *c = lua_newuserdata(L, sizeof *c);
    c->ctx = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, conn_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_createtable(L, 0, 4);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_redis_call, 1);
    lua_setfield(L, -2, "call");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l_redis_pcall, 1);
    lua_setfield(L, -2, "pcall");
    return 1;
}
