/* The settings' parsers (options.c): the input, cut at its first NUL, is given to every parser.
 * Checks their promises: a duration within 0..1e12 ms, a listen port within 0..65535 and a
 * NUL-terminated host, an int within its bounds, and outputs untouched on failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    int64_t ms = -7;
    if (mf_parse_duration_ms(s, &ms) == 0 ? ms < 0 || ms > 1000000000000LL : ms != -7)
        abort();
    size_t bytes = 7;
    if (mf_parse_size(s, &bytes) != 0 && bytes != 7)
        abort();
    mf_listen_t l;
    memset(&l, 'x', sizeof l);
    l.port = -7;
    if (mf_parse_listen(s, &l) == 0 &&
        (l.port < 0 || l.port > 65535 || !memchr(l.host, '\0', sizeof l.host)))
        abort();
    long v = -7;
    if (mf_parse_int(s, -100, 100, &v) == 0 ? v < -100 || v > 100 : v != -7)
        abort();
    int b = -7, level = -7;
    if (mf_parse_bool(s, &b) == 0 ? b != 0 && b != 1 : b != -7)
        abort();
    if (mf_parse_log_level(s, &level) == 0 ? level < MF_LOG_DEBUG || level > MF_LOG_ERROR
                                           : level != -7)
        abort();
    free(s);
    return 0;
}
