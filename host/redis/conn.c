/* Failure handling matches the pool's: a command that gets no reply within MAYFLY_REDIS_TIMEOUT
 * (or its run's deadline) fails every command waiting on the connection, which is closed and
 * never reused; the next command opens a new one, unless failed connects are backing off or
 * the breaker is open, in which case it fails at once. */
#include "redis/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <hiredis/async.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "redis/auth.h"
#include "redis/private.h"

/* One call: n commands whose replies arrive in order. hiredis holds op as the privdata of each
 * command until it calls back (with a reply, or NULL when the connection goes), so an op is
 * freed only once every callback came. */
typedef struct op {
    struct mf_redis_conn *c;
    int n, got, callbacks_left;
    int ended;
    redisReply **replies;
    int64_t start_ns;
    mf_timer_t timer;
    mf_redis_done_fn done;
    void *ud;
} op_t;

struct mf_redis_conn {
    mf_loop_t *loop;
    int slot; /* the pool budget it holds */
    redisAsyncContext *ac;
    mf_watcher_t *watch;
    uint32_t events;
    int connected;
    char fail_reason[512]; /* why the connection is being dropped, for the commands on it */
};

/* ---- hiredis on the loop ---- */

static void on_io(void *ud, uint32_t events)
{
    mf_redis_conn_t *c = ud;
    /* Each handler may free the context (the connection broke): look again after it. */
    if (c->ac && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        redisAsyncHandleRead(c->ac);
    if (c->ac && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        redisAsyncHandleWrite(c->ac);
}

static void set_events(mf_redis_conn_t *c, uint32_t add, uint32_t del)
{
    c->events = (c->events | add) & ~del;
    if (c->watch)
        mf_loop_watch_set(c->watch, c->events);
}

static void ev_add_read(void *p)
{
    set_events(p, EPOLLIN, 0);
}

static void ev_del_read(void *p)
{
    set_events(p, 0, EPOLLIN);
}

static void ev_add_write(void *p)
{
    set_events(p, EPOLLOUT, 0);
}

static void ev_del_write(void *p)
{
    set_events(p, 0, EPOLLOUT);
}

/* hiredis frees the context: on a broken connection, a failed connect, or redisAsyncFree. */
static void ev_cleanup(void *p)
{
    mf_redis_conn_t *c = p;
    mf_loop_watch_free(c->watch);
    c->watch = NULL;
    c->events = 0;
    c->ac = NULL;
    c->fail_reason[0] = '\0'; /* the commands on it have had it */
    if (c->connected) {
        c->connected = 0;
        mf_redis__opened(-1);
    }
}

/* ---- calls ---- */

static void op_end(op_t *op, const char *err)
{
    if (op->ended)
        return;
    op->ended = 1;
    mf_loop_timer_stop(op->c->loop, &op->timer);
    if (err) {
        mf_redis__failed(err);
        for (int i = 0; i < op->got; i++)
            freeReplyObject(op->replies[i]);
        op->done(op->ud, NULL, op->n, err);
    } else {
        mf_redis__succeeded(op->replies, op->n, mf_now_ns() - op->start_ns);
        op->done(op->ud, op->replies, op->n, NULL);
    }
    op->replies = NULL; /* the replies are done's now; the array goes with op */
}

static void op_release(op_t *op)
{
    if (--op->callbacks_left == 0 && op->ended)
        free(op);
}

/* A deep copy: hiredis frees a reply once its callback returns. */
static redisReply *copy_reply(const redisReply *r)
{
    redisReply *o = mf_xcalloc(1, sizeof *o);
    o->type = r->type;
    o->integer = r->integer;
    if (r->str) {
        o->str = mf_xmalloc(r->len + 1);
        memcpy(o->str, r->str, r->len);
        o->str[r->len] = '\0';
        o->len = r->len;
    }
    if (r->element) {
        o->elements = r->elements;
        o->element = mf_xcalloc(r->elements ? r->elements : 1, sizeof *o->element);
        for (size_t i = 0; i < r->elements; i++)
            o->element[i] = copy_reply(r->element[i]);
    }
    return o;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    op_t *op = privdata;
    mf_redis_conn_t *c = op->c;
    if (!op->ended) {
        if (!reply) {
            char why[600];
            if (c->fail_reason[0])
                snprintf(why, sizeof why, "%s", c->fail_reason);
            else
                snprintf(why, sizeof why, "Redis connection to %s failed: %s",
                         ac->c.tcp.host ? ac->c.tcp.host : "?",
                         ac->errstr[0] ? ac->errstr : "connection lost");
            op_end(op, why);
        } else {
            op->replies[op->got++] = copy_reply(reply);
            if (op->got == op->n)
                op_end(op, NULL);
        }
    }
    op_release(op);
}

/* Drops the connection: every command on it fails with why. */
static void drop(mf_redis_conn_t *c, const char *why)
{
    if (!c->ac)
        return;
    snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
    redisAsyncFree(c->ac); /* calls back every waiting command with NULL, then ev_cleanup */
}

static void on_timeout(void *ud)
{
    op_t *op = ud;
    mf_redis_server_t srv;
    char why[400];
    if (mf_redis__server(&srv, why, sizeof why) == 0)
        snprintf(why, sizeof why, "Redis at %s:%d did not answer within %lldms", srv.host, srv.port,
                 (long long)((mf_now_ns() - op->start_ns) / 1000000));
    /* The connection may hold a reply still on its way: it is never reused. */
    op->callbacks_left++; /* op must outlive the callbacks drop makes */
    drop(op->c, why);
    op_end(op, why);
    op_release(op);
}

/* ---- the connection ---- */

static void on_connect(const redisAsyncContext *ac, int status)
{
    mf_redis_conn_t *c = ac->ev.data;
    if (status == REDIS_OK) {
        c->connected = 1;
        mf_redis__opened(1);
    } else {
        char why[320];
        snprintf(why, sizeof why, "cannot connect to Redis at %s:%d: %s", ac->c.tcp.host,
                 ac->c.tcp.port, ac->errstr);
        mf_redis__connect_failed(MF_REDIS_LINK_ECONNECT, why);
        snprintf(c->fail_reason, sizeof c->fail_reason, "%s", why);
    }
}

/* AUTH and SELECT (privdata names it): a refusal fails every command queued behind them. */
static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    mf_redis_conn_t *c = ac->ev.data;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) {
        snprintf(c->fail_reason, sizeof c->fail_reason, "Redis %s failed: %.*s",
                 (const char *)privdata, (int)r->len, r->str);
        mf_redis__connect_failed(MF_REDIS_LINK_ESETUP, c->fail_reason);
        redisAsyncFree(ac); /* once this callback returns; the rest are called back with NULL */
    }
}

static int open_connection(mf_redis_conn_t *c, const mf_redis_server_t *t, int probe, char *err,
                           size_t errlen)
{
    mf_redis_setup_set_t setup;
    if (mf_redis__may_connect(probe, err, errlen))
        return -1;
    if (mf_redis_auth_setup(&setup, err, errlen)) {
        mf_redis__connect_failed(MF_REDIS_LINK_ESETUP, err);
        return -1;
    }
    redisAsyncContext *ac = redisAsyncConnect(t->host, t->port);
    if (!ac || ac->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s:%d: %s", t->host, t->port,
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        mf_redis__connect_failed(MF_REDIS_LINK_ECONNECT, err);
        return -1;
    }
    c->ac = ac;
    c->events = 0;
    c->watch = mf_loop_watch_new(c->loop, ac->c.fd, on_io, c);
    ac->ev.data = c;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect); /* a disconnect is ev_cleanup's business */
    /* hiredis only reads argv, const or not. */
    for (int i = 0; i < setup.n; i++)
        redisAsyncCommandArgv(ac, on_setup_reply, (void *)setup.cmd[i].argv[0], setup.cmd[i].argc,
                              (const char **)setup.cmd[i].argv, setup.cmd[i].lens);
    return 0;
}

int mf_redis_conn_send(mf_redis_conn_t *c, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                       mf_redis_done_fn done, void *ud, char *err, size_t errlen)
{
    mf_redis_server_t srv, *t = &srv;
    int probe;
    if (mf_redis__server(t, err, errlen) || mf_redis__allow(&probe, err, errlen))
        return -1;
    if (!c->ac && open_connection(c, t, probe, err, errlen)) {
        mf_redis__failed(err);
        return -1;
    }
    op_t *op = mf_xcalloc(1, sizeof *op + (size_t)n * sizeof(redisReply *));
    op->c = c;
    op->n = n;
    op->replies = (redisReply **)(op + 1);
    op->start_ns = mf_now_ns();
    op->done = done;
    op->ud = ud;
    for (int i = 0; i < n; i++) {
        if (redisAsyncCommandArgv(c->ac, on_reply, op, cmds[i].argc, cmds[i].argv, cmds[i].lens) !=
            REDIS_OK)
            break; /* the context is going: the callbacks queued so far fail it */
        op->callbacks_left++;
    }
    if (op->callbacks_left < n) {
        /* The caller reports err itself: done is not to be called. */
        snprintf(err, errlen, "Redis connection is closing");
        op->ended = 1;
        op->callbacks_left++;
        drop(c, err);
        mf_redis__failed(err);
        op_release(op);
        return -1;
    }
    int64_t at = op->start_ns + mf_redis__timeout_ms() * 1000000;
    if (deadline_ns && deadline_ns < at)
        at = deadline_ns;
    mf_timer_init(&op->timer, on_timeout, op);
    mf_loop_timer_start(c->loop, &op->timer, at);
    return 0;
}

/* ---- one per loop ---- */

static const mf_loop_key_t conn_key;

static void conn_free(void *p)
{
    mf_redis_conn_t *c = p;
    drop(c, "Redis connection closed (shutting down)");
    mf_redis__unreserve(c->slot);
    free(c);
}

mf_redis_conn_t *mf_redis_conn_of(mf_loop_t *loop)
{
    mf_redis_conn_t *c = mf_loop_service(loop, &conn_key);
    if (c)
        return c;
    char err[256];
    mf_redis_server_t srv;
    /* Over TLS, every call goes through the pool until this connection speaks it too. */
    if (mf_redis__server(&srv, err, sizeof err) || srv.tls)
        return NULL;
    int slot = mf_redis__reserve();
    if (slot < 0)
        return NULL;
    c = mf_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->slot = slot;
    mf_loop_set_service(loop, &conn_key, c, conn_free);
    return c;
}
