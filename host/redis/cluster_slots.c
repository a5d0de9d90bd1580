#include "redis/cluster_slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial 0, no reflection, as the specification's
 * reference implementation; a byte at a time through the table of the polynomial's remainders
 * (crc16_table[b] is the bit-by-bit CRC of the byte b shifted into the high half). */
static const uint16_t crc16_table[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b,
    0xc18c, 0xd1ad, 0xe1ce, 0xf1ef, 0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de, 0x2462, 0x3443, 0x0420, 0x1401,
    0x64e6, 0x74c7, 0x44a4, 0x5485, 0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4, 0xb75b, 0xa77a, 0x9719, 0x8738,
    0xf7df, 0xe7fe, 0xd79d, 0xc7bc, 0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b, 0x5af5, 0x4ad4, 0x7ab7, 0x6a96,
    0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41, 0xedae, 0xfd8f, 0xcdec, 0xddcd,
    0xad2a, 0xbd0b, 0x8d68, 0x9d49, 0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78, 0x9188, 0x81a9, 0xb1ca, 0xa1eb,
    0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290, 0x22f3, 0x32d2,
    0x4235, 0x5214, 0x6277, 0x7256, 0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405, 0xa7db, 0xb7fa, 0x8799, 0x97b8,
    0xe75f, 0xf77e, 0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827,
    0x18c0, 0x08e1, 0x3882, 0x28a3, 0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92, 0xfd2e, 0xed0f, 0xdd6c, 0xcd4d,
    0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74,
    0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

static uint16_t crc16(const char *s, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)(crc << 8) ^ crc16_table[((crc >> 8) ^ (unsigned char)s[i]) & 0xff];
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
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer >= MF_REDIS_CLUSTER_SLOTS)
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

int mf_redis_slot_map_read(const redisReply *r, mf_redis_slot_map_t *m, char *err, size_t errlen)
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

/* Reads the decimal number of s[0..len) into *v, at most max. */
static int read_decimal(const char *s, size_t len, unsigned long max, unsigned long *v)
{
    *v = 0;
    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (unsigned long)(s[i] - '0');
    }
    return *v <= max ? 0 : -1;
}

int mf_redis_redirect_read(const char *text, size_t len, int *ask, unsigned *slot,
                           mf_redis_node_t *node)
{
    size_t skip;
    if (len > 6 && !memcmp(text, "MOVED ", 6)) {
        *ask = 0;
        skip = 6;
    } else if (len > 4 && !memcmp(text, "ASK ", 4)) {
        *ask = 1;
        skip = 4;
    } else {
        return -1;
    }
    const char *p = text + skip, *end = text + len;
    const char *space = memchr(p, ' ', (size_t)(end - p));
    unsigned long v;
    if (!space || read_decimal(p, (size_t)(space - p), MF_REDIS_CLUSTER_SLOTS - 1, &v))
        return -1;
    *slot = (unsigned)v;
    const char *addr = space + 1, *colon = NULL;
    for (const char *q = addr; q < end; q++)
        if (*q == ':')
            colon = q;
    if (!colon || read_decimal(colon + 1, (size_t)(end - colon - 1), 65535, &v) || v == 0)
        return -1;
    node->port = (int)v;
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
        addr++;
        hlen -= 2;
    }
    if (hlen >= sizeof node->host || memchr(addr, '\0', hlen) || memchr(addr, ' ', hlen))
        return -1;
    memcpy(node->host, addr, hlen);
    node->host[hlen] = '\0';
    return 0;
}
