/* mayfly.crypto: the two primitives the stateful stdlib modules need and Lua cannot do well.
 * random_hex(n): 2n hex digits from the kernel's CSPRNG (session ids, lock and lease owner
 * tokens; math.random is not unpredictable enough for those). sha1hex(s): the SHA-1 Redis names
 * a script by, so EVALSHA can be tried before sending the script's source. */
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#include "base/random.h"
#include "lua/api/api.h"

/* ---- SHA-1 (FIPS 180-4), for script names only, not for security ---- */

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = ROL(a, 5) + f + e + k + w[i];
        e = d, d = c, c = ROL(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1_hex(const unsigned char *s, size_t len, char out[41])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    unsigned char tail[128];
    size_t full = len - len % 64, rest = len - full;
    for (size_t i = 0; i < full; i += 64)
        sha1_block(h, s + i);
    memset(tail, 0, sizeof tail);
    memcpy(tail, s + full, rest);
    tail[rest] = 0x80;
    size_t tlen = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t i = 0; i < tlen; i += 64)
        sha1_block(h, tail + i);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        unsigned byte = (h[i / 4] >> (24 - 8 * (i % 4))) & 0xff;
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
    out[40] = '\0';
}

static int l_crypto_sha1hex(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char out[41];
    sha1_hex((const unsigned char *)s, len, out);
    lua_pushlstring(L, out, 40);
    return 1;
}

static int l_crypto_random_hex(lua_State *L)
{
    char out[2 * 64 + 1];
    lua_Integer n = luaL_optinteger(L, 1, 16);
    luaL_argcheck(L, n >= 1 && n <= 64, 1, "between 1 and 64 bytes");
    mf_random_hex(out, (size_t)n);
    lua_pushlstring(L, out, (size_t)n * 2);
    return 1;
}

int luaopen_mayfly_crypto(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"random_hex", l_crypto_random_hex}, {"sha1hex", l_crypto_sha1hex}, {NULL, NULL}};
    lua_createtable(L, 0, 2);
    luaL_register(L, NULL, fns);
    return 1;
}
