#include "redis/cluster_slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial 0, no reflection, as the specification's
 * reference implementation; bit by bit (keys are short, and no table to build or share). */
static uint16_t crc16(const char *s, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)s[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned mf_redis_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & (MF_REDIS_CLUSTER_SLOTS - 1);
    }
    return crc16(key, len) & (MF_REDIS_CLUSTER_SLOTS - 1);
}

void mf_redis_slot_map_free(mf_redis_slot_map_t *m)
{
    free(m->primaries);
    m->primaries = NULL;
    m->nprimaries = 0;
}

static int slot_number(const redisReply *r, long long *v)
{
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 ||
        r->integer >= MF_REDIS_CLUSTER_SLOTS)
        return -1;
    *v = r->integer;
    return 0;
}

/* The index of the primary [host, port, ...] in m, added when new; -1 when malformed. */
static int primary_index(mf_redis_slot_map_t *m, const redisReply *node)
{
    if (node->type != REDIS_REPLY_ARRAY || node->elements < 2 ||
        node->element[0]->type != REDIS_REPLY_STRING ||
        node->element[1]->type != REDIS_REPLY_INTEGER || node->element[0]->len >= 256 ||
        memchr(node->element[0]->str, '\0', node->element[0]->len) ||
        node->element[1]->integer <= 0 || node->element[1]->integer > 65535)
        return -1;
    const char *host = node->element[0]->str;
    int port = (int)node->element[1]->integer;
    for (int i = 0; i < m->nprimaries; i++)
        if (m->primaries[i].port == port && !strcmp(m->primaries[i].host, host))
            return i;
    if (m->nprimaries == MF_REDIS_SLOT_UNCOVERED)
        return -1;
    m->primaries = mf_xrealloc(m->primaries, (size_t)(m->nprimaries + 1) * sizeof *m->primaries);
    mf_redis_node_t *p = &m->primaries[m->nprimaries];
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    return m->nprimaries++;
}

int mf_redis_slot_map_read(const redisReply *r, mf_redis_slot_map_t *m, char *err,
                           size_t errlen)
{
    memset(m, 0, sizeof *m);
    memset(m->owner, 0xff, sizeof m->owner);
    if (r->type != REDIS_REPLY_ARRAY) {
        int error = r->type == REDIS_REPLY_ERROR;
        snprintf(err, errlen, "CLUSTER SLOTS: not an array%s%.200s", error ? ": " : "",
                 error ? r->str : "");
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *range = r->element[i];
        long long start, end;
        int owner;
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            slot_number(range->element[0], &start) || slot_number(range->element[1], &end) ||
            start > end || (owner = primary_index(m, range->element[2])) < 0) {
            snprintf(err, errlen, "CLUSTER SLOTS: range %zu is not [start, end, [host, port...]]",
                     i + 1);
            return -1;
        }
        for (long long s = start; s <= end; s++) {
            if (m->owner[s] != MF_REDIS_SLOT_UNCOVERED) {
                snprintf(err, errlen, "CLUSTER SLOTS: slot %lld is in two ranges", s);
                return -1;
            }
            m->owner[s] = (uint16_t)owner;
            m->covered++;
        }
    }
    return 0;
}
