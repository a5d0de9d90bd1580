/* mayfly.crypto's decoders (lua/api/crypto.c), which read what clients send: tokens, webhook
 * signatures, JWK members. The input is text for all three (base64, base64url, hex), each from an
 * exact-size copy so that a read past it is caught. OpenSSL's encoder is the oracle: what a
 * decoder accepts must encode back to the input itself (base64url: with '+' and '/' for '-'
 * and '_', and its padding added), which is what strict means (one encoding per byte string);
 * and the input read as bytes, encoded, must decode back to them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lua/api/crypto.h"

/* EVP_EncodeBlock's base64 of data as the alphabet writes it; its length. */
static size_t encode(mf_base64_alphabet_t alphabet, const uint8_t *data, size_t size, char *out)
{
    size_t len = (size_t)EVP_EncodeBlock((unsigned char *)out, data, (int)size);
    if (alphabet == MF_BASE64_STD)
        return len;
    while (len && out[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return len;
}

static void check_base64(mf_base64_alphabet_t alphabet, const uint8_t *data, size_t size)
{
    const char *err = NULL;
    char *text = malloc(size ? size : 1);
    unsigned char *out = malloc(MF_BASE64_DECODED_MAX(size) + 1);
    char *again = malloc(2 * size + 16); /* either encoding, and the NUL EVP_EncodeBlock adds */
    memcpy(text, data, size);

    long n = mf_base64_decode(alphabet, text, size, out, &err);
    if (n < 0 ? !err : (size_t)n > MF_BASE64_DECODED_MAX(size))
        abort();
    if (n >= 0) {
        size_t len = encode(alphabet, out, (size_t)n, again);
        /* base64url's padding is optional on input: compare without it */
        size_t in_len = size;
        while (alphabet == MF_BASE64_URL && in_len && text[in_len - 1] == '=')
            in_len--;
        if (len != in_len || memcmp(again, text, len))
            abort();
    }

    size_t len = encode(alphabet, data, size, again);
    unsigned char *back = malloc(MF_BASE64_DECODED_MAX(len) + 1);
    if (mf_base64_decode(alphabet, again, len, back, &err) != (long)size ||
        memcmp(back, data, size))
        abort();
    free(back);
    free(again);
    free(out);
    free(text);
}

static void check_hex(const uint8_t *data, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    const char *err = NULL;
    char *text = malloc(size ? size : 1), *again = malloc(2 * size + 1);
    unsigned char *out = malloc(MF_HEX_DECODED_MAX(size) + 1);
    memcpy(text, data, size);

    long n = mf_hex_decode(text, size, out, &err);
    if (n < 0 ? !err : (size_t)n * 2 != size)
        abort();
    for (long i = 0; i < n; i++) /* either case in, so compare folded */
        if ((text[2 * i] | 0x20) != digits[out[i] >> 4] ||
            (text[2 * i + 1] | 0x20) != digits[out[i] & 15])
            abort();

    for (size_t i = 0; i < size; i++) {
        again[2 * i] = digits[data[i] >> 4];
        again[2 * i + 1] = digits[data[i] & 15];
    }
    unsigned char *back = malloc(size + 1);
    if (mf_hex_decode(again, 2 * size, back, &err) != (long)size || memcmp(back, data, size))
        abort();
    free(back);
    free(out);
    free(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_base64(MF_BASE64_STD, data, size);
    check_base64(MF_BASE64_URL, data, size);
    check_hex(data, size);
    return 0;
}
