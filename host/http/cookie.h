/* The pairs of a Cookie request header (RFC 6265, 4.2.1 and 5.4): "a=1; b=2". */
#ifndef MF_HTTP_COOKIE_H
#define MF_HTTP_COOKIE_H

#include <stddef.h>

typedef struct {
    const char *name; /* both point into the header */
    size_t name_len;
    const char *value; /* without the double quotes a quoted value came in */
    size_t value_len;
} mf_cookie_t;

/* Reads the next well-formed pair of the header [*p, end) into c and moves *p past it; returns
 * 0 when none is left. Pairs are separated by ';' with optional spaces and tabs around them. A
 * pair is skipped when it has no '=', its name is not an HTTP token, or its value (once a pair
 * of enclosing double quotes is removed) holds a control byte, DEL or '"'. Values are not
 * percent-decoded: cookies carry what the server set. */
int mf_cookie_next(const char **p, const char *end, mf_cookie_t *c);

#endif
