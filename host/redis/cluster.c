/* The slot map's owner (cluster.h): one thread reads CLUSTER SLOTS when asked or when the period
 * ends, publishes a map when it differs from the one in use, and keeps one link open to the node
 * that answered last, so a read during a storm of redirects costs one round trip. */
#include "redis/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "observe/log.h"
#include "redis/auth.h"
#include "redis/link.h"
#include "redis/private.h"

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;  /* the thread: a refresh asked, or stop */
    pthread_cond_t ready; /* callers: a first map, or stop */
    int started, stopping;
    int tls;
    mf_redis_node_t seeds[MF_REDIS_MAX_NODES];
    int nseeds;
    mf_redis_cluster_map_t *map; /* under mu */
    _Atomic uint64_t epoch;
    _Atomic int wanted; /* a refresh was asked since the last began */
    char why[512];      /* why no map is known, or the last read failed */
    pthread_t thread;
    _Atomic uint64_t refreshes_ok, refreshes_failed;
    _Atomic uint64_t redirects[MF_REDIS_REDIRECT_KINDS];
} cl = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- maps ---- */

static void map_free(mf_redis_cluster_map_t *m)
{
    free(m->primaries);
    free(m);
}

void mf_redis_cluster_map_release(mf_redis_cluster_map_t *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        map_free(m);
}

uint64_t mf_redis_cluster_epoch(void)
{
    return atomic_load_explicit(&cl.epoch, memory_order_acquire);
}

mf_redis_cluster_map_t *mf_redis_cluster_map(int64_t deadline_ns, char *err, size_t errlen)
{
    mf_redis_cluster_map_t *m = NULL;
    pthread_mutex_lock(&cl.mu);
    while (!cl.map && !cl.stopping && mf_now_ns() < deadline_ns) {
        struct timespec until = {deadline_ns / 1000000000, deadline_ns % 1000000000};
        if (pthread_cond_timedwait(&cl.ready, &cl.mu, &until) == ETIMEDOUT)
            break;
    }
    if (cl.map) {
        m = cl.map;
        atomic_fetch_add(&m->refs, 1);
    } else if (cl.stopping) {
        snprintf(err, errlen, "Redis connections are closed (shutting down)");
    } else {
        snprintf(err, errlen, "Redis Cluster: no slot map yet (%s)", cl.why);
    }
    pthread_mutex_unlock(&cl.mu);
    return m;
}

/* Makes the map a CLUSTER SLOTS reply from the node at asked describes. NULL with err set. */
static mf_redis_cluster_map_t *map_of(const redisReply *r, const mf_redis_node_t *asked, char *err,
                                      size_t errlen)
{
    mf_redis_slot_map_t sm;
    mf_redis_cluster_map_t *m = NULL;
    if (mf_redis_slot_map_read(r, &sm, err, errlen))
        goto done;
    m = mf_xcalloc(1, sizeof *m);
    m->primaries = mf_xcalloc((size_t)(sm.nprimaries ? sm.nprimaries : 1), sizeof *m->primaries);
    m->nprimaries = sm.nprimaries;
    m->covered = sm.covered;
    memcpy(m->owner, sm.owner, sizeof m->owner);
    for (int i = 0; i < sm.nprimaries; i++) {
        const mf_redis_node_t *p = &sm.primaries[i];
        /* An empty host is the node the reply came from. */
        m->primaries[i] = mf_redis_server_at(p->host[0] ? p->host : asked->host, p->port);
        if (!m->primaries[i]) {
            snprintf(err, errlen, "Redis Cluster: more than %d nodes", MF_REDIS_MAX_SERVERS);
            map_free(m);
            m = NULL;
            goto done;
        }
    }
done:
    mf_redis_slot_map_free(&sm);
    return m;
}

static int same_map(const mf_redis_cluster_map_t *a, const mf_redis_cluster_map_t *b)
{
    for (int s = 0; s < MF_REDIS_CLUSTER_SLOTS; s++) {
        uint16_t x = a->owner[s], y = b->owner[s];
        if ((x == MF_REDIS_SLOT_UNCOVERED) != (y == MF_REDIS_SLOT_UNCOVERED))
            return 0;
        if (x != MF_REDIS_SLOT_UNCOVERED && a->primaries[x] != b->primaries[y])
            return 0;
    }
    return 1;
}

/* Puts m in use unless it says what the one in use says (then it is freed). */
static void publish(mf_redis_cluster_map_t *m)
{
    mf_redis_cluster_map_t *old = NULL;
    pthread_mutex_lock(&cl.mu);
    int changed = !cl.map || !same_map(cl.map, m);
    if (changed) {
        old = cl.map;
        m->epoch = atomic_load(&cl.epoch) + 1;
        atomic_store(&m->refs, 1);
        cl.map = m;
        atomic_store_explicit(&cl.epoch, m->epoch, memory_order_release);
        pthread_cond_broadcast(&cl.ready);
    }
    pthread_mutex_unlock(&cl.mu);
    if (!changed) {
        map_free(m);
        return;
    }
    mf_redis_cluster_map_release(old);
    if (!old || m->covered != MF_REDIS_CLUSTER_SLOTS || old->covered != m->covered ||
        old->nprimaries != m->nprimaries)
        mf_log_msg(m->covered == MF_REDIS_CLUSTER_SLOTS ? MF_LOG_INFO : MF_LOG_WARN,
                   "redis: cluster slot map: %d of %d slots on %d primaries", m->covered,
                   MF_REDIS_CLUSTER_SLOTS, m->nprimaries);
}

/* ---- the thread ---- */

/* A link to node, set up as a data connection (AUTH), or NULL with err set. */
static mf_redis_link_t *open_node(const mf_redis_node_t *node, char *err, size_t errlen)
{
    mf_redis_setup_set_t setup;
    if (mf_redis_auth_setup(&setup, err, errlen))
        return NULL;
    mf_redis_link_t *l = mf_redis_link_open(node->host, node->port, cl.tls, &setup);
    explicit_bzero(&setup, sizeof setup);
    if (mf_redis_link_connect_wait(l, mf_now_ns() + mf_redis__timeout_ms() * 1000000)) {
        snprintf(err, errlen, "%s", mf_redis_link_errstr(l));
        mf_redis_link_close(l);
        return NULL;
    }
    return l;
}

/* CLUSTER SLOTS on l: the map, or NULL with err set. */
static mf_redis_cluster_map_t *ask(mf_redis_link_t *l, const mf_redis_node_t *node, char *err,
                                   size_t errlen)
{
    static const char *argv[] = {"CLUSTER", "SLOTS"};
    static const size_t lens[] = {7, 5};
    mf_redis_cmd_t cmd = {2, argv, lens};
    redisReply *r;
    if (mf_redis_link_exchange(l, &cmd, 1, &r, mf_now_ns() + mf_redis__timeout_ms() * 1000000)) {
        snprintf(err, errlen, "%s", mf_redis_link_errstr(l));
        return NULL;
    }
    mf_redis_cluster_map_t *m = NULL;
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "%s:%d answered CLUSTER SLOTS with: %.200s", node->host, node->port,
                 r->str);
    else
        m = map_of(r, node, err, errlen);
    freeReplyObject(r);
    return m;
}

/* The nodes to ask, in order: the one asked last (while its link stays open, it comes first
 * by itself), the map's primaries, then the seeds. */
static int candidates(mf_redis_node_t *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&cl.mu);
    for (int i = 0; cl.map && i < cl.map->nprimaries && n < max; i++) {
        snprintf(out[n].host, sizeof out[n].host, "%s", mf_redis_server_host(cl.map->primaries[i]));
        out[n++].port = mf_redis_server_port(cl.map->primaries[i]);
    }
    pthread_mutex_unlock(&cl.mu);
    for (int i = 0; i < cl.nseeds && n < max; i++)
        out[n++] = cl.seeds[i];
    return n;
}

/* Reads the map once, keeping *link (to *linked) open for the next time. Returns 0 or -1. */
static int refresh_once(mf_redis_link_t **link, mf_redis_node_t *linked)
{
    char err[512] = "no node to ask";
    mf_redis_cluster_map_t *m = NULL;
    if (*link && !(m = ask(*link, linked, err, sizeof err))) {
        mf_redis_link_close(*link);
        *link = NULL;
    }
    mf_redis_node_t nodes[MF_REDIS_MAX_SERVERS + MF_REDIS_MAX_NODES];
    int n = m ? 0 : candidates(nodes, (int)(sizeof nodes / sizeof nodes[0]));
    for (int i = 0; i < n && !m; i++) {
        if (!(*link = open_node(&nodes[i], err, sizeof err)))
            continue;
        *linked = nodes[i];
        if (!(m = ask(*link, linked, err, sizeof err))) {
            mf_redis_link_close(*link);
            *link = NULL;
        }
    }
    if (!m) {
        pthread_mutex_lock(&cl.mu);
        int news = strcmp(cl.why, err) != 0;
        snprintf(cl.why, sizeof cl.why, "%s", err);
        pthread_mutex_unlock(&cl.mu);
        atomic_fetch_add(&cl.refreshes_failed, 1);
        if (news)
            mf_log_msg(MF_LOG_WARN, "redis: cluster slot map not read: %s", err);
        return -1;
    }
    atomic_fetch_add(&cl.refreshes_ok, 1);
    publish(m);
    return 0;
}

/* Sleeps until deadline_ns, or until a refresh is asked (when wakeable) or stop. Returns 1 when
 * stopping. */
static int sleep_until(int64_t deadline_ns, int wakeable)
{
    pthread_mutex_lock(&cl.mu);
    while (!cl.stopping && !(wakeable && atomic_load(&cl.wanted)) && mf_now_ns() < deadline_ns) {
        struct timespec until = {deadline_ns / 1000000000, deadline_ns % 1000000000};
        pthread_cond_timedwait(&cl.wake, &cl.mu, &until);
    }
    int stop = cl.stopping;
    pthread_mutex_unlock(&cl.mu);
    return stop;
}

static void *follow(void *arg)
{
    (void)arg;
    mf_redis_link_t *link = NULL;
    mf_redis_node_t linked;
    int failures = 0;
    for (;;) {
        atomic_store(&cl.wanted, 0);
        int ok = refresh_once(&link, &linked) == 0;
        failures = ok ? 0 : failures + 1;
        /* The gap bounds the reads a storm of redirects causes; after failures the next read
         * comes sooner than the period, and sooner still while no map is known. */
        int64_t now = mf_now_ns();
        if (sleep_until(now + MF_REDIS_CLUSTER_REFRESH_GAP_MS * 1000000LL, 0))
            break;
        int64_t period = ok ? MF_REDIS_CLUSTER_REFRESH_MS : failures < 5 ? 100 : 1000;
        if (sleep_until(now + period * 1000000LL, 1))
            break;
    }
    mf_redis_link_close(link);
    return NULL;
}

void mf_redis_cluster_refresh(void)
{
    if (atomic_exchange(&cl.wanted, 1))
        return; /* already asked: the next read answers both */
    pthread_mutex_lock(&cl.mu);
    pthread_cond_signal(&cl.wake);
    pthread_mutex_unlock(&cl.mu);
}

void mf_redis_cluster_redirected(mf_redis_redirect_t kind)
{
    atomic_fetch_add_explicit(&cl.redirects[kind], 1, memory_order_relaxed);
}

int mf_redis_cluster_start(const mf_redis_url_t *u, char *err, size_t errlen)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cl.wake, &a);
    pthread_cond_init(&cl.ready, &a);
    pthread_condattr_destroy(&a);
    cl.tls = u->tls;
    cl.nseeds = u->nnodes;
    memcpy(cl.seeds, u->nodes, sizeof cl.seeds);
    snprintf(cl.why, sizeof cl.why, "the seeds were not asked yet");
    if (pthread_create(&cl.thread, NULL, follow, NULL)) {
        snprintf(err, errlen, "Redis Cluster: cannot start its thread");
        return -1;
    }
    cl.started = 1;
    return 0;
}

void mf_redis_cluster_stop(void)
{
    if (!cl.started)
        return;
    pthread_mutex_lock(&cl.mu);
    cl.stopping = 1;
    pthread_cond_broadcast(&cl.wake);
    pthread_cond_broadcast(&cl.ready);
    pthread_mutex_unlock(&cl.mu);
    pthread_join(cl.thread, NULL);
    cl.started = 0;
    pthread_mutex_lock(&cl.mu);
    mf_redis_cluster_map_t *m = cl.map;
    cl.map = NULL;
    pthread_mutex_unlock(&cl.mu);
    mf_redis_cluster_map_release(m);
}

/* ---- readiness and numbers ---- */

/* The value of field in a CLUSTER INFO text ("cluster_state:ok\r\n..."), into out. */
static int info_field(const char *text, const char *field, char *out, size_t n)
{
    size_t flen = strlen(field);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, field, flen) && p[flen] == ':') {
            size_t len = strcspn(p + flen + 1, "\r\n");
            snprintf(out, n, "%.*s", (int)len, p + flen + 1);
            return 0;
        }
    }
    return -1;
}

int mf_redis_cluster_check(char *why, size_t n)
{
    static const char *argv[] = {"CLUSTER", "INFO"};
    static const size_t lens[] = {7, 4};
    mf_redis_cmd_t cmd = {2, argv, lens};
    char err[512];
    mf_redis_cluster_map_t *m = mf_redis_cluster_map(mf_now_ns(), why, n);
    if (!m)
        return -1;
    int rc = -1;
    snprintf(why, n, "Redis Cluster: no primary answered");
    /* The first primary that answers speaks for the cluster: cluster_state is every node's
     * view of the whole. */
    for (int i = 0; i < m->nprimaries && rc < 0; i++) {
        redisReply *r;
        if (mf_redis_server_run(m->primaries[i], &cmd, 1, &r, 0, err, sizeof err)) {
            snprintf(why, n, "Redis Cluster: %s", err);
            continue;
        }
        char state[32] = "?";
        if (r->type == REDIS_REPLY_STRING)
            info_field(r->str, "cluster_state", state, sizeof state);
        freeReplyObject(r);
        if (!strcmp(state, "ok")) {
            rc = 0;
            snprintf(why, n, "cluster ok: %d of %d slots on %d primaries%s", m->covered,
                     MF_REDIS_CLUSTER_SLOTS, m->nprimaries, cl.tls ? " (TLS)" : "");
        } else {
            snprintf(why, n, "Redis Cluster: cluster_state:%s at %s (%d of %d slots covered)",
                     state, mf_redis_server_name(m->primaries[i]), m->covered,
                     MF_REDIS_CLUSTER_SLOTS);
            break;
        }
    }
    mf_redis_cluster_map_release(m);
    return rc;
}

void mf_redis_cluster_stats(mf_redis_cluster_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->refreshes_ok = atomic_load(&cl.refreshes_ok);
    s->refreshes_failed = atomic_load(&cl.refreshes_failed);
    for (int i = 0; i < MF_REDIS_REDIRECT_KINDS; i++)
        s->redirects[i] = atomic_load(&cl.redirects[i]);
    pthread_mutex_lock(&cl.mu);
    if (cl.map) {
        s->slots_covered = cl.map->covered;
        s->primaries = cl.map->nprimaries;
    }
    pthread_mutex_unlock(&cl.mu);
}
