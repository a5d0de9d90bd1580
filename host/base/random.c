#include "base/random.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- the kernel's bytes: keys only ---- */

static void os_bytes(void *out, size_t len)
{
    unsigned char *o = out;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(o + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "mayfly: fatal: getrandom failed\n");
            abort();
        }
        got += (size_t)n;
    }
}

/* ---- ChaCha20, four blocks at a time ---- */

/* One vector lane per block: the four blocks' rounds run side by side (SSE2 on x86-64, NEON on
 * arm64; GCC and Clang lower the vector type to scalar code elsewhere). */
typedef uint32_t v4u __attribute__((vector_size(16)));

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define QUARTER(a, b, c, d)                                                                        \
    do {                                                                                           \
        a += b, d ^= a, d = ROTL(d, 16);                                                           \
        c += d, b ^= c, b = ROTL(b, 12);                                                           \
        a += b, d ^= a, d = ROTL(d, 8);                                                            \
        c += d, b ^= c, b = ROTL(b, 7);                                                            \
    } while (0)

#define KEY_WORDS 8
#define OUT_WORDS ((64 * 4 - KEY_WORDS * 4) / 8) /* four blocks less the next key, in u64 */
#define RESEED_BATCHES 4096 /* kernel bytes mixed into the key every ~900 KiB of output */

static __thread struct {
    uint32_t key[KEY_WORDS];
    uint64_t out[OUT_WORDS]; /* handed out from the end, wiped as it goes */
    unsigned avail;
    unsigned batches; /* made; the kernel's bytes go into the key before every RESEED_BATCHES-th */
} rng;

/* Four blocks (counters 0-3, nonce 0) of the current key: their words 14 and 15, the last 32
 * bytes as the lanes lie, become the next key and are never handed out (fast key erasure); the
 * rest is output. Each key is used once, so nothing in memory tells the bytes handed out before. */
static void refill(void)
{
    static const uint32_t sigma[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    v4u in[16], x[16];

    if (rng.batches++ % RESEED_BATCHES == 0) {
        uint32_t fresh[KEY_WORDS];
        os_bytes(fresh, sizeof fresh);
        for (int i = 0; i < KEY_WORDS; i++)
            rng.key[i] ^= fresh[i];
        explicit_bzero(fresh, sizeof fresh);
    }
    for (int i = 0; i < 4; i++)
        in[i] = (v4u){sigma[i], sigma[i], sigma[i], sigma[i]};
    for (int i = 0; i < KEY_WORDS; i++)
        in[4 + i] = (v4u){rng.key[i], rng.key[i], rng.key[i], rng.key[i]};
    in[12] = (v4u){0, 1, 2, 3};
    in[13] = in[14] = in[15] = (v4u){0, 0, 0, 0};
    memcpy(x, in, sizeof x);
    for (int round = 0; round < 20; round += 2) {
        QUARTER(x[0], x[4], x[8], x[12]);
        QUARTER(x[1], x[5], x[9], x[13]);
        QUARTER(x[2], x[6], x[10], x[14]);
        QUARTER(x[3], x[7], x[11], x[15]);
        QUARTER(x[0], x[5], x[10], x[15]);
        QUARTER(x[1], x[6], x[11], x[12]);
        QUARTER(x[2], x[7], x[8], x[13]);
        QUARTER(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++)
        x[i] += in[i];
    memcpy(rng.out, x, sizeof rng.out);
    memcpy(rng.key, (unsigned char *)x + sizeof rng.out, sizeof rng.key);
    rng.avail = OUT_WORDS;
    explicit_bzero(in, sizeof in);
    explicit_bzero(x, sizeof x);
}

uint64_t mf_random_u64(void)
{
    if (!rng.avail)
        refill();
    uint64_t v = rng.out[--rng.avail];
    rng.out[rng.avail] = 0; /* none is handed out twice or kept */
    return v;
}

void mf_random_bytes(void *out, size_t n)
{
    unsigned char *o = out;
    for (; n >= 8; n -= 8, o += 8) {
        uint64_t v = mf_random_u64();
        memcpy(o, &v, 8);
    }
    if (n) {
        uint64_t v = mf_random_u64();
        memcpy(o, &v, n);
    }
}

/* 16 lowercase hex digits for the 16 nibbles of v, eight at a time: each byte of a nibble
 * vector is 0-15; '0' + n, plus 39 more for the digits past '9'. */
static void hex16(char *out, uint64_t v)
{
    const uint64_t ones = 0x0101010101010101u;
    uint64_t nib[2] = {(v >> 4) & 0x0f * ones, v & 0x0f * ones};
    for (int i = 0; i < 2; i++) {
        uint64_t past9 = ((nib[i] + 6 * ones) >> 4) & ones;
        uint64_t ascii = nib[i] + '0' * ones + past9 * ('a' - '0' - 10);
        memcpy(out + 8 * i, &ascii, 8);
    }
}

void mf_random_hex(char *out, size_t n)
{
    size_t i = 0;
    if (n > 64)
        n = 64;
    for (; i + 8 <= n; i += 8)
        hex16(out + 2 * i, mf_random_u64());
    if (i < n) {
        char tail[16];
        hex16(tail, mf_random_u64());
        memcpy(out + 2 * i, tail, 2 * (n - i));
    }
    out[2 * n] = '\0';
}
