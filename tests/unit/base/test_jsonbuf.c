#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonbuf.h"
#include "test.h"

static char *escaped(const char *s, size_t len)
{
    mf_jsonbuf_t j;
    mf_jsonbuf_open(&j);
    mf_jsonbuf_str(&j, "k", s, len);
    return mf_jsonbuf_close(&j, NULL);
}

#define ASSERT_ESCAPES(in, out)                                                                    \
    do {                                                                                           \
        char *got_ = escaped(in, sizeof(in) - 1);                                                  \
        ASSERT_EQ_STR(got_, "{\"k\":\"" out "\"}");                                                \
        free(got_);                                                                                \
    } while (0)

TEST(escaping)
{
    ASSERT_ESCAPES("plain", "plain");
    ASSERT_ESCAPES("a\"b\\c", "a\\\"b\\\\c");
    ASSERT_ESCAPES("line\nbreak\r\ttab", "line\\nbreak\\r\\ttab");
    ASSERT_ESCAPES("nul\0byte", "nul\\u0000byte");
    ASSERT_ESCAPES("\x01\x1f\x7f", "\\u0001\\u001f\\u007f");
    ASSERT_ESCAPES("caf\xc3\xa9", "caf\xc3\xa9"); /* valid UTF-8 kept */
    ASSERT_ESCAPES("\xe2\x82\xac\xf0\x9f\x98\x80", "\xe2\x82\xac\xf0\x9f\x98\x80");
    ASSERT_ESCAPES("bad\xff", "bad\\ufffd");                 /* invalid byte */
    ASSERT_ESCAPES("\xc3", "\\ufffd");                       /* truncated sequence */
    ASSERT_ESCAPES("\xc0\xaf", "\\ufffd\\ufffd");            /* overlong */
    ASSERT_ESCAPES("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"); /* surrogate */
}

TEST(objects)
{
    mf_jsonbuf_t j;
    size_t len;
    mf_jsonbuf_open(&j);
    mf_jsonbuf_cstr(&j, "s", "x");
    mf_jsonbuf_int(&j, "i", -42);
    mf_jsonbuf_bool(&j, "b", 1);
    mf_jsonbuf_num(&j, "n", 0.5);
    mf_jsonbuf_num(&j, "nan", 0.0 / 0.0);
    mf_jsonbuf_raw(&j, "r", "[1,2]", 5);
    char *out = mf_jsonbuf_close(&j, &len);
    ASSERT_EQ_STR(out, "{\"s\":\"x\",\"i\":-42,\"b\":true,\"n\":0.5,\"nan\":null,\"r\":[1,2]}");
    ASSERT_EQ_INT(len, strlen(out));
    free(out);

    /* Past the inline buffer. */
    char big[5000];
    memset(big, 'a', sizeof big);
    mf_jsonbuf_open(&j);
    mf_jsonbuf_str(&j, "big", big, sizeof big);
    out = mf_jsonbuf_close(&j, &len);
    ASSERT_EQ_INT(len, sizeof big + 10);
    free(out);

    mf_jsonbuf_open(&j);
    mf_jsonbuf_str(&j, "big", big, sizeof big);
    mf_jsonbuf_discard(&j);
}

/* What escaping must give for the ASCII byte c, appended at out; returns its length. */
static size_t reference_escape(unsigned char c, char *out)
{
    if (c == '"' || c == '\\')
        return (size_t)sprintf(out, "\\%c", c);
    if (c == '\n' || c == '\r' || c == '\t')
        return (size_t)sprintf(out, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
    if (c < 0x20 || c == 0x7f)
        return (size_t)sprintf(out, "\\u%04x", c);
    return (size_t)sprintf(out, "%c", c);
}

/* Every ASCII byte, many times, across the growth of the buffer: escapes and runs of plain
 * bytes land where they should whichever side of a growth they fall on. */
TEST(escaping_across_growth)
{
    char in[5000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)((i * 7 + i / 128) % 128);
    size_t cap = 6 * sizeof in + 16, len = 0;
    char *want = malloc(cap);
    len += (size_t)sprintf(want, "{\"k\":\"");
    for (size_t i = 0; i < sizeof in; i++)
        len += reference_escape((unsigned char)in[i], want + len);
    len += (size_t)sprintf(want + len, "\"}");
    char *got = escaped(in, sizeof in);
    ASSERT_EQ_MEM(got, strlen(got), want, len);
    free(got);
    free(want);
}

TEST(numbers)
{
    static const struct {
        int64_t v;
        const char *as_int, *as_milli;
    } cases[] = {
        {0, "0", "0.000"},
        {7, "7", "0.007"},
        {-7, "-7", "-0.007"},
        {1000, "1000", "1.000"},
        {12345, "12345", "12.345"},
        {-120034, "-120034", "-120.034"},
        {INT64_MAX, "9223372036854775807", "9223372036854775.807"},
        {INT64_MIN, "-9223372036854775808", "-9223372036854775.808"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_jsonbuf_t j;
        mf_jsonbuf_open(&j);
        mf_jsonbuf_append_int(&j, cases[i].v);
        mf_jsonbuf_lit(&j, " ");
        mf_jsonbuf_append_milli(&j, cases[i].v);
        char *out = mf_jsonbuf_close(&j, NULL), want[64];
        snprintf(want, sizeof want, "{%s %s}", cases[i].as_int, cases[i].as_milli);
        ASSERT_EQ_STR(out, want);
        free(out);
    }
}

int main(void)
{
    RUN(escaping);
    RUN(escaping_across_growth);
    RUN(objects);
    RUN(numbers);
    TEST_MAIN_END();
}
