/* Private to mayfly.crypto's two files (crypto.c: digests, MACs, codecs, randomness;
 * crypto_keys.c: public-key signatures) and to the fuzzer of its decoders. The decoders read
 * untrusted text (tokens, webhook headers, JWK members), so they are plain C over a caller's
 * buffer, with no Lua, where a fuzzer can reach them. */
#ifndef MF_LUA_API_CRYPTO_H
#define MF_LUA_API_CRYPTO_H

#include <stddef.h>

#include <lua.h>

typedef enum {
    MF_BASE64_STD, /* RFC 4648 section 4: '+' and '/', padding required */
    MF_BASE64_URL, /* section 5: '-' and '_', padding optional (correct when present) */
} mf_base64_alphabet_t;

/* Room enough for the decoding of len characters of hex or base64. */
#define MF_HEX_DECODED_MAX(len) ((len) / 2)
#define MF_BASE64_DECODED_MAX(len) ((len) / 4 * 3 + 2)

/* Decodes hex digits (either case) into out (MF_HEX_DECODED_MAX(len) bytes). Returns the
 * length, or -1 with *err set (a static message) when len is odd or a character is no digit. */
long mf_hex_decode(const char *in, size_t len, unsigned char *out, const char **err);

/* Decodes base64 of the alphabet into out (MF_BASE64_DECODED_MAX(len) bytes). Strict: no
 * whitespace, no character outside the alphabet, padding only at the end and only as much as
 * the length calls for, and the unused bits of the last character zero (so one byte string has
 * one encoding). Returns the length, or -1 with *err set (a static message). */
long mf_base64_decode(mf_base64_alphabet_t alphabet, const char *in, size_t len, unsigned char *out,
                      const char **err);

/* Adds sign, verify, jwk_key and public_pem (crypto_keys.c) to the module table on the top of
 * the stack. */
void mf_crypto_keys_open(lua_State *L);

#endif
