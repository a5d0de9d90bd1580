/* The number conversions lua-cjson makes through mayfly's fpconv functions (lua/json.c) answer
 * exactly what libc's snprintf("%.<p>g") and strtod answer, which lua-cjson's own fpconv.o
 * calls: byte for byte when formatting, bit for bit and to the same end when reading, on the
 * values the fast paths take and on those they hand to libc. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

int fpconv_g_fmt(char *str, double num, int precision);
double fpconv_strtod(const char *nptr, char **endptr);

static uint64_t rng = 0x9e3779b97f4a7c15;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int mismatches;

static void check_format(double v, int precision)
{
    char want[64], got[64], fmt[8];
    snprintf(fmt, sizeof fmt, "%%.%dg", precision);
    int want_len = snprintf(want, sizeof want, fmt, v);
    int got_len = fpconv_g_fmt(got, v, precision);
    if ((want_len != got_len || strcmp(want, got)) && mismatches++ < 10)
        printf("  %%.%dg of %a: libc \"%s\" (%d), mayfly \"%s\" (%d)\n", precision, v, want,
               want_len, got, got_len);
}

static void check_read(const char *text)
{
    char *want_end, *got_end;
    double want = strtod(text, &want_end);
    double got = fpconv_strtod(text, &got_end);
    if ((memcmp(&want, &got, sizeof want) || want_end != got_end) && mismatches++ < 10)
        printf("  \"%s\": strtod %a (%d chars), mayfly %a (%d chars)\n", text, want,
               (int)(want_end - text), got, (int)(got_end - text));
}

/* A value of each kind the encoder meets, in turn. */
static double some_value(int i)
{
    uint64_t r = next();
    double scale = pow(10, (int)(r % 40) - 20);
    switch (i % 6) {
    case 0: /* an integer of up to 17 digits */
        return (double)(int64_t)(r % 100000000000000000ULL) * (r & 1 ? 1 : -1);
    case 1: /* a short decimal: cents, tenths, and deeper */
        return (double)(int64_t)(r % 10000000) / pow(10, (int)((r >> 40) % 9));
    case 2: /* any bits (NaN, infinities, subnormals included) */
    {
        double d;
        memcpy(&d, &r, sizeof d);
        return d;
    }
    case 3: /* anything from 1e-20 to 1e20 */
        return (double)(r >> 11) / (double)(1ULL << 53) * scale;
    case 4: /* a product or quotient, as arithmetic in a handler makes */
        return (double)(r % 1000) / (double)((r >> 20) % 999 + 1);
    default: /* at the edges of the plain form: 1e-4, 10^p, halves */
        return (double)(int64_t)((r >> 8) % 2000001 - 1000000) * pow(10, (int)(r % 20) - 10) +
               ((r >> 60) & 1 ? 0.5 : 0);
    }
}

TEST(formatting_is_libcs_g)
{
    static const double edges[] = {0.0, -0.0, 1e-4, 9.9999e-5, 0.0001000001, 1e13, 1e14,
                                   99999999999999, 99999999999999.5, 123456789012345, 0.1, 0.2,
                                   0.3, 1.0 / 3, 2.0 / 3, 71.4, 34.9, 7.5, 3.25, 1718035200,
                                   -1.5, 0.5, 1.5, 2.5, 1e308, 5e-324, 9007199254740993.0,
                                   INFINITY, -INFINITY, NAN};
    mismatches = 0;
    for (int p = 1; p <= 14; p++)
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
            check_format(edges[i], p);
    for (int i = 0; i < 3000000; i++)
        check_format(some_value(i), i % 7 ? 14 : 1 + (int)(next() % 14));
    ASSERT_EQ_INT(mismatches, 0);
}

TEST(reading_is_strtods)
{
    static const char *const texts[] = {
        "0", "-0", "1", "-1", "0.5", "71.4", "1718035200", "1e5", "1E-5", "1e+22", "1e23",
        "1e-22", "1e-23", "9007199254740992", "9007199254740993", "12345678901234567890",
        "0.000000000000000000001", "00012", "1.", ".5", "-", "-.5", "1e", "1e+", "1.5e",
        "0x1A", "0X1p3", "inf", "-Infinity", "nan", " 1", "+1", "1,2", "1]", "1}", "1.5.5",
        "2.2250738585072011e-308", "4.9e-324", "1.7976931348623157e308", "1e400",
        "123456789012345678901234567890", "0.1000000000000000055511151231257827", "5e-1x",
        "1e99999999999999999999", "1e-99999999999999999999", "0e0", "-0.0e-0"};
    mismatches = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        check_read(texts[i]);
    char text[64];
    for (int i = 0; i < 2000000; i++) {
        double v = some_value(i);
        uint64_t r = next();
        if (r % 3 == 0) /* as cjson writes it */
            fpconv_g_fmt(text, v, 14);
        else if (r % 3 == 1) /* as another encoder might: round trip, exponents */
            snprintf(text, sizeof text, r & 8 ? "%.17g" : "%.6e", v);
        else /* digits with a point and an exponent anywhere */
            snprintf(text, sizeof text, "%s%llu%s%llu%s%d", r & 16 ? "-" : "",
                     (unsigned long long)(next() % 100000000), r & 32 ? "." : "",
                     (unsigned long long)(next() % 10000000000ULL), r & 64 ? "e" : "",
                     (int)(next() % 60) - 30);
        check_read(text);
    }
    ASSERT_EQ_INT(mismatches, 0);
}

int main(void)
{
    RUN(formatting_is_libcs_g);
    RUN(reading_is_strtods);
    TEST_MAIN_END();
}
