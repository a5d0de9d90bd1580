/* A Sentinel-managed primary, followed: one thread subscribes to every sentinel that answers,
 * asks them in turn (starting with the last that answered) for the primary of the URL's master,
 * confirms its role with ROLE, then listens: the start of a failover stops every use of the old
 * primary (a write it acknowledged after the promotion would be lost), +switch-master names the
 * new one within a round trip of its announcement. A suspicion, an aborted failover, and every
 * MF_REDIS_SENTINEL_REASK_MS make it ask again. Data connections ask it where to go and tell it
 * when the primary they reached failed them. */
#ifndef MF_REDIS_SENTINEL_H
#define MF_REDIS_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#include "redis/url.h"

/* A periodic re-ask beside the announcements, for a message lost with a sentinel's connection. */
#define MF_REDIS_SENTINEL_REASK_MS 5000

/* Starts following u's master (u->topology is MF_REDIS_SENTINEL), talking to the sentinels with
 * sentinel_password (NULL: none), over TLS when u->tls, each exchange bounded by timeout_ms.
 * Returns at once: the first primary is looked for in the background. Returns 0, or -1 with the
 * reason in err (the thread could not start). */
int mf_redis_sentinel_start(const mf_redis_url_t *u, const char *sentinel_password,
                            int64_t timeout_ms, char *err, size_t errlen);

/* The primary to connect to now, and its epoch (which changes with every new primary). While
 * none is known (at start, after a suspicion, during a switch) waits for one up to deadline_ns
 * (mf_now_ns's clock). Returns 0, or -1 with the reason in err. Any thread. */
int mf_redis_sentinel_primary(mf_redis_node_t *out, uint64_t *epoch, int64_t deadline_ns,
                              char *err, size_t errlen);

/* The current epoch, without waiting or locking (it is read on every call): a data connection
 * made in an older one is closed rather than used (its server may be a replica now). */
uint64_t mf_redis_sentinel_epoch(void);

/* A data connection to the primary of epoch found it is not one (READONLY, MASTERDOWN) or lost
 * it: the sentinels are asked again at once, and callers of mf_redis_sentinel_primary wait for
 * the answer. A suspicion of an epoch that already passed does nothing. */
void mf_redis_sentinel_suspect(uint64_t epoch, const char *why);

/* For /readyz: "sentinel <master>: <host:port>", or why no primary is known. Returns 1 when a
 * primary is known. */
int mf_redis_sentinel_describe(char *out, size_t n);

/* Primaries replaced since start (the first one found is not a failover). */
uint64_t mf_redis_sentinel_failovers(void);

/* Stops the thread (shutdown); later calls of mf_redis_sentinel_primary fail at once. */
void mf_redis_sentinel_stop(void);

#endif
