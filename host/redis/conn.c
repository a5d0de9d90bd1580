/* A worker's connection: one link (link.h) on the worker's loop, the commands of every run
 * pipelined on it in the order they came, their replies taken in that order. The commands sent
 * during one turn of the loop leave together in one write at the end of that turn (the loop runs
 * its due timers after the descriptors it dispatched): the requests a turn serves cost Redis one
 * read and the kernel one send, not one each, and a command waits for no later turn.
 *
 * Failure handling matches the pool's: a command that gets no reply within MAYFLY_REDIS_TIMEOUT
 * (or its run's deadline) fails every command written on the connection, which is closed and
 * never reused; so does a connection that breaks. Commands not yet written when it went (the
 * connect under way, the output still buffered) go on a new connection. A refusal (READONLY...)
 * closes the connection once the commands written on it are answered. Which calls are sent
 * again is said at the top of redis.c. Failed connects back off and the breaker opens as for
 * the pool: then a command fails at once. */
#include "redis/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "redis/cluster.h"
#include "redis/link.h"
#include "redis/private.h"

/* One call: n commands whose replies arrive in order, their RESP kept with them until they are
 * answered, to be written again on a new connection. */
typedef struct op {
    struct op *next;
    struct mf_redis_conn *c;
    int n, got;
    int retried; /* sent again once already, after refusals */
    redisReply **replies;
    char *bytes;
    size_t len;
    uint64_t wire_start; /* where its bytes begin in its link's output */
    int64_t start_ns;
    mf_timer_t timer;
    mf_redis_done_fn done;
    void *ud;
} op_t;

typedef struct {
    op_t *head, *tail;
} queue_t;

struct mf_redis_conn {
    mf_loop_t *loop;
    mf_redis_server_t *server;
    int slot; /* the server's budget it holds */
    mf_redis_link_t *link;
    mf_watcher_t *watch;
    int open;    /* the link takes commands (connected, set up) */
    int closing; /* refused commands: it takes no more, and goes once those written are answered */
    int probe;   /* the link's connect is the breaker's half-open probe */
    uint64_t epoch;       /* of the primary the link went to (Sentinel) */
    mf_timer_t flush;     /* armed while commands wait in the output for the turn's end */
    mf_timer_t retry;     /* no primary known (a switch under way): try again soon */
    char no_primary[256]; /* why, for the calls that give up waiting */
    queue_t waiting;      /* not written to the link */
    queue_t sent;         /* written (or buffered to be), waiting for their replies */
};

/* ---- queues ---- */

static void push(queue_t *q, op_t *op)
{
    op->next = NULL;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
}

static op_t *pop(queue_t *q)
{
    op_t *op = q->head;
    if (op && !(q->head = op->next))
        q->tail = NULL;
    return op;
}

/* Takes op out of q; returns whether it was there. */
static int take_out(queue_t *q, op_t *op)
{
    for (op_t **p = &q->head, *prev = NULL; *p; prev = *p, p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            if (q->tail == op)
                q->tail = prev;
            return 1;
        }
    }
    return 0;
}

/* ---- ending calls ---- */

/* Calls op's done with err (the replies got so far freed) and frees op, unaccounted. */
static void give_up(op_t *op, const char *err)
{
    mf_loop_timer_stop(op->c->loop, &op->timer);
    for (int i = 0; i < op->got; i++)
        freeReplyObject(op->replies[i]);
    op->done(op->ud, NULL, op->n, err);
    free(op);
}

/* Calls op's done with its replies, or with err (the replies got so far freed), and frees op. */
static void finish(op_t *op, const char *err)
{
    if (err) {
        mf_redis_server_failed(op->c->server, err);
        give_up(op, err);
        return;
    }
    mf_loop_timer_stop(op->c->loop, &op->timer);
    mf_redis_server_succeeded(op->c->server, op->replies, op->n, mf_now_ns() - op->start_ns);
    op->done(op->ud, op->replies, op->n, NULL); /* the replies are done's; the array is op's */
    free(op);
}

static void fail_all(queue_t *q, const char *err)
{
    op_t *op;
    while ((op = pop(q)))
        finish(op, err);
}

/* ---- the link ---- */

static void on_io(void *ud, uint32_t events);
static int start_link(mf_redis_conn_t *c, char *err, size_t errlen);

static void watch(mf_redis_conn_t *c)
{
    uint32_t events = mf_redis_link_events(c->link);
    if (mf_timer_armed(&c->flush))
        events &= ~(uint32_t)EPOLLOUT; /* the turn's end writes it: no epoll change for it */
    mf_loop_watch_set(c->watch, events);
}

static void close_link(mf_redis_conn_t *c)
{
    mf_loop_watch_free(c->watch);
    mf_redis_link_close(c->link);
    c->watch = NULL;
    c->link = NULL;
    c->closing = 0;
    mf_loop_timer_stop(c->loop, &c->flush);
    if (c->open) {
        c->open = 0;
        mf_redis_server_opened(c->server, -1);
    }
}

/* Opens a new link for the commands waiting, or fails them when none may be opened now. */
static void reconnect(mf_redis_conn_t *c)
{
    char err[512];
    if (c->waiting.head && start_link(c, err, sizeof err))
        fail_all(&c->waiting, err);
}

/* The link failed while open (its error says why): the calls written on it fail, those whose
 * bytes never left go on a new one. */
static void lost(mf_redis_conn_t *c)
{
    char why[768];
    uint64_t written = mf_redis_link_written(c->link);
    snprintf(why, sizeof why, "%s", mf_redis_link_errstr(c->link));
    if (!c->closing) /* else counted when it began to close */
        mf_redis__dropped(mf_redis_link_error(c->link) == MF_REDIS_LINK_ETIMEOUT
                              ? MF_REDIS_RECONNECT_TIMEOUT
                              : MF_REDIS_RECONNECT_IO,
                          c->epoch);
    close_link(c);
    queue_t unsent = {NULL, NULL};
    op_t *op;
    while ((op = pop(&c->sent))) {
        if (op->wire_start < written)
            finish(op, why);
        else
            push(&unsent, op);
    }
    if (unsent.head) {
        unsent.tail->next = c->waiting.head;
        if (!c->waiting.head)
            c->waiting.tail = unsent.tail;
        c->waiting.head = unsent.head;
    }
    reconnect(c);
}

/* The connect failed (the link's error says why): every call waiting for it fails. */
static void connect_failed(mf_redis_conn_t *c)
{
    char why[768];
    snprintf(why, sizeof why, "%s", mf_redis_link_errstr(c->link));
    mf_redis_server_connect_failed(c->server, mf_redis_link_error(c->link), why, c->epoch);
    close_link(c);
    fail_all(&c->waiting, why);
}

/* Queues every waiting call for writing at the turn's end, when the link takes commands (never
 * writes here: this may be inside mf_redis_conn_send, whose caller is not waiting yet). */
static void pump(mf_redis_conn_t *c)
{
    op_t *op;
    if (!c->open || c->closing || !c->waiting.head)
        return;
    while ((op = pop(&c->waiting))) {
        op->wire_start = mf_redis_link_appended(c->link);
        mf_redis_link_append(c->link, op->bytes, op->len);
        push(&c->sent, op);
    }
    if (!mf_timer_armed(&c->flush))
        mf_loop_timer_start(c->loop, &c->flush, 0);
}

/* op has all its replies. Refusals close the connection; a call they all refused (nothing of
 * it ran) is sent again, once, on the next connection. Returns 1 when the link was closed. */
static int answered(mf_redis_conn_t *c, op_t *op)
{
    int all, why = mf_redis__refusals(op->replies, op->n, &all);
    if (why >= 0 && !c->closing) {
        c->closing = 1;
        mf_redis__dropped((mf_redis_reconnect_t)why, c->epoch);
    }
    if (all && !op->retried) {
        for (int i = 0; i < op->n; i++)
            freeReplyObject(op->replies[i]);
        op->got = 0;
        op->retried = 1;
        push(&c->waiting, op);
    } else {
        finish(op, NULL);
    }
    if (!c->closing || c->sent.head)
        return 0;
    close_link(c);
    reconnect(c);
    return 1;
}

static void take_replies(mf_redis_conn_t *c)
{
    redisReply *r;
    int rc;
    while ((rc = mf_redis_link_reply(c->link, &r)) > 0) {
        op_t *op = c->sent.head;
        if (!op) {
            freeReplyObject(r);
            mf_redis_link_fail(c->link, "a reply nobody asked for");
            lost(c);
            return;
        }
        op->replies[op->got++] = r;
        if (op->got == op->n && answered(c, pop(&c->sent)))
            return; /* the replies read were all for that link */
    }
    if (rc < 0)
        lost(c);
}

static void on_io(void *ud, uint32_t events)
{
    mf_redis_conn_t *c = ud;
    (void)events; /* each step does what the socket allows now */
    if (!c->open) {
        int rc = mf_redis_link_connect(c->link);
        if (rc < 0) {
            connect_failed(c);
            return;
        }
        if (rc == 0) {
            c->open = 1;
            mf_redis_server_opened(c->server, 1);
            pump(c);
        }
    } else if (mf_redis_link_flush(c->link) < 0 || mf_redis_link_read(c->link) < 0) {
        lost(c);
        return;
    } else {
        take_replies(c);
    }
    if (c->link)
        watch(c);
}

static void on_flush(void *ud)
{
    mf_redis_conn_t *c = ud;
    if (!c->link || !c->open)
        return;
    if (mf_redis_link_flush(c->link) < 0) {
        lost(c);
        return;
    }
    watch(c);
}

/* How often a connection with calls waiting asks again for a primary during a switch. */
#define NO_PRIMARY_RETRY_MS 10

static void on_retry(void *ud)
{
    mf_redis_conn_t *c = ud;
    reconnect(c);
}

/* Starts a link to the server for the calls waiting. Returns 0, or -1 with err when no
 * connection may be tried now (backing off) or it failed at once. */
static int start_link(mf_redis_conn_t *c, char *err, size_t errlen)
{
    if (mf_redis_server_may_connect(c->server, c->probe, err, errlen))
        return -1;
    int no_primary;
    c->link = mf_redis__link_open(c->server, 0, &c->epoch, &no_primary, err, errlen);
    if (!c->link && no_primary) {
        /* A switch under way: the calls wait for the new primary (each until its deadline). */
        snprintf(c->no_primary, sizeof c->no_primary, "%s", err);
        mf_loop_timer_start(c->loop, &c->retry, mf_now_ns() + NO_PRIMARY_RETRY_MS * 1000000);
        return 0;
    }
    if (!c->link)
        return -1;
    int rc = mf_redis_link_connect(c->link);
    if (rc < 0) {
        snprintf(err, errlen, "%s", mf_redis_link_errstr(c->link));
        mf_redis_server_connect_failed(c->server, mf_redis_link_error(c->link), err, c->epoch);
        close_link(c);
        return -1;
    }
    c->watch = mf_loop_watch_new(c->loop, mf_redis_link_fd(c->link), on_io, c);
    if (rc == 0) {
        c->open = 1;
        mf_redis_server_opened(c->server, 1);
        pump(c);
    }
    watch(c);
    return 0;
}

/* ---- calls ---- */

static void on_timeout(void *ud)
{
    op_t *op = ud;
    mf_redis_conn_t *c = op->c;
    int64_t waited = mf_now_ns() - op->start_ns;
    if (!c->link) {
        /* Waiting for a primary to be known: only this call gives up (not a failure of Redis
         * for the breaker: the new primary may be announced the next moment). */
        take_out(&c->waiting, op);
        mf_redis__no_primary();
        give_up(op, c->no_primary);
    } else if (!c->open) {
        /* Still connecting: the connect hangs, for this call and every other waiting. */
        mf_redis_link_time_out(c->link, waited);
        connect_failed(c);
    } else if (take_out(&c->waiting, op)) {
        /* Waiting for a closing connection's last replies: only this call is late. */
        char why[400];
        snprintf(why, sizeof why, "Redis at %s did not answer within %lldms",
                 mf_redis_link_server(c->link), (long long)(waited / 1000000));
        finish(op, why);
    } else {
        /* Its reply may still be on the way: the connection is never reused. */
        mf_redis_link_time_out(c->link, waited);
        lost(c);
    }
}

/* A call of n commands of len RESP bytes (for the caller to write into op->bytes, then
 * queue), or NULL with err set when it fails fast. */
static op_t *op_new(mf_redis_conn_t *c, int n, size_t len, int64_t deadline_ns,
                    mf_redis_done_fn done, void *ud, char *err, size_t errlen)
{
    int probe;
    if (mf_redis_server_allow(c->server, &probe, err, errlen))
        return NULL;
    if (c->link && !c->closing && mf_redis__stale(c->epoch)) {
        /* Made for a primary the sentinels replaced: goes once its written calls are answered. */
        c->closing = 1;
        mf_redis__dropped(MF_REDIS_RECONNECT_FAILOVER, c->epoch);
        if (!c->sent.head)
            close_link(c);
    }
    if (!c->link && !mf_timer_armed(&c->retry)) {
        c->probe = probe;
        if (start_link(c, err, errlen)) {
            mf_redis_server_failed(c->server, err);
            return NULL;
        }
    }
    op_t *op = mf_xmalloc(sizeof *op + (size_t)n * sizeof(redisReply *) + len);
    *op = (op_t){.c = c, .n = n, .len = len, .start_ns = mf_now_ns(), .done = done, .ud = ud};
    op->replies = (redisReply **)(op + 1);
    op->bytes = (char *)(op->replies + n);
    int64_t at = op->start_ns + mf_redis__timeout_ms() * 1000000;
    if (deadline_ns && deadline_ns < at)
        at = deadline_ns;
    mf_timer_init(&op->timer, on_timeout, op);
    mf_loop_timer_start(c->loop, &op->timer, at);
    return op;
}

static void op_queue(mf_redis_conn_t *c, op_t *op)
{
    push(&c->waiting, op);
    if (c->link) /* else waiting for a primary to be known */
        pump(c);
}

int mf_redis_conn_send(mf_redis_conn_t *c, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                       mf_redis_done_fn done, void *ud, char *err, size_t errlen)
{
    op_t *op = op_new(c, n, mf_redis_format_len(cmds, n), deadline_ns, done, ud, err, errlen);
    if (!op)
        return -1;
    mf_redis_format(op->bytes, cmds, n);
    op_queue(c, op);
    return 0;
}

int mf_redis_conn_send_iov(mf_redis_conn_t *c, const struct iovec *iov, int iovcnt, int n,
                           int64_t deadline_ns, mf_redis_done_fn done, void *ud, char *err,
                           size_t errlen)
{
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    op_t *op = op_new(c, n, len, deadline_ns, done, ud, err, errlen);
    if (!op)
        return -1;
    char *w = op->bytes;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(w, iov[i].iov_base, iov[i].iov_len);
        w += iov[i].iov_len;
    }
    op_queue(c, op);
    return 0;
}

int mf_redis_send(mf_loop_t *loop, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                  mf_redis_done_fn done, void *ud, char *err, size_t errlen)
{
    if (mf_redis__usable(err, errlen))
        return -1;
    if (mf_redis__topology() == MF_REDIS_CLUSTER)
        return mf_redis_cluster_send(loop, cmds, n, deadline_ns, done, ud, err, errlen);
    mf_redis_conn_t *c = mf_redis_conn_of(loop, mf_redis_server_main());
    if (!c)
        return 1;
    return mf_redis_conn_send(c, cmds, n, deadline_ns, done, ud, err, errlen);
}

/* ---- one per loop and server ---- */

/* A loop's connections, by server id (made on first use). */
typedef struct {
    mf_redis_conn_t **by_id;
    int n;
} conns_t;

static const mf_loop_key_t conns_key;

static void conn_free(mf_redis_conn_t *c)
{
    const char *why = "Redis connection closed (shutting down)";
    if (c->link)
        close_link(c);
    mf_loop_timer_stop(c->loop, &c->retry);
    fail_all(&c->sent, why);
    fail_all(&c->waiting, why);
    mf_redis_server_unreserve(c->server, c->slot);
    free(c);
}

static void conns_free(void *p)
{
    conns_t *cs = p;
    for (int i = 0; i < cs->n; i++)
        if (cs->by_id[i])
            conn_free(cs->by_id[i]);
    free(cs->by_id);
    free(cs);
}

mf_redis_conn_t *mf_redis_conn_of(mf_loop_t *loop, mf_redis_server_t *server)
{
    conns_t *cs = mf_loop_service(loop, &conns_key);
    int id = mf_redis_server_id(server);
    if (cs && id < cs->n && cs->by_id[id])
        return cs->by_id[id];
    char err[512];
    if (mf_redis__usable(err, sizeof err))
        return NULL;
    if (!cs) {
        cs = mf_xcalloc(1, sizeof *cs);
        mf_loop_set_service(loop, &conns_key, cs, conns_free);
    }
    if (id >= cs->n) {
        int n = id + 4;
        cs->by_id = mf_xrealloc(cs->by_id, (size_t)n * sizeof *cs->by_id);
        memset(cs->by_id + cs->n, 0, (size_t)(n - cs->n) * sizeof *cs->by_id);
        cs->n = n;
    }
    int slot = mf_redis_server_reserve(server);
    if (slot < 0)
        return NULL;
    mf_redis_conn_t *c = mf_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->server = server;
    c->slot = slot;
    mf_timer_init(&c->flush, on_flush, c);
    mf_timer_init(&c->retry, on_retry, c);
    cs->by_id[id] = c;
    return c;
}
