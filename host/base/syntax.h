/* The syntax checks several layers share: identifiers (log field names, metric and label
 * names) and the pieces of an HTTP header (RFC 9110), for what comes in, what a script sends
 * back and what it sends out. Each takes len bytes (NULs included), returns 1 when they fit. */
#ifndef MF_SYNTAX_H
#define MF_SYNTAX_H

#include <stddef.h>

/* [A-Za-z_][A-Za-z0-9_]*: at least one byte; callers bound the length. */
int mf_syntax_identifier(const char *s, size_t len);

/* An HTTP token (a method, a header name): one or more of A-Z a-z 0-9 !#$%&'*+-.^_`|~. */
int mf_syntax_http_token(const char *s, size_t len);

/* A header value: no control byte but tab (CR and LF would end the header early and let a value
 * smuggle in headers or a request of its own), no DEL. May be empty. */
int mf_syntax_http_value(const char *s, size_t len);

/* A header line: name a token, value a header value. */
int mf_syntax_http_header(const char *name, size_t name_len, const char *value, size_t value_len);

/* The methods RFC 9110 and RFC 5789 define: mf_syntax_http_method gives m's place among them
 * (1 to MF_HTTP_METHODS), or 0 for any other (a client's own, which metrics and spans must not
 * take as a label or a name); mf_syntax_http_methods[0] is "other". */
#define MF_HTTP_METHODS 9
extern const char *const mf_syntax_http_methods[MF_HTTP_METHODS + 1];
int mf_syntax_http_method(const char *m);

/* The value of a hex digit (either case), or -1 when c is not one. */
static inline int mf_syntax_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#endif
