#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"
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
        char *got_ = escaped(in, sizeof(in) - 1);                                                 \
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
    ASSERT_ESCAPES("caf\xc3\xa9", "caf\xc3\xa9");                /* valid UTF-8 kept */
    ASSERT_ESCAPES("\xe2\x82\xac\xf0\x9f\x98\x80", "\xe2\x82\xac\xf0\x9f\x98\x80");
    ASSERT_ESCAPES("bad\xff", "bad\\ufffd");                     /* invalid byte */
    ASSERT_ESCAPES("\xc3", "\\ufffd");                           /* truncated sequence */
    ASSERT_ESCAPES("\xc0\xaf", "\\ufffd\\ufffd");                /* overlong */
    ASSERT_ESCAPES("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");     /* surrogate */
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

int main(void)
{
    RUN(escaping);
    RUN(objects);
    TEST_MAIN_END();
}
