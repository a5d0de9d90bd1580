#include "cmd/test_client.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "app/dispatch.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "event/loop.h"
#include "http/stream.h"
#include "observe/log.h"

/* How long the client waits, when it is freed, for the runs of the streams it leaves. */
#define FREE_WAIT_NS (5 * (int64_t)1000000000)

/* One request, kept until its run ended: the run reads its request (method, header fields) as
 * long as it lasts, a stream's run past the response's head. */
typedef struct exchange {
    mf_test_client_t *client;
    mf_request_t r;
    char *method;
    char **fields; /* name, value, ..., NULL */
    int id;
    int is_head;
    int answered;        /* the sink ran */
    int response_ref;    /* {status, headers, body}, in the registry of the state that asked */
    mf_stream_t *stream; /* a streamed body, this client its consumer (a reference held) */
    int left;            /* the client left the stream: the exchange goes once its run ended */
    int given_up;        /* a wait for its run's end ran out: no later wait waits for it */
    struct exchange *next;
} exchange_t;

struct mf_test_client {
    mf_vm_t *vm;
    size_t max_body;
    mf_loop_t *loop;
    lua_State *L;     /* where the sink puts a response: the state of the native waiting for it */
    exchange_t *open; /* exchanges whose run may not have ended */
    int last_id;
    char *scratch; /* MF_STREAM_BUFFER bytes: a stream's read */
};

/* ---- exchanges ---- */

/* The fields at idx of L (a list of strings, checked by the caller) are copied: they must
 * outlive the request's run, which may outlast the call. */
static exchange_t *exchange_new(mf_test_client_t *c, const char *method, lua_State *L, int idx,
                                int nfields)
{
    exchange_t *x = mf_xcalloc(1, sizeof *x);
    x->client = c;
    x->id = ++c->last_id;
    x->is_head = !strcmp(method, "HEAD");
    x->response_ref = LUA_NOREF;
    x->method = mf_xstrdup(method);
    x->fields = mf_xcalloc((size_t)nfields + 1, sizeof *x->fields);
    for (int i = 0; i < nfields; i++) {
        lua_rawgeti(L, idx, i + 1);
        x->fields[i] = mf_xstrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    x->next = c->open;
    c->open = x;
    return x;
}

static void exchange_free(exchange_t *x)
{
    mf_test_client_t *c = x->client;
    for (exchange_t **p = &c->open; *p; p = &(*p)->next) {
        if (*p == x) {
            *p = x->next;
            break;
        }
    }
    if (x->stream)
        mf_stream_unref(x->stream);
    mf_request_end(&x->r);
    for (char **f = x->fields; *f; f++)
        free(*f);
    free(x->fields);
    free(x->method);
    free(x);
}

static exchange_t *find(mf_test_client_t *c, int id)
{
    for (exchange_t *x = c->open; x; x = x->next)
        if (x->id == id)
            return x;
    return NULL;
}

/* The run of a stream the client left has ended once the stream did: it holds nothing more. */
static int run_ended(const exchange_t *x)
{
    mf_stream_state_t st = mf_stream_state(x->stream);
    return st == MF_STREAM_ENDED || st == MF_STREAM_FAILED;
}

static void leave(exchange_t *x)
{
    if (x->left || !x->stream)
        return;
    x->left = 1;
    mf_stream_leave(x->stream);
}

/* ---- the loop ---- */

/* One turn, as a worker's: waits up to wait_ms for what the runs wait on, then resumes the runs
 * it woke. The exchanges of left streams whose runs ended go. */
static void turn(mf_test_client_t *c, int64_t wait_ms)
{
    if (mf_vm_woken(c->vm))
        wait_ms = 0;
    mf_loop_turn(c->loop, wait_ms);
    mf_vm_resume_woken(c->vm);
    for (exchange_t *x = c->open, *next; x; x = next) {
        next = x->next;
        if (x->left && run_ended(x))
            exchange_free(x);
    }
}

static int64_t timeout_ns(lua_State *L, int idx)
{
    double s = luaL_checknumber(L, idx);
    luaL_argcheck(L, s >= 0 && s < 1e6, idx, "a timeout of 0 to 1e6 seconds");
    return (int64_t)(s * 1e9);
}

static int64_t ms_until(int64_t deadline)
{
    int64_t left = deadline - mf_now_ns();
    return left > 0 ? (left + 999999) / 1000000 : 0;
}

/* Turns the loop until the runs of the left streams (id's alone, or every one no earlier wait
 * gave up on: id 0) ended, or deadline. Returns how many still run; those are given up on. */
static int settle(mf_test_client_t *c, int id, int64_t deadline)
{
    for (;;) {
        int running = 0;
        for (exchange_t *x = c->open; x; x = x->next)
            running += x->left && !x->given_up && (!id || x->id == id);
        if (!running || mf_now_ns() >= deadline) {
            for (exchange_t *x = c->open; running && x; x = x->next)
                if (x->left && (!id || x->id == id))
                    x->given_up = 1;
            return running;
        }
        turn(c, ms_until(deadline));
    }
}

/* ---- responses ---- */

/* Pushes status, headers (a list of {name, value}) and the body (nil when streamed). */
static void push_response(lua_State *L, const mf_response_t *resp, int is_head)
{
    lua_pushinteger(L, resp->status);
    lua_createtable(L, resp->nheaders + 1, 0);
    for (int i = 0; i < resp->nheaders; i++) {
        const char *name, *value;
        mf_response_header(resp, i, &name, &value);
        lua_createtable(L, 2, 0);
        lua_pushstring(L, name);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, i + 1);
    }
    if (resp->ctype) {
        lua_createtable(L, 2, 0);
        lua_pushliteral(L, "Content-Type");
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, resp->ctype);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, resp->nheaders + 1);
    }
    if (resp->stream)
        lua_pushnil(L);
    else
        lua_pushlstring(L, resp->body, is_head ? 0 : resp->body_len);
}

/* The sink of a run: keeps the response (a streamed one's head) until the native that waits
 * for it takes it; the client becomes a stream's consumer. */
static void on_response(void *ud, const mf_response_t *resp)
{
    exchange_t *x = ud;
    lua_State *L = x->client->L;
    x->answered = 1;
    if (resp->stream) {
        x->stream = resp->stream;
        mf_stream_ref(x->stream);
    }
    if (!L) { /* nobody waits for it (the client is going): its writer learns at once */
        leave(x);
        return;
    }
    lua_checkstack(L, 8);
    lua_createtable(L, 3, 0);
    push_response(L, resp, x->is_head);
    lua_rawseti(L, -4, 3);
    lua_rawseti(L, -3, 2);
    lua_rawseti(L, -2, 1);
    x->response_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* The host's own answers, where no run starts. */
static void push_host_error(lua_State *L, exchange_t *x, int status, const char *message,
                            const char *allow)
{
    mf_response_t resp = {.status = status, .ctype = "application/json"};
    char *json = mf_response_error_json(message, mf_request_id(&x->r), &resp.body_len);
    resp.body = json;
    x->r.status = status;
    push_response(L, &resp, x->is_head);
    free(json);
    if (allow) {
        int n = (int)lua_objlen(L, -2);
        lua_createtable(L, 2, 0);
        lua_pushliteral(L, "Allow");
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, allow);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -3, n + 1);
    }
}

/* ---- the natives ---- */

int mf_test_client_start(lua_State *L, mf_test_client_t *c)
{
    const char *method = luaL_checkstring(L, 1);
    const char *target = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    size_t body_len = 0;
    const char *body = luaL_optlstring(L, 4, "", &body_len);
    if (target[0] != '/')
        return luaL_argerror(L, 2, "the target must be a path starting with /");
    int nfields = (int)lua_objlen(L, 3);
    for (int i = 0; i < nfields; i++) {
        lua_rawgeti(L, 3, i + 1);
        int is_string = lua_type(L, -1) == LUA_TSTRING;
        lua_pop(L, 1);
        if (!is_string)
            return luaL_argerror(L, 3, "header names and values must be strings");
    }
    exchange_t *x = exchange_new(c, method, L, 3, nfields);
    mf_request_begin_local(&x->r, x->method, target, (const char *const *)x->fields, body, body_len,
                           c->max_body);
    char allow[128];
    int rc = MF_ROUTER_OK;
    if (x->r.body_too_large) {
        push_host_error(L, x, 413, "request body too large", NULL);
    } else {
        c->L = L;
        rc = mf_dispatch_start(c->vm, -1, &x->r, on_response, x, allow, sizeof allow);
        if (rc == MF_ROUTER_NOT_FOUND)
            push_host_error(L, x, 404, "not found", NULL);
        else if (rc == MF_ROUTER_METHOD_NOT_ALLOWED)
            push_host_error(L, x, 405, "method not allowed", allow);
        /* The run waits (its deadline bounds every wait of a run that has not answered). */
        while (rc >= 0 && !x->answered && mf_vm_waiting(c->vm))
            turn(c, 1000);
        c->L = NULL;
    }
    if (x->r.body_too_large || rc < 0) {
        exchange_free(x);
        return 3;
    }
    if (!x->answered) { /* a run that ended without answering: a bug of the runtime's */
        exchange_free(x);
        return luaL_error(L, "mayfly.testing: the request's run ended with no response");
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->response_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, x->response_ref);
    x->response_ref = LUA_NOREF;
    for (int i = 1; i <= 3; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -4);
    if (!x->stream) {
        exchange_free(x);
        return 3;
    }
    lua_pushinteger(L, x->id);
    return 4;
}

/* The open stream whose id is at 1 (may raise). */
static exchange_t *stream_arg(lua_State *L, mf_test_client_t *c)
{
    exchange_t *x = find(c, (int)luaL_checkinteger(L, 1));
    if (!x || !x->stream || x->left)
        luaL_error(L, "mayfly.testing: this stream is over");
    return x;
}

int mf_test_client_pull(lua_State *L, mf_test_client_t *c)
{
    exchange_t *x = stream_arg(L, c);
    int64_t deadline = mf_now_ns() + timeout_ns(L, 2);
    for (int turned = 0;; turned = 1) {
        mf_stream_state_t st = mf_stream_state(x->stream);
        if (st == MF_STREAM_DATA) {
            /* What it holds, in one read: what a writer waiting for room puts in once the
             * read made some is for the next. */
            size_t n = mf_stream_read(x->stream, c->scratch, MF_STREAM_BUFFER);
            lua_pushlstring(L, c->scratch, n);
            return 1;
        }
        if (st != MF_STREAM_EMPTY) {
            lua_pushnil(L);
            lua_pushstring(L, st == MF_STREAM_ENDED ? "ended" : "cut");
            exchange_free(x);
            return 2;
        }
        if (turned && mf_now_ns() >= deadline) {
            lua_pushboolean(L, 0);
            return 1;
        }
        turn(c, ms_until(deadline));
    }
}

int mf_test_client_close(lua_State *L, mf_test_client_t *c)
{
    exchange_t *x = stream_arg(L, c);
    int64_t deadline = mf_now_ns() + timeout_ns(L, 2);
    int id = x->id;
    leave(x);
    lua_pushboolean(L, settle(c, id, deadline) == 0);
    return 1;
}

int mf_test_client_drain(lua_State *L, mf_test_client_t *c)
{
    (void)L;
    /* Not mf_vm_drain_streams: the vm serves the next tests, whose streams must not begin
     * ending. The streams open now end as on the drain. */
    mf_vm_end_streams(c->vm);
    return 0;
}

int mf_test_client_close_all(lua_State *L, mf_test_client_t *c)
{
    int64_t deadline = mf_now_ns() + timeout_ns(L, 1);
    if (!c) {
        lua_pushinteger(L, 0);
        return 1;
    }
    for (exchange_t *x = c->open; x; x = x->next)
        leave(x);
    lua_pushinteger(L, settle(c, 0, deadline));
    return 1;
}

/* ---- the client ---- */

mf_test_client_t *mf_test_client_new(mf_vm_t *vm, size_t max_body, char *err,
                                     size_t errlen)
{
    mf_loop_t *loop = mf_loop_new();
    if (!loop) {
        snprintf(err, errlen, "no event loop for the requests' runs");
        return NULL;
    }
    mf_test_client_t *c = mf_xcalloc(1, sizeof *c);
    c->vm = vm;
    c->max_body = max_body;
    c->loop = loop;
    c->scratch = mf_xmalloc(MF_STREAM_BUFFER);
    mf_vm_set_loop(vm, loop);
    return c;
}

void mf_test_client_free(mf_test_client_t *c)
{
    if (!c)
        return;
    c->L = NULL;
    for (exchange_t *x = c->open; x; x = x->next) {
        leave(x);
        x->given_up = 0;
    }
    int running = settle(c, 0, mf_now_ns() + FREE_WAIT_NS);
    if (running || mf_vm_waiting(c->vm))
        mf_log_msg(MF_LOG_WARN, "mayfly test: %d request runs still waited at the end",
                   mf_vm_waiting(c->vm));
    mf_vm_set_loop(c->vm, NULL);
    mf_loop_free(c->loop);
    /* What is left belongs to runs that never ended: none resumes any more. */
    while (c->open)
        exchange_free(c->open);
    free(c->scratch);
    free(c);
}
