/* Cookie request headers: the pairs mf_cookie_next yields, and the ones it skips. */
#include <stdlib.h>
#include <string.h>

#include "http/cookie.h"
#include "test.h"

/* Every pair of header as "name=value|name=value|...", read from an exact-size copy so that a
 * read past the header is caught under AddressSanitizer. */
static void pairs_of(const char *header, char *out, size_t out_size)
{
    size_t len = strlen(header), used = 0;
    char *exact = malloc(len ? len : 1);
    memcpy(exact, header, len);
    const char *p = exact;
    mf_cookie_t c;
    out[0] = '\0';
    while (mf_cookie_next(&p, exact + len, &c)) {
        used += (size_t)snprintf(out + used, out_size - used, "%s%.*s=%.*s", used ? "|" : "",
                                 (int)c.name_len, c.name, (int)c.value_len, c.value);
    }
    free(exact);
}

static const struct {
    const char *header, *pairs;
} cases[] = {
    {"a=1; b=2", "a=1|b=2"},
    {"a=1;b=2", "a=1|b=2"},                   /* no space after ';' */
    {"  a = 1 ;\tb=2\t", "a=1|b=2"},          /* spaces and tabs around names and values */
    {"a=\"quoted value\"", "a=quoted value"}, /* enclosing quotes removed */
    {"a=\"\"", "a="},                         /* an empty quoted value */
    {"a=", "a="},                             /* an empty value */
    {"a=x=y", "a=x=y"},                       /* the first '=' splits */
    {"a=%41%20", "a=%41%20"},                 /* no percent-decoding */
    {"a=1; a=2", "a=1|a=2"},                  /* both yielded: the caller keeps the first */
    {"noeq; b=2", "b=2"},                     /* a pair without '=' is skipped */
    {"=1; b=2", "b=2"},                       /* an empty name */
    {"bad name=1; b=2", "b=2"},               /* a name that is not a token */
    {"a=x\"y; b=2", "b=2"},                   /* a '"' inside the value */
    {"a=\"x; b=2", "b=2"},                    /* an unbalanced quote */
    {"a=x\x01y; b=2", "b=2"},                 /* a control byte */
    {"a=x\x7fy; b=2", "b=2"},                 /* DEL */
    {"a=caf\xc3\xa9", "a=caf\xc3\xa9"},       /* UTF-8 bytes pass */
    {"a=1, b=2", "a=1, b=2"},                 /* a comma is part of the value */
    {";;; ;", ""},
    {"", ""},
    {"a=1;", "a=1"},
};

TEST(pairs)
{
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pairs_of(cases[i].header, out, sizeof out);
        if (strcmp(out, cases[i].pairs))
            printf("  header: %s\n", cases[i].header);
        ASSERT_EQ_STR(out, cases[i].pairs);
    }
}

int main(void)
{
    RUN(pairs);
    TEST_MAIN_END();
}
