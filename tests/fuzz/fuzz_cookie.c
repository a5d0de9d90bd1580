/* Cookie request headers (http/cookie.c), the input as one header read from an exact-size copy:
 * every pair yielded lies inside it, in order, with a token for a name and a value free of
 * control bytes and '"'; each call moves forward, so the loop ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/syntax.h"
#include "http/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = malloc(size ? size : 1);
    memcpy(h, data, size);
    const char *p = h, *end = h + size, *last = h;
    mf_cookie_t c;
    while (mf_cookie_next(&p, end, &c)) {
        if (c.name < last || c.name + c.name_len > c.value || c.value + c.value_len > p ||
            p > end || !mf_syntax_http_token(c.name, c.name_len))
            abort();
        for (size_t i = 0; i < c.value_len; i++) {
            unsigned char b = (unsigned char)c.value[i];
            if (b < 0x20 || b == 0x7f || b == '"')
                abort();
        }
        last = c.value + c.value_len;
    }
    if (p != end)
        abort();
    free(h);
    return 0;
}
