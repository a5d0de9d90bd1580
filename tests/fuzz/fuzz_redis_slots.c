/* Redis Cluster's slots (redis/cluster_slots.c): the input as a key, whose slot is in range and
 * is its hash tag's when it has one; as a redirect's text, read or refused, a slot in range and
 * a port from 1 to 65535 when read; and as a RESP reply read by hiredis's reader, which the
 * slot map takes or refuses: what it takes covers exactly the slots it counts, each owned by a
 * primary it lists (huge arrays skipped: resp.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis/cluster_slots.h"
#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *key = (const char *)data;
    unsigned slot = mf_redis_key_slot(key, size);
    if (slot >= MF_REDIS_CLUSTER_SLOTS)
        abort();
    const char *open = memchr(key, '{', size);
    const char *close = open ? memchr(open + 1, '}', size - (size_t)(open - key) - 1) : NULL;
    if (close && close > open + 1 &&
        slot != mf_redis_key_slot(open + 1, (size_t)(close - open - 1)))
        abort();

    int ask;
    mf_redis_node_t node;
    if (mf_redis_redirect_read(key, size, &ask, &slot, &node) == 0 &&
        (slot >= MF_REDIS_CLUSTER_SLOTS || node.port < 1 || node.port > 65535 ||
         strlen(node.host) >= sizeof node.host || (ask != 0 && ask != 1)))
        abort();

    if (fuzz_resp_huge_array(data, size))
        return 0;
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;
    redisReaderFeed(reader, key, size);
    if (redisReaderGetReply(reader, &reply) == REDIS_OK && reply) {
        static mf_redis_slot_map_t m;
        char err[256];
        if (mf_redis_slot_map_read(reply, &m, err, sizeof err) == 0) {
            int covered = 0;
            for (int s = 0; s < MF_REDIS_CLUSTER_SLOTS; s++) {
                if (m.owner[s] == MF_REDIS_SLOT_UNCOVERED)
                    continue;
                if (m.owner[s] >= m.nprimaries)
                    abort();
                covered++;
            }
            if (covered != m.covered)
                abort();
        } else if (strncmp(err, "CLUSTER SLOTS: ", 15) != 0) {
            abort();
        }
        mf_redis_slot_map_free(&m);
        freeReplyObject(reply);
    }
    redisReaderFree(reader);
    return 0;
}
