#include "base/syntax.h"

#include <string.h>

const char *const mf_syntax_http_methods[MF_HTTP_METHODS + 1] = {
    "other", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};

int mf_syntax_http_method(const char *m)
{
    for (int i = 1; m && i <= MF_HTTP_METHODS; i++)
        if (!strcmp(m, mf_syntax_http_methods[i]))
            return i;
    return 0;
}

int mf_syntax_identifier(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* RFC 9110 5.6.2's tchar, one lookup a byte: every request's header names pass through here. */
static const unsigned char tchar[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1,
    ['%'] = 1,         ['&'] = 1,         ['\''] = 1,        ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1,         ['^'] = 1,         ['_'] = 1,         ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

int mf_syntax_http_token(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!tchar[(unsigned char)s[i]])
            return 0;
    return 1;
}

int mf_syntax_http_value(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

int mf_syntax_http_header(const char *name, size_t name_len, const char *value, size_t value_len)
{
    return mf_syntax_http_token(name, name_len) && mf_syntax_http_value(value, value_len);
}
