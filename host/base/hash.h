/* FNV-1a: version labels of script and config snapshots, not a security measure. */
#ifndef MF_HASH_H
#define MF_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MF_HASH_INIT 1469598103934665603ULL

static inline uint64_t mf_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

#endif
