/* Redis Cluster's key space, from the public cluster specification: 16384 slots, a key's slot
 * the CRC16 (XMODEM) of its hash tag (the part between the first '{' and the next '}', when
 * not empty) or of the whole key, modulo 16384; and the slot map a CLUSTER SLOTS reply gives:
 * which primary serves each slot. The ground the cluster topology builds on. */
#ifndef MF_REDIS_CLUSTER_SLOTS_H
#define MF_REDIS_CLUSTER_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis/url.h"

#define MF_REDIS_CLUSTER_SLOTS 16384
#define MF_REDIS_SLOT_UNCOVERED 0xffff

/* The slot of key[0..len). */
unsigned mf_redis_key_slot(const char *key, size_t len);

typedef struct {
    mf_redis_node_t *primaries; /* each once; host "" is the node the reply came from */
    int nprimaries;
    uint16_t owner[MF_REDIS_CLUSTER_SLOTS]; /* index into primaries, or MF_REDIS_SLOT_UNCOVERED */
    int covered;                            /* slots with an owner */
} mf_redis_slot_map_t;

/* Reads a CLUSTER SLOTS reply (an array of [start, end, [host, port, id...], replicas...]) into
 * m (freed with mf_redis_slot_map_free, also after a failure). Returns 0, or -1 with what is
 * wrong in err. Overlapping ranges are refused: a map that says two things is no map. */
int mf_redis_slot_map_read(const redisReply *r, mf_redis_slot_map_t *m, char *err,
                           size_t errlen);
void mf_redis_slot_map_free(mf_redis_slot_map_t *m);

/* A redirect's text, as an error reply gives it: "MOVED 3999 127.0.0.1:6381" (the slot has a new
 * owner) or "ASK 3999 127.0.0.1:6381" (it is migrating; this key has moved). Fills *ask, *slot
 * and *node (its host without an IPv6 address's brackets; empty when the server did not know
 * its own address: "MOVED 3999 :6381", the node that answered then). Returns 0, or -1 when
 * text[0..len) is not one. */
int mf_redis_redirect_read(const char *text, size_t len, int *ask, unsigned *slot,
                           mf_redis_node_t *node);

#endif
