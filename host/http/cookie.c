#include "http/cookie.h"

#include <string.h>

#include "base/syntax.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int value_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"')
            return 0;
    }
    return 1;
}

int mf_cookie_next(const char **p, const char *end, mf_cookie_t *c)
{
    while (*p < end) {
        const char *s = *p;
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *stop = semi ? semi : end;
        *p = semi ? semi + 1 : end;

        while (s < stop && is_space(*s))
            s++;
        const char *e = stop;
        while (e > s && is_space(e[-1]))
            e--;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq)
            continue;
        const char *name_end = eq, *v = eq + 1;
        while (name_end > s && is_space(name_end[-1]))
            name_end--;
        while (v < e && is_space(*v))
            v++;
        if (e - v >= 2 && *v == '"' && e[-1] == '"')
            v++, e--;
        if (!mf_syntax_http_token(s, (size_t)(name_end - s)) || !value_ok(v, (size_t)(e - v)))
            continue;
        c->name = s;
        c->name_len = (size_t)(name_end - s);
        c->value = v;
        c->value_len = (size_t)(e - v);
        return 1;
    }
    return 0;
}
