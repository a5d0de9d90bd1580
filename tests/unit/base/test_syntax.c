#include <string.h>

#include "base/syntax.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

TEST(identifiers)
{
    ASSERT_TRUE(mf_syntax_identifier(S("a")));
    ASSERT_TRUE(mf_syntax_identifier(S("_")));
    ASSERT_TRUE(mf_syntax_identifier(S("Pod_name_2")));
    ASSERT_TRUE(!mf_syntax_identifier(S("")));
    ASSERT_TRUE(!mf_syntax_identifier(S("2a")));
    ASSERT_TRUE(!mf_syntax_identifier(S("a-b")));
    ASSERT_TRUE(!mf_syntax_identifier(S("a b")));
    ASSERT_TRUE(!mf_syntax_identifier(S("a\0b")));
    ASSERT_TRUE(!mf_syntax_identifier(S("caf\xc3\xa9")));
}

TEST(tokens)
{
    ASSERT_TRUE(mf_syntax_http_token(S("GET")));
    ASSERT_TRUE(mf_syntax_http_token(S("X-Request-Id")));
    ASSERT_TRUE(mf_syntax_http_token(S("!#$%&'*+-.^_`|~09azAZ")));
    ASSERT_TRUE(!mf_syntax_http_token(S("")));
    ASSERT_TRUE(!mf_syntax_http_token(S("a b")));
    ASSERT_TRUE(!mf_syntax_http_token(S("a:b")));
    ASSERT_TRUE(!mf_syntax_http_token(S("a\0b")));
    ASSERT_TRUE(!mf_syntax_http_token(S("a\r\nb")));
    static const char separators[] = "\"(),/:;<=>?@[\\]{}";
    for (size_t i = 0; i < sizeof separators - 1; i++)
        ASSERT_TRUE(!mf_syntax_http_token(separators + i, 1));
    for (int c = 0x7f; c <= 0xff; c++) {
        char b = (char)c;
        ASSERT_TRUE(!mf_syntax_http_token(&b, 1));
    }
}

/* Every byte, alone and inside a token, against RFC 9110's tchar spelled out another way. */
TEST(token_bytes)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    for (int c = 0; c <= 0xff; c++) {
        int want = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                   (c != 0 && memchr(extra, c, sizeof extra - 1) != NULL);
        char one = (char)c, three[3] = {'a', (char)c, 'z'};
        ASSERT_TRUE(mf_syntax_http_token(&one, 1) == want);
        ASSERT_TRUE(mf_syntax_http_token(three, 3) == want);
    }
}

TEST(values)
{
    ASSERT_TRUE(mf_syntax_http_value(S("")));
    ASSERT_TRUE(mf_syntax_http_value(S("text/plain; charset=utf-8")));
    ASSERT_TRUE(mf_syntax_http_value(S("a\tb \"quoted\" caf\xc3\xa9")));
    ASSERT_TRUE(!mf_syntax_http_value(S("a\r\nX-Smuggled: 1")));
    ASSERT_TRUE(!mf_syntax_http_value(S("a\nb")));
    ASSERT_TRUE(!mf_syntax_http_value(S("a\0b")));
    ASSERT_TRUE(!mf_syntax_http_value(S("a\x7f")));
    ASSERT_TRUE(mf_syntax_http_header(S("Content-Type"), S("text/html")));
    ASSERT_TRUE(!mf_syntax_http_header(S("Content Type"), S("text/html")));
    ASSERT_TRUE(!mf_syntax_http_header(S("Content-Type"), S("text/html\r\n")));
}

int main(void)
{
    RUN(identifiers);
    RUN(tokens);
    RUN(token_bytes);
    RUN(values);
    TEST_MAIN_END();
}
