#include "random.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static __thread unsigned char pool[4096];
static __thread size_t avail;

static void refill(void)
{
    size_t got = 0;
    while (got < sizeof pool) {
        ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "mayfly: fatal: getrandom failed\n");
            abort();
        }
        got += (size_t)n;
    }
    avail = sizeof pool;
}

void mf_random_bytes(void *out, size_t n)
{
    unsigned char *o = out;
    while (n > 0) {
        if (!avail)
            refill();
        size_t take = n < avail ? n : avail;
        /* Bytes are consumed from the end and wiped: none is handed out twice. */
        memcpy(o, pool + avail - take, take);
        memset(pool + avail - take, 0, take);
        avail -= take;
        o += take;
        n -= take;
    }
}

uint64_t mf_random_u64(void)
{
    uint64_t v;
    mf_random_bytes(&v, sizeof v);
    return v;
}

void mf_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    if (n > sizeof b)
        n = sizeof b;
    mf_random_bytes(b, n);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}
