/* mayfly.crypto: digests, HMAC, encodings, randomness, ids and a constant-time comparison, on
 * OpenSSL's libcrypto (EVP) where there is cryptography; signatures are crypto_keys.c's. The
 * algorithms are fetched once per process, and each Lua state keeps one digest context and one
 * HMAC context per algorithm that every call re-initialises: fetching by name on each call
 * (EVP_sha256(), HMAC()) costs three times the hashing of a token. Randomness is
 * base/random.h's: a ChaCha20 generator per thread keyed from getrandom(2).
 *
 * OpenSSL reports failures on a per-thread error queue that the Redis TLS transport reads on the
 * same thread (SSL_get_error), so every failing path here empties it before returning. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/random.h"
#include "base/syntax.h"
#include "lua/api/api.h"
#include "lua/api/crypto.h"

/* ---- algorithms, fetched once per process ---- */

enum { ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512, ALG_COUNT };
static const char *const alg_names[ALG_COUNT] = {"sha1", "sha256", "sha384", "sha512"};
static const char *const alg_ossl[ALG_COUNT] = {"SHA1", "SHA256", "SHA384", "SHA512"};

/* Fetched methods are reference-counted and safe to share between threads; these live as long as
 * the process. A NULL one (a provider without it) fails its calls, not the module. */
static EVP_MD *digests[ALG_COUNT];
static EVP_MAC *hmac_method;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
    for (int i = 0; i < ALG_COUNT; i++)
        digests[i] = EVP_MD_fetch(NULL, alg_ossl[i], NULL);
    hmac_method = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ERR_clear_error();
}

/* ---- a state's contexts ---- */

static char contexts_key;

typedef struct {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *hmac[ALG_COUNT]; /* made on first use, with its digest set */
} contexts_t;

static int contexts_gc(lua_State *L)
{
    contexts_t *c = lua_touserdata(L, 1);
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
    for (int i = 0; i < ALG_COUNT; i++) {
        EVP_MAC_CTX_free(c->hmac[i]); /* also clears the last key */
        c->hmac[i] = NULL;
    }
    return 0;
}

static contexts_t *contexts(lua_State *L)
{
    lua_pushlightuserdata(L, &contexts_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    contexts_t *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
}

/* Raises with OpenSSL's reason, its queue emptied first. */
static int raise_openssl(lua_State *L, const char *fn)
{
    const char *reason = ERR_reason_error_string(ERR_peek_last_error());
    char msg[256];
    snprintf(msg, sizeof msg, "mayfly.crypto.%s: OpenSSL failed: %s", fn,
             reason ? reason : "no reason given");
    ERR_clear_error();
    return luaL_error(L, "%s", msg);
}

static int alg_index(const char *name)
{
    for (int i = 0; i < ALG_COUNT; i++)
        if (!strcmp(name, alg_names[i]))
            return i;
    return -1;
}

/* ---- scratch memory ---- */

/* A buffer of n bytes: stack (when n fits) or a userdata the collector frees, so a raise while
 * it is in use leaks nothing. May raise. */
static unsigned char *scratch(lua_State *L, size_t n, unsigned char *stack, size_t stack_size)
{
    return n <= stack_size ? stack : lua_newuserdata(L, n);
}

/* ---- digests and HMAC ---- */

static int digest(lua_State *L, int alg, const char *fn, unsigned char out[EVP_MAX_MD_SIZE],
                  unsigned *out_len)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    EVP_MD_CTX *ctx = contexts(L)->md;
    if (!digests[alg])
        return luaL_error(L, "mayfly.crypto.%s: OpenSSL offers no %s here", fn, alg_ossl[alg]);
    if (!EVP_DigestInit_ex(ctx, digests[alg], NULL) || !EVP_DigestUpdate(ctx, s, len) ||
        !EVP_DigestFinal_ex(ctx, out, out_len))
        return raise_openssl(L, fn);
    return 0;
}

static int push_digest(lua_State *L, int alg, const char *fn)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len;
    digest(L, alg, fn, out, &len);
    lua_pushlstring(L, (const char *)out, len);
    return 1;
}

static int l_crypto_sha1(lua_State *L)
{
    return push_digest(L, ALG_SHA1, "sha1");
}

static int l_crypto_sha256(lua_State *L)
{
    return push_digest(L, ALG_SHA256, "sha256");
}

static int l_crypto_sha512(lua_State *L)
{
    return push_digest(L, ALG_SHA512, "sha512");
}

static const char hex_digits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *s, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_digits[s[i] >> 4];
        out[2 * i + 1] = hex_digits[s[i] & 15];
    }
}

/* The SHA-1 Redis names a script by, so EVALSHA can be tried before sending the source. */
static int l_crypto_sha1hex(lua_State *L)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len;
    char hex[2 * EVP_MAX_MD_SIZE];
    digest(L, ALG_SHA1, "sha1hex", out, &len);
    hex_encode(out, len, hex);
    lua_pushlstring(L, hex, 2 * len);
    return 1;
}

static int l_crypto_hmac(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    size_t key_len, msg_len, out_len;
    const char *key = luaL_checklstring(L, 2, &key_len);
    const char *msg = luaL_checklstring(L, 3, &msg_len);
    int alg = alg_index(name);
    if (alg < 0)
        return luaL_error(L,
                          "mayfly.crypto.hmac: unknown algorithm '%s' (sha1, sha256, "
                          "sha384, sha512)",
                          name);
    contexts_t *c = contexts(L);
    if (!c->hmac[alg]) {
        if (!hmac_method || !digests[alg])
            return luaL_error(L, "mayfly.crypto.hmac: OpenSSL offers no HMAC-%s here",
                              alg_ossl[alg]);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)alg_ossl[alg], 0),
            OSSL_PARAM_construct_end()};
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_method);
        if (!ctx || !EVP_MAC_CTX_set_params(ctx, params)) {
            EVP_MAC_CTX_free(ctx);
            return raise_openssl(L, "hmac");
        }
        c->hmac[alg] = ctx;
    }
    /* A NULL key would keep the previous call's key: a Lua string is never NULL, "" included. */
    unsigned char out[EVP_MAX_MD_SIZE];
    if (!EVP_MAC_init(c->hmac[alg], (const unsigned char *)key, key_len, NULL) ||
        !EVP_MAC_update(c->hmac[alg], (const unsigned char *)msg, msg_len) ||
        !EVP_MAC_final(c->hmac[alg], out, &out_len, sizeof out))
        return raise_openssl(L, "hmac");
    lua_pushlstring(L, (const char *)out, out_len);
    return 1;
}

/* ---- hex and base64 ---- */

long mf_hex_decode(const char *in, size_t len, unsigned char *out, const char **err)
{
    if (len % 2) {
        *err = "odd number of hex digits";
        return -1;
    }
    for (size_t i = 0; i < len; i += 2) {
        int hi = mf_syntax_hex_digit((unsigned char)in[i]),
            lo = mf_syntax_hex_digit((unsigned char)in[i + 1]);
        if (hi < 0 || lo < 0) {
            *err = "a character that is not a hex digit";
            return -1;
        }
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(mf_base64_alphabet_t alphabet, unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (alphabet == MF_BASE64_URL ? '-' : '+'))
        return 62;
    if (c == (alphabet == MF_BASE64_URL ? '_' : '/'))
        return 63;
    return -1;
}

long mf_base64_decode(mf_base64_alphabet_t alphabet, const char *in, size_t len, unsigned char *out,
                      const char **err)
{
    size_t n = len, pad = 0, o = 0;
    while (n > 0 && pad < 2 && in[n - 1] == '=')
        n--, pad++;
    if (alphabet == MF_BASE64_STD && len % 4) {
        *err = "length is not a multiple of 4 (padding missing?)";
        return -1;
    }
    if (n % 4 == 1 || (pad && n % 4 + pad != 4)) {
        *err = n % 4 == 1 ? "truncated" : "wrong padding";
        return -1;
    }
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(alphabet, (unsigned char)in[i]);
        if (v < 0) {
            *err = in[i] == '=' ? "padding before the end" : "a character outside the alphabet";
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    /* The last group: 2 characters carry one byte and 4 unused bits, 3 carry two and 2. */
    if (n % 4 == 2) {
        if (acc & 0xf)
            goto unused_bits;
        out[o++] = (unsigned char)(acc >> 4);
    } else if (n % 4 == 3) {
        if (acc & 0x3)
            goto unused_bits;
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    return (long)o;
unused_bits:
    *err = "the last character has bits that encode nothing (not canonical)";
    return -1;
}

/* Pushes the base64 of s (padded for MF_BASE64_STD, not for MF_BASE64_URL). May raise. */
static void base64_push(lua_State *L, mf_base64_alphabet_t alphabet, const unsigned char *s,
                        size_t len)
{
    const char *abc = alphabet == MF_BASE64_URL ? b64_url : b64_std;
    size_t rest = len % 3, full = len - rest;
    size_t out_len = full / 3 * 4 + (rest == 0 ? 0 : alphabet == MF_BASE64_URL ? rest + 1 : 4);
    unsigned char stack[1024];
    char *out = (char *)scratch(L, out_len, stack, sizeof stack);
    size_t o = 0;
    for (size_t i = 0; i < full; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (rest) {
        uint32_t v = (uint32_t)s[full] << 16 | (rest == 2 ? (uint32_t)s[full + 1] << 8 : 0);
        out[o++] = abc[v >> 18];
        out[o++] = abc[v >> 12 & 63];
        if (rest == 2)
            out[o++] = abc[v >> 6 & 63];
        while (alphabet == MF_BASE64_STD && o % 4)
            out[o++] = '=';
    }
    lua_pushlstring(L, out, out_len);
}

static int l_crypto_hex(lua_State *L)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    unsigned char stack[1024];
    char *out = (char *)scratch(L, 2 * len, stack, sizeof stack);
    hex_encode(s, len, out);
    lua_pushlstring(L, out, 2 * len);
    return 1;
}

static int push_decoded(lua_State *L, long n, const unsigned char *out, const char *fn,
                        const char *err)
{
    if (n < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", fn, err);
        return 2;
    }
    lua_pushlstring(L, (const char *)out, (size_t)n);
    return 1;
}

static int l_crypto_unhex(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len), *err = NULL;
    unsigned char stack[1024];
    unsigned char *out = scratch(L, MF_HEX_DECODED_MAX(len), stack, sizeof stack);
    long n = mf_hex_decode(s, len, out, &err);
    return push_decoded(L, n, out, "unhex", err);
}

static int base64_decode(lua_State *L, mf_base64_alphabet_t alphabet, const char *fn)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len), *err = NULL;
    unsigned char stack[1024];
    unsigned char *out = scratch(L, MF_BASE64_DECODED_MAX(len), stack, sizeof stack);
    long n = mf_base64_decode(alphabet, s, len, out, &err);
    return push_decoded(L, n, out, fn, err);
}

static int base64_encode(lua_State *L, mf_base64_alphabet_t alphabet)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    base64_push(L, alphabet, s, len);
    return 1;
}

static int l_crypto_base64(lua_State *L)
{
    return base64_encode(L, MF_BASE64_STD);
}

static int l_crypto_base64url(lua_State *L)
{
    return base64_encode(L, MF_BASE64_URL);
}

static int l_crypto_unbase64(lua_State *L)
{
    return base64_decode(L, MF_BASE64_STD, "unbase64");
}

static int l_crypto_unbase64url(lua_State *L)
{
    return base64_decode(L, MF_BASE64_URL, "unbase64url");
}

/* ---- randomness and ids ---- */

#define RANDOM_BYTES_MAX 65536

static int l_crypto_random_bytes(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= RANDOM_BYTES_MAX, 1, "between 1 and 65536 bytes");
    unsigned char stack[1024];
    unsigned char *out = scratch(L, (size_t)n, stack, sizeof stack);
    mf_random_bytes(out, (size_t)n);
    lua_pushlstring(L, (const char *)out, (size_t)n);
    return 1;
}

/* Session ids, lock and lease owner tokens: math.random is not unpredictable enough for those. */
static int l_crypto_random_hex(lua_State *L)
{
    char out[2 * 64 + 1];
    lua_Integer n = luaL_optinteger(L, 1, 16);
    luaL_argcheck(L, n >= 1 && n <= 64, 1, "between 1 and 64 bytes");
    mf_random_hex(out, (size_t)n);
    lua_pushlstring(L, out, (size_t)n * 2);
    return 1;
}

/* Pushes the 16 bytes as 8-4-4-4-12 lower-case hex. */
static int push_uuid(lua_State *L, const unsigned char b[16])
{
    char out[36];
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex_digits[b[i] >> 4];
        out[o++] = hex_digits[b[i] & 15];
    }
    lua_pushlstring(L, out, sizeof out);
    return 1;
}

/* RFC 9562 section 5.4: 122 random bits, version 4, variant 10. */
static int l_crypto_uuid(lua_State *L)
{
    unsigned char b[16];
    mf_random_bytes(b, sizeof b);
    b[6] = (unsigned char)(0x40 | (b[6] & 0x0f));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    return push_uuid(L, b);
}

/* The last uuid7's 48-bit millisecond timestamp and 12-bit rand_a, as one number, shared by the
 * process's threads: each uuid7 takes the clock's value when that is greater, else the last one
 * plus one (RFC 9562 section 6.2, method 1: rand_a is a counter, started at a random value below
 * 2048 each millisecond so that 2048 ids per millisecond fit before it carries into the
 * timestamp). So the ids one process makes strictly increase, as numbers and as strings, even
 * when the clock steps back. */
static _Atomic uint64_t uuid7_last;

static int l_crypto_uuid7(lua_State *L)
{
    unsigned char b[16];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    mf_random_bytes(b, sizeof b);
    uint64_t want = (ms & 0xffffffffffffULL) << 12 | (((uint64_t)b[6] << 8 | b[7]) & 0x7ff);
    uint64_t last = atomic_load(&uuid7_last), next;
    do
        next = want > last ? want : last + 1;
    while (!atomic_compare_exchange_weak(&uuid7_last, &last, next));
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(next >> (12 + 8 * (5 - i)));
    b[6] = (unsigned char)(0x70 | (next >> 8 & 0x0f));
    b[7] = (unsigned char)next;
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    return push_uuid(L, b);
}

/* ---- comparison ---- */

/* Time depends on the lengths only: CRYPTO_memcmp reads every byte whatever differs. */
static int l_crypto_equal(lua_State *L)
{
    size_t a_len, b_len;
    const char *a = luaL_checklstring(L, 1, &a_len);
    const char *b = luaL_checklstring(L, 2, &b_len);
    lua_pushboolean(L, a_len == b_len && CRYPTO_memcmp(a, b, a_len) == 0);
    return 1;
}

int luaopen_mayfly_crypto(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"sha1", l_crypto_sha1},
        {"sha256", l_crypto_sha256},
        {"sha512", l_crypto_sha512},
        {"hmac", l_crypto_hmac},
        {"hex", l_crypto_hex},
        {"unhex", l_crypto_unhex},
        {"base64", l_crypto_base64},
        {"unbase64", l_crypto_unbase64},
        {"base64url", l_crypto_base64url},
        {"unbase64url", l_crypto_unbase64url},
        {"random_bytes", l_crypto_random_bytes},
        {"random_hex", l_crypto_random_hex},
        {"uuid", l_crypto_uuid},
        {"uuid7", l_crypto_uuid7},
        {"equal", l_crypto_equal},
        {"sha1hex", l_crypto_sha1hex},
        {NULL, NULL},
    };
    pthread_once(&fetch_once, fetch_algorithms);

    lua_pushlightuserdata(L, &contexts_key);
    contexts_t *c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, contexts_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (!(c->md = EVP_MD_CTX_new()))
        return luaL_error(L, "mayfly.crypto: out of memory");
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_createtable(L, 0, 20);
    luaL_register(L, NULL, fns);
    mf_crypto_keys_open(L);
    return 1;
}
