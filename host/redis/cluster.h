/* A Redis Cluster, followed: one thread keeps the slot map (which primary serves each of the
 * 16384 slots) from CLUSTER SLOTS, asked of the node that answered last, then of the known
 * primaries, then of the URL's seeds. It reads the map again when asked (a MOVED redirect, a
 * node's connection lost or refused), at most every MF_REDIS_CLUSTER_REFRESH_GAP_MS, asks
 * coalescing into the next read, and every MF_REDIS_CLUSTER_REFRESH_MS besides. A map is
 * immutable once published; callers hold a counted reference, and the epoch says when a newer
 * one exists. Calls are routed by cluster_route.c. */
#ifndef MF_REDIS_CLUSTER_H
#define MF_REDIS_CLUSTER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "event/loop.h"
#include "redis/cluster_slots.h"
#include "redis/conn.h"
#include "redis/server.h"
#include "redis/url.h"

#define MF_REDIS_CLUSTER_REFRESH_MS 5000
#define MF_REDIS_CLUSTER_REFRESH_GAP_MS 50

typedef struct {
    _Atomic int refs;
    uint64_t epoch;
    int nprimaries;
    mf_redis_server_t **primaries;
    int covered;                            /* slots with a primary */
    uint16_t owner[MF_REDIS_CLUSTER_SLOTS]; /* index into primaries, or MF_REDIS_SLOT_UNCOVERED */
} mf_redis_cluster_map_t;

/* Starts following the cluster of u's seeds (u->topology is MF_REDIS_CLUSTER). Returns at once:
 * the first map is read in the background. Returns 0, or -1 with the reason in err. */
int mf_redis_cluster_start(const mf_redis_url_t *u, char *err, size_t errlen);

/* The map now, held (mf_redis_cluster_map_release); while none was read yet, waits for the
 * first up to deadline_ns (mf_now_ns's clock). NULL with the reason in err. Any thread. */
mf_redis_cluster_map_t *mf_redis_cluster_map(int64_t deadline_ns, char *err, size_t errlen);
void mf_redis_cluster_map_release(mf_redis_cluster_map_t *m);

/* The epoch of the newest map, without locking (0: none yet). */
uint64_t mf_redis_cluster_epoch(void);

/* Asks for the map to be read again soon (coalesced; never blocks). */
void mf_redis_cluster_refresh(void);

/* Redirect kinds, counted for metrics. */
typedef enum {
    MF_REDIS_REDIRECT_MOVED,
    MF_REDIS_REDIRECT_ASK,
    MF_REDIS_REDIRECT_TRYAGAIN,
    MF_REDIS_REDIRECT_KINDS
} mf_redis_redirect_t;
void mf_redis_cluster_redirected(mf_redis_redirect_t kind);

/* The readiness check: 0 when a node answers CLUSTER INFO with cluster_state:ok (why then says
 * "cluster ok: 16384 of 16384 slots on 3 primaries"), -1 with the reason otherwise. */
int mf_redis_cluster_check(char *why, size_t n);

typedef struct {
    uint64_t refreshes_ok, refreshes_failed;
    uint64_t redirects[MF_REDIS_REDIRECT_KINDS];
    int slots_covered, primaries; /* by the map in use */
} mf_redis_cluster_stats_t;
void mf_redis_cluster_stats(mf_redis_cluster_stats_t *s);

/* Stops the thread and releases the map (shutdown). */
void mf_redis_cluster_stop(void);

/* ---- routing (cluster_route.c) ---- */

/* mf_redis_run on a cluster: every command goes to the primary of its first key's slot (keyless
 * ones to any primary), redirects followed; the replies come back in the caller's order. */
int mf_redis_cluster_run(const mf_redis_cmd_t *cmds, int n, redisReply **replies, char *err,
                         size_t errlen);

/* mf_redis_run_on_primaries on a cluster: cmd on each primary of the map in use. */
int mf_redis_cluster_run_on_primaries(const mf_redis_cmd_t *cmd, redisReply **replies, int max,
                                      char *err, size_t errlen);

/* mf_redis_send on a cluster (conn.h): the commands split by node over loop's connections.
 * Returns 1 when loop has no connection of its own to a node the call needs (or no map is known
 * yet): the caller blocks on mf_redis_cluster_run instead. */
int mf_redis_cluster_send(mf_loop_t *loop, const mf_redis_cmd_t *cmds, int n, int64_t deadline_ns,
                          mf_redis_done_fn done, void *ud, char *err, size_t errlen);

#endif
