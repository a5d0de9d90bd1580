/* The generator's own file, included: the known-answer test needs its block function and state.
 * This executable then defines mf_random_* itself and takes nothing else from the core. */
#include "base/random.c"

#include <pthread.h>
#include <stdlib.h>

#include "test.h"

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void unhex(const char *hex, unsigned char *out)
{
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* RFC 8439, A.1, test vectors 1 and 2: the ChaCha20 blocks of the all-zero key and nonce with
 * counters 0 and 1. */
TEST(the_blocks_are_chacha20)
{
    static const char *const expected[2] = {
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586",
        "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
        "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f",
    };
    memset(rng.key, 0, sizeof rng.key);
    rng.batches = 1; /* no kernel bytes mixed in this time */
    refill();
    const uint32_t *out = (const uint32_t *)rng.out; /* word w of block b at [4 * w + b] */
    for (int b = 0; b < 2; b++) {
        unsigned char block[64];
        unhex(expected[b], block);
        for (int w = 0; w < 14; w++)
            ASSERT_EQ_INT(out[4 * w + b], le32(block + 4 * w));
        /* Words 14 and 15 of the four blocks are the next key, never handed out. */
        ASSERT_EQ_INT(rng.key[b], le32(block + 56));
        ASSERT_EQ_INT(rng.key[4 + b], le32(block + 60));
    }
    /* The next batch runs under that key: different output. */
    uint64_t first = rng.out[0];
    refill();
    ASSERT_TRUE(rng.out[0] != first);
}

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

TEST(hex_has_the_asked_length)
{
    for (size_t n = 1; n <= 64; n++) {
        char out[2 * 64 + 2];
        memset(out, 'X', sizeof out);
        mf_random_hex(out, n);
        ASSERT_EQ_INT(strlen(out), 2 * n);
        ASSERT_TRUE(lower_hex(out, 2 * n));
        ASSERT_EQ_INT(out[2 * n + 1], 'X');
    }
}

/* Each of the 16 digits turns up at each of the 32 places of a 16-byte id: a wrong digit map or
 * a stuck nibble would leave gaps. (Missing one by chance in 2000 ids: about 1 in 10^50.) */
TEST(hex_uses_every_digit_everywhere)
{
    unsigned seen[32] = {0};
    for (int i = 0; i < 2000; i++) {
        char id[33];
        mf_random_hex(id, 16);
        for (int p = 0; p < 32; p++)
            seen[p] |= 1u << (id[p] <= '9' ? id[p] - '0' : id[p] - 'a' + 10);
    }
    for (int p = 0; p < 32; p++)
        ASSERT_EQ_INT(seen[p], 0xffff);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Far past one batch and past a reseed (RESEED_BATCHES batches): no value comes back. */
TEST(values_do_not_repeat)
{
    size_t n = (size_t)(RESEED_BATCHES + 10) * OUT_WORDS;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = mf_random_u64();
    qsort(v, n, sizeof *v, cmp_u64);
    size_t repeats = 0;
    for (size_t i = 1; i < n; i++)
        repeats += v[i] == v[i - 1];
    free(v);
    ASSERT_EQ_INT(repeats, 0);
}

TEST(bytes_fill_exactly_what_is_asked)
{
    unsigned char b[13];
    memset(b, 0, sizeof b);
    mf_random_bytes(b, 11);
    ASSERT_EQ_INT(b[11], 0);
    ASSERT_EQ_INT(b[12], 0);
    int nonzero = 0;
    for (int i = 0; i < 11; i++)
        nonzero += b[i] != 0;
    ASSERT_TRUE(nonzero > 0);
}

static void *draw(void *out)
{
    *(uint64_t *)out = mf_random_u64();
    return NULL;
}

/* Each thread keys its own generator from the kernel. */
TEST(threads_get_their_own_streams)
{
    uint64_t v[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, draw, &v[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    qsort(v, 4, sizeof *v, cmp_u64);
    for (int i = 1; i < 4; i++)
        ASSERT_TRUE(v[i] != v[i - 1]);
}

int main(void)
{
    RUN(the_blocks_are_chacha20);
    RUN(hex_has_the_asked_length);
    RUN(hex_uses_every_digit_everywhere);
    RUN(values_do_not_repeat);
    RUN(bytes_fill_exactly_what_is_asked);
    RUN(threads_get_their_own_streams);
    TEST_MAIN_END();
}
