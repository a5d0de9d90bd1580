/* The number conversions lua-cjson makes through mayfly's fpconv functions (lua/json.c): the
 * input as text read as a number must give strtod's value, bit for bit, and end where strtod
 * ends; its first 8 bytes as a double, formatted with the precision its 9th byte picks, must
 * give snprintf's "%.<p>g" byte for byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fpconv_g_fmt(char *str, double num, int precision);
double fpconv_strtod(const char *nptr, char **endptr);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *want_end, *got_end;
    double want = strtod(text, &want_end), got = fpconv_strtod(text, &got_end);
    if (memcmp(&want, &got, sizeof want) || want_end != got_end)
        abort();
    free(text);

    if (size >= 9) {
        double v;
        memcpy(&v, data, sizeof v);
        int precision = 1 + data[8] % 14;
        char fmt[8], want_text[64], got_text[64];
        snprintf(fmt, sizeof fmt, "%%.%dg", precision);
        int want_len = snprintf(want_text, sizeof want_text, fmt, v);
        int got_len = fpconv_g_fmt(got_text, v, precision);
        if (want_len != got_len || strcmp(want_text, got_text))
            abort();
    }
    return 0;
}
