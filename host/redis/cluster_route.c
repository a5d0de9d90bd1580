/* A call on a Redis Cluster (cluster.h): each command goes to the primary of its first key's
 * slot by the map in use (command_keys.h says where the key is; a keyless command goes to the
 * primaries in turn), commands for one node travel together in the caller's order, and the
 * replies are put back in the caller's order. Each command is redirected on its own:
 *   MOVED slot host:port   the slot has a new owner: sent there, and the map is read again;
 *   ASK slot host:port     the slot is migrating and this key already moved: sent there once,
 *                          after ASKING, without touching the map;
 *   TRYAGAIN               a multi-key command during a migration: sent again after
 *                          TRYAGAIN_WAIT_MS, routed anew, within the call's deadline;
 *   CLUSTERDOWN            the cluster cannot serve: the call fails (the outage case, a 503).
 * A command redirected more than MAX_REDIRECTS times fails the call. A node that cannot be
 * reached fails the call too (its connection's failure has the map read again). The blocking
 * way (mf_redis_cluster_run) and the worker's way (mf_redis_cluster_send) share the routing. */
#include "redis/cluster.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "redis/command_keys.h"
#include "redis/link.h"
#include "redis/private.h"

#define MAX_REDIRECTS 5
#define TRYAGAIN_WAIT_MS 25

static const char asking_resp[] = "*1\r\n$6\r\nASKING\r\n";
#define ASKING_LEN (sizeof asking_resp - 1)

/* ---- routing, shared ---- */

typedef struct {
    int slot;              /* of its first key, or -1: keyless */
    mf_redis_server_t *to; /* where it goes next; NULL: by the map */
    int redirects;
    unsigned asking : 1;   /* ASKING goes first (an ASK redirect) */
    unsigned later : 1;    /* TRYAGAIN: sent again after a wait */
    unsigned answered : 1; /* its reply is in */
    size_t off, len;       /* its RESP in the call's bytes (the worker's way) */
} entry_t;

typedef struct {
    int n, pending;
    entry_t *e;
    redisReply **replies;
    int *idx;            /* scratch: a group's indexes */
    unsigned char *sent; /* scratch: which went out in this round */
    char *bytes;
    int64_t deadline;
    int failed;
    char err[512];
} route_t;

static _Atomic unsigned keyless_turn;

/* A route for n commands, with their RESP kept when keep_resp (the commands are the caller's
 * only during this call), as the first member of a struct of size bytes (a route_t, or what
 * begins with one), its arrays after it: one allocation. Freed with route_free. */
static route_t *route_new(const mf_redis_cmd_t *cmds, int n, int keep_resp, int64_t deadline,
                          size_t size)
{
    size_t resp = 0;
    for (int i = 0; keep_resp && i < n; i++)
        resp += mf_redis_format_len(&cmds[i], 1);
    size = (size + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    route_t *rt = mf_xcalloc(
        1, size + (size_t)n * (sizeof(entry_t) + sizeof(redisReply *) + sizeof(int) + 1) + resp);
    rt->n = rt->pending = n;
    rt->e = (entry_t *)((char *)rt + size);
    rt->replies = (redisReply **)(rt->e + n);
    rt->idx = (int *)(rt->replies + n);
    rt->sent = (unsigned char *)(rt->idx + n);
    rt->bytes = (char *)(rt->sent + n);
    rt->deadline = deadline;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const char *why;
        int k = mf_redis_command_first_key(&cmds[i], &why);
        rt->e[i].slot = k > 0 ? (int)mf_redis_key_slot(cmds[i].argv[k], cmds[i].lens[k]) : -1;
        if (keep_resp) {
            rt->e[i].off = off;
            rt->e[i].len = mf_redis_format_len(&cmds[i], 1);
            mf_redis_format(rt->bytes + off, &cmds[i], 1);
            off += rt->e[i].len;
        }
    }
    return rt;
}

static void route_free(route_t *rt)
{
    for (int i = 0; i < rt->n; i++)
        if (rt->replies[i])
            freeReplyObject(rt->replies[i]);
    free(rt);
}

static void fail(route_t *rt, const char *fmt, const char *what)
{
    if (!rt->failed)
        snprintf(rt->err, sizeof rt->err, fmt, what);
    rt->failed = 1;
}

/* Gives every command waiting for a target its node by the map. */
static void aim(route_t *rt, const mf_redis_cluster_map_t *m)
{
    if (m->nprimaries == 0) {
        fail(rt, "Redis Cluster: %s", "the slot map names no primary");
        return;
    }
    for (int i = 0; i < rt->n && !rt->failed; i++) {
        entry_t *e = &rt->e[i];
        if (e->answered || e->to)
            continue;
        if (e->slot < 0) {
            e->to = m->primaries[atomic_fetch_add_explicit(&keyless_turn, 1, memory_order_relaxed) %
                                 (unsigned)m->nprimaries];
        } else if (m->owner[e->slot] == MF_REDIS_SLOT_UNCOVERED) {
            char slot[16];
            snprintf(slot, sizeof slot, "%d", e->slot);
            fail(rt, "Redis Cluster: no primary serves slot %s (the cluster is not whole)", slot);
            mf_redis_cluster_refresh();
        } else {
            e->to = m->primaries[m->owner[e->slot]];
        }
    }
}

static int starts(const redisReply *r, const char *code)
{
    size_t n = strlen(code);
    return r->len > n && !memcmp(r->str, code, n) && r->str[n] == ' ';
}

/* Command i's reply r, as its node sent it (the route owns r now). */
static void take(route_t *rt, int i, redisReply *r)
{
    entry_t *e = &rt->e[i];
    int ask;
    unsigned slot;
    mf_redis_node_t node;
    if (r->type == REDIS_REPLY_ERROR &&
        mf_redis_redirect_read(r->str, r->len, &ask, &slot, &node) == 0) {
        /* No host: the node that answered did not know its address, and is where it went. */
        mf_redis_server_t *to =
            mf_redis_server_at(node.host[0] ? node.host : mf_redis_server_host(e->to), node.port);
        mf_redis_cluster_redirected(ask ? MF_REDIS_REDIRECT_ASK : MF_REDIS_REDIRECT_MOVED);
        if (!ask)
            mf_redis_cluster_refresh();
        char what[300];
        snprintf(what, sizeof what, "%.*s", (int)(r->len < 200 ? r->len : 200), r->str);
        if (!to)
            fail(rt, "Redis Cluster: %s names a node past the most a process follows", what);
        else if (++e->redirects > MAX_REDIRECTS)
            fail(rt,
                 "Redis Cluster: redirected too often (last: %s); the cluster is being "
                 "resharded or is misconfigured",
                 what);
        e->to = to;
        e->asking = ask;
        freeReplyObject(r);
        return;
    }
    e->asking = 0;
    if (r->type == REDIS_REPLY_ERROR && (starts(r, "TRYAGAIN") || !strcmp(r->str, "TRYAGAIN"))) {
        mf_redis_cluster_redirected(MF_REDIS_REDIRECT_TRYAGAIN);
        e->later = 1;
        e->to = NULL; /* routed anew: the migration may end meanwhile */
        freeReplyObject(r);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR &&
        (starts(r, "CLUSTERDOWN") || !strcmp(r->str, "CLUSTERDOWN"))) {
        char what[300];
        snprintf(what, sizeof what, "%.200s", r->str);
        fail(rt, "Redis Cluster is down: %s", what);
        mf_redis_cluster_refresh();
        freeReplyObject(r);
        return;
    }
    rt->replies[i] = r;
    e->answered = 1;
    rt->pending--;
}

/* The next group of commands to send in this round (rt->sent says which went already): those
 * waiting for the first node some waiting command goes to, in order, their indexes in rt->idx
 * (and marked sent). Returns how many (0: none left to send now). */
static int next_group(route_t *rt, mf_redis_server_t **to)
{
    int k = 0;
    *to = NULL;
    for (int i = 0; i < rt->n; i++) {
        const entry_t *e = &rt->e[i];
        if (e->answered || e->later || rt->sent[i] || !e->to || (*to && e->to != *to))
            continue;
        *to = e->to;
        rt->idx[k++] = i;
    }
    for (int j = 0; j < k; j++)
        rt->sent[rt->idx[j]] = 1;
    return k;
}

static void clear_later(route_t *rt)
{
    for (int i = 0; i < rt->n; i++)
        rt->e[i].later = 0;
}

static int any_later(const route_t *rt)
{
    for (int i = 0; i < rt->n; i++)
        if (rt->e[i].later)
            return 1;
    return 0;
}

static int64_t call_deadline(int64_t deadline_ns)
{
    int64_t own = mf_now_ns() + 3 * mf_redis__timeout_ms() * 1000000;
    return deadline_ns && deadline_ns < own ? deadline_ns : own;
}

/* ---- the blocking way ---- */

/* Sends the group idx[0..k) to s and takes its replies. Returns 0, or -1 (rt failed). */
static int run_group(route_t *rt, const mf_redis_cmd_t *cmds, const int *idx, int k,
                     mf_redis_server_t *s)
{
    static const char *asking_argv[] = {"ASKING"};
    static const size_t asking_lens[] = {6};
    int m = 0;
    for (int j = 0; j < k; j++)
        m += 1 + rt->e[idx[j]].asking;
    mf_redis_cmd_t *part = mf_xmalloc((size_t)m * (sizeof *part + sizeof(redisReply *)));
    redisReply **got = (redisReply **)(part + m);
    m = 0;
    for (int j = 0; j < k; j++) {
        if (rt->e[idx[j]].asking)
            part[m++] = (mf_redis_cmd_t){1, asking_argv, asking_lens};
        part[m++] = cmds[idx[j]];
    }
    char err[512];
    int rc = mf_redis_server_run(s, part, m, got, rt->deadline, err, sizeof err);
    if (rc) {
        fail(rt, "%s", err);
        mf_redis_cluster_refresh(); /* its slots may have a new primary already */
    } else {
        m = 0;
        for (int j = 0; j < k; j++) {
            if (rt->e[idx[j]].asking)
                freeReplyObject(got[m++]);
            take(rt, idx[j], got[m++]);
        }
    }
    free(part);
    return rc;
}

/* One command for every primary: the first primary's reply, unless another's is an error. */
static int run_everywhere(const mf_redis_cmd_t *cmd, redisReply **reply, char *err, size_t errlen)
{
    redisReply *got[MF_REDIS_MAX_SERVERS];
    int k = mf_redis_cluster_run_on_primaries(cmd, got, MF_REDIS_MAX_SERVERS, err, errlen);
    if (k <= 0) {
        if (k == 0)
            snprintf(err, errlen, "Redis Cluster: the slot map names no primary");
        return -1;
    }
    int keep = 0;
    for (int i = 1; i < k; i++)
        if (got[i]->type == REDIS_REPLY_ERROR && got[keep]->type != REDIS_REPLY_ERROR)
            keep = i;
    for (int i = 0; i < k; i++)
        if (i != keep)
            freeReplyObject(got[i]);
    *reply = got[keep];
    return 0;
}

int mf_redis_cluster_run(const mf_redis_cmd_t *cmds, int n, redisReply **replies, char *err,
                         size_t errlen)
{
    if (n == 1 && mf_redis_command_on_every_primary(cmds))
        return run_everywhere(cmds, replies, err, errlen);
    int64_t deadline = call_deadline(0);
    mf_redis_cluster_map_t *m =
        mf_redis_cluster_map(mf_now_ns() + mf_redis__timeout_ms() * 1000000, err, errlen);
    if (!m)
        return -1;
    route_t *rt = route_new(cmds, n, 0, deadline, sizeof(route_t));
    while (!rt->failed && rt->pending) {
        if (mf_redis_cluster_epoch() != m->epoch) {
            mf_redis_cluster_map_t *newer = mf_redis_cluster_map(0, err, errlen);
            if (newer) {
                mf_redis_cluster_map_release(m);
                m = newer;
            }
        }
        aim(rt, m);
        memset(rt->sent, 0, (size_t)n);
        mf_redis_server_t *to;
        int k;
        while (!rt->failed && (k = next_group(rt, &to)) > 0)
            run_group(rt, cmds, rt->idx, k, to);
        if (rt->failed || !rt->pending)
            break;
        if (mf_now_ns() >= deadline) {
            fail(rt, "%s", "Redis Cluster: no answer within the deadline (the slots kept moving)");
            break;
        }
        if (any_later(rt)) {
            struct timespec wait = {0, TRYAGAIN_WAIT_MS * 1000000L};
            nanosleep(&wait, NULL);
            clear_later(rt);
        }
    }
    int rc = rt->failed ? -1 : 0;
    if (rc)
        snprintf(err, errlen, "%s", rt->err);
    else
        for (int i = 0; i < n; i++) {
            replies[i] = rt->replies[i];
            rt->replies[i] = NULL;
        }
    route_free(rt);
    mf_redis_cluster_map_release(m);
    return rc;
}

int mf_redis_cluster_run_on_primaries(const mf_redis_cmd_t *cmd, redisReply **replies, int max,
                                      char *err, size_t errlen)
{
    mf_redis_cluster_map_t *m =
        mf_redis_cluster_map(mf_now_ns() + mf_redis__timeout_ms() * 1000000, err, errlen);
    if (!m)
        return -1;
    int k = 0;
    for (; k < m->nprimaries && k < max; k++) {
        if (mf_redis_server_run(m->primaries[k], cmd, 1, &replies[k], 0, err, errlen)) {
            while (k > 0)
                freeReplyObject(replies[--k]);
            k = -1;
            break;
        }
    }
    mf_redis_cluster_map_release(m);
    return k;
}

/* ---- the worker's way ---- */

/* The map a loop routes by: kept from call to call, swapped when a newer one exists. */
typedef struct {
    mf_redis_cluster_map_t *map;
} worker_t;

static const mf_loop_key_t worker_key;

static void worker_free(void *p)
{
    worker_t *w = p;
    mf_redis_cluster_map_release(w->map);
    free(w);
}

static mf_redis_cluster_map_t *worker_map(mf_loop_t *loop)
{
    worker_t *w = mf_loop_service(loop, &worker_key);
    if (!w) {
        w = mf_xcalloc(1, sizeof *w);
        mf_loop_set_service(loop, &worker_key, w, worker_free);
    }
    if (!w->map || w->map->epoch != mf_redis_cluster_epoch()) {
        char err[512];
        mf_redis_cluster_map_t *m = mf_redis_cluster_map(0, err, sizeof err);
        if (m) {
            mf_redis_cluster_map_release(w->map);
            w->map = m;
        }
    }
    return w->map;
}

/* A group of commands sent to one node in one round: its commands' indexes (a slice of the
 * call's order array; the groups of a round do not overlap). */
typedef struct {
    struct call *call;
    int k;
    int *idx;
} part_t;

/* A call on the worker's connections: its route first (one allocation holds both, the arrays,
 * the commands' RESP, and room for a part per command). */
typedef struct call {
    route_t rt;
    mf_loop_t *loop;
    int parts_out;
    mf_timer_t later;
    mf_redis_done_fn done;
    void *ud;
    part_t *parts; /* this round's */
    int *order;    /* the parts' indexes */
} call_t;

static void dispatch(call_t *c);

/* Ends the call: done gets the replies (then its own) or the error. */
static void complete(call_t *c)
{
    route_t *rt = &c->rt;
    if (rt->failed) {
        c->done(c->ud, NULL, rt->n, rt->err);
    } else {
        c->done(c->ud, rt->replies, rt->n, NULL);
        memset(rt->replies, 0, (size_t)rt->n * sizeof *rt->replies);
    }
    mf_loop_timer_stop(c->loop, &c->later);
    route_free(rt);
}

/* Every part answered: done, or what is left goes out (now, or after a TRYAGAIN's wait). */
static void settle(call_t *c)
{
    route_t *rt = &c->rt;
    if (c->parts_out)
        return;
    if (!rt->failed && rt->pending && mf_now_ns() >= rt->deadline)
        fail(rt, "%s", "Redis Cluster: no answer within the deadline (the slots kept moving)");
    if (rt->failed || !rt->pending) {
        complete(c);
    } else if (any_later(rt)) {
        mf_loop_timer_start(c->loop, &c->later, mf_now_ns() + TRYAGAIN_WAIT_MS * 1000000LL);
    } else {
        dispatch(c);
    }
}

static void on_later(void *ud)
{
    call_t *c = ud;
    clear_later(&c->rt);
    dispatch(c);
}

static void part_done(void *ud, redisReply **replies, int n, const char *err)
{
    part_t *p = ud;
    call_t *c = p->call;
    route_t *rt = &c->rt;
    (void)n;
    if (err) {
        fail(rt, "%s", err);
        mf_redis_cluster_refresh(); /* its slots may have a new primary already */
    } else {
        int m = 0;
        for (int j = 0; j < p->k; j++) {
            if (rt->e[p->idx[j]].asking)
                freeReplyObject(replies[m++]);
            take(rt, p->idx[j], replies[m++]);
        }
    }
    c->parts_out--;
    settle(c);
}

/* Sends the group rt->idx[0..k) on conn as part p, its commands' RESP gathered from the call's
 * bytes (ASKING before those an ASK sent there). Returns 0, or -1 (rt failed). */
static int send_group(call_t *c, part_t *p, mf_redis_conn_t *conn, int k)
{
    enum { ON_STACK = 16 };
    route_t *rt = &c->rt;
    struct iovec stack_iov[2 * ON_STACK] = {{0}}, *iov = stack_iov;
    if (k > ON_STACK)
        iov = mf_xmalloc(2 * (size_t)k * sizeof *iov);
    int m = 0, niov = 0;
    for (int j = 0; j < k; j++) {
        const entry_t *e = &rt->e[rt->idx[j]];
        p->idx[j] = rt->idx[j];
        if (e->asking) {
            iov[niov++] = (struct iovec){(void *)asking_resp, ASKING_LEN};
            m++;
        }
        iov[niov++] = (struct iovec){rt->bytes + e->off, e->len};
        m++;
    }
    p->call = c;
    p->k = k;
    char err[512];
    int rc =
        mf_redis_conn_send_iov(conn, iov, niov, m, rt->deadline, part_done, p, err, sizeof err);
    if (iov != stack_iov)
        free(iov);
    if (rc) {
        /* Failed fast (its breaker is open): while it is, only a new map shows the slots'
         * new primary. */
        fail(rt, "%s", err);
        mf_redis_cluster_refresh();
        return -1;
    }
    c->parts_out++;
    return 0;
}

/* Sends what waits. Without connections for every node it needs, sends nothing and returns 1
 * (the first time, the caller takes the blocking way). */
static int dispatch_groups(call_t *c, int first)
{
    route_t *rt = &c->rt;
    mf_redis_cluster_map_t *m = worker_map(c->loop);
    if (!m)
        return 1;
    aim(rt, m);
    int k, nparts = 0, used = 0;
    mf_redis_server_t *to;
    memset(rt->sent, 0, (size_t)rt->n);
    if (first) {
        /* Every node the call needs must have this worker's connection before anything goes. */
        while (!rt->failed && next_group(rt, &to) > 0)
            if (!mf_redis_conn_of(c->loop, to))
                return 1;
        memset(rt->sent, 0, (size_t)rt->n);
    }
    while (!rt->failed && (k = next_group(rt, &to)) > 0) {
        mf_redis_conn_t *conn = mf_redis_conn_of(c->loop, to);
        if (!conn) {
            fail(rt,
                 "no connection of this worker's budget left for Redis at %s (raise "
                 "MAYFLY_REDIS_POOL_SIZE)",
                 mf_redis_server_name(to));
            break;
        }
        part_t *p = &c->parts[nparts++];
        p->idx = c->order + used;
        used += k;
        send_group(c, p, conn, k);
    }
    return 0;
}

static void dispatch(call_t *c)
{
    dispatch_groups(c, 0);
    settle(c);
}

int mf_redis_cluster_send(mf_loop_t *loop, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                          mf_redis_done_fn done, void *ud, char *err, size_t errlen)
{
    size_t head = sizeof(call_t) + (size_t)n * (sizeof(part_t) + sizeof(int));
    call_t *c = (call_t *)route_new(cmds, n, 1, call_deadline(deadline_ns), head);
    /* Rare, and about every node: the blocking way does it (asked of keyless commands only, so
     * a keyed command pays nothing for it). */
    if (n == 1 && c->rt.e[0].slot < 0 && mf_redis_command_on_every_primary(cmds)) {
        route_free(&c->rt);
        return 1;
    }
    c->parts = (part_t *)(c + 1);
    c->order = (int *)(c->parts + n);
    c->loop = loop;
    c->done = done;
    c->ud = ud;
    mf_timer_init(&c->later, on_later, c);
    int rc = dispatch_groups(c, 1);
    if (rc == 0 && c->parts_out)
        return 0;
    /* Nothing went out: the blocking way, or a failure said here rather than from done. */
    if (rc == 0)
        snprintf(err, errlen, "%s", c->rt.failed ? c->rt.err : "Redis Cluster: nothing sent");
    route_free(&c->rt);
    return rc ? 1 : -1;
}
