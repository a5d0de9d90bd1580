#include "http/cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/syntax.h"

/* An origin the policy allows: exact ("https://app.example.com"), or for a wildcard the scheme
 * ("https://") and what every host ends with (".example.com", with the port if any). */
typedef struct {
    char *text; /* owned, lower-case */
    size_t len;
    const char *suffix; /* a wildcard's, in text; NULL for an exact origin */
    size_t suffix_len;
} allowed_origin_t;

struct mf_cors {
    int any_origin; /* "*" */
    int credentials;
    int echo_methods;     /* MAYFLY_CORS_METHODS=*: the method asked is allowed */
    int echo_headers;     /* MAYFLY_CORS_HEADERS=*: the headers asked are allowed */
    char *methods;        /* ", "-joined, owned; NULL when echoed */
    char *headers;        /* owned; NULL: none or echoed */
    char *expose_headers; /* owned; NULL: none */
    char max_age[24];     /* seconds; "": no Access-Control-Max-Age */
    size_t norigins;
    allowed_origin_t *origins;
};

static const char vary_preflight[] = "Origin, Access-Control-Request-Method, "
                                     "Access-Control-Request-Headers";

/* ---- start-up ---- */

static int is_star(const char *item, size_t len)
{
    return len == 1 && *item == '*';
}

/* The items of list joined by ", " in *joined (NULL for "*", with *star set). Items must be HTTP
 * tokens. Returns 0 or -1 with a message naming setting. */
static int join_tokens(const char *list, const char *setting, char **joined, int *star, char *err,
                       size_t errlen)
{
    const char *pos = list, *item;
    size_t len, n = 0, used = 0;
    char *out = mf_xmalloc(2 * strlen(list) + 1); /* at worst a blank after every byte */

    *star = 0;
    while (mf_list_next(&pos, &item, &len)) {
        if (is_star(item, len)) {
            *star = 1;
        } else if (!mf_syntax_http_token(item, len)) {
            snprintf(err, errlen, "%s: '%.*s' is not a method or header name", setting, (int)len,
                     item);
            goto fail;
        }
        if (n++) {
            memcpy(out + used, ", ", 2);
            used += 2;
        }
        memcpy(out + used, item, len);
        used += len;
    }
    if (!n || (*star && n > 1)) {
        snprintf(err, errlen, "%s: expected names, or * alone, got '%s'", setting, list);
        goto fail;
    }
    out[used] = '\0';
    if (*star) {
        free(out);
        out = NULL;
    }
    *joined = out;
    return 0;
fail:
    free(out);
    return -1;
}

/* Lower-cases the origin and drops its scheme's default port, as a browser serializes it:
 * "HTTPS://App.example.com:443" is sent as "https://app.example.com". */
static void add_origin(mf_cors_t *c, const char *item, size_t len)
{
    allowed_origin_t *a = &c->origins[c->norigins++];
    a->text = mf_xstrndup(item, len);
    for (size_t i = 0; i < len; i++)
        if (a->text[i] >= 'A' && a->text[i] <= 'Z')
            a->text[i] |= 0x20;
    if ((len > 12 && !strncmp(a->text, "https://", 8) && !strcmp(a->text + len - 4, ":443")) ||
        (len > 10 && !strncmp(a->text, "http://", 7) && !strcmp(a->text + len - 3, ":80")))
        a->text[len = (size_t)(strrchr(a->text, ':') - a->text)] = '\0';
    a->len = len;
    char *star = strstr(a->text, "://*.");
    if (star) {
        a->suffix = star + 4;
        a->suffix_len = len - (size_t)(a->suffix - a->text);
        a->len = (size_t)(a->suffix - a->text) - 1; /* "https://" */
    }
}

int mf_cors_new(const mf_options_t *o, mf_cors_t **out, char *err, size_t errlen)
{
    const char *pos, *item;
    size_t len, n = 0;
    int star;

    *out = NULL;
    if (!o->cors_origins)
        return 0;
    mf_cors_t *c = mf_xcalloc(1, sizeof *c);
    c->credentials = o->cors_credentials;
    for (pos = o->cors_origins; mf_list_next(&pos, &item, &len);)
        n++;
    c->origins = mf_xcalloc(n ? n : 1, sizeof *c->origins);
    for (pos = o->cors_origins; mf_list_next(&pos, &item, &len);) {
        if (is_star(item, len) && n == 1) {
            c->any_origin = 1;
        } else if (is_star(item, len) || mf_parse_origin(item, len)) {
            snprintf(err, errlen,
                     "MAYFLY_CORS_ORIGINS: '%.*s' is not an origin (scheme://host[:port] without "
                     "a path, scheme://*.domain.tld, or * alone)",
                     (int)len, item);
            goto fail;
        } else {
            add_origin(c, item, len);
        }
    }
    if (!n) {
        snprintf(err, errlen, "MAYFLY_CORS_ORIGINS: no origin in '%s'", o->cors_origins);
        goto fail;
    }
    if (c->any_origin && c->credentials) {
        snprintf(err, errlen,
                 "MAYFLY_CORS_ORIGINS=* with MAYFLY_CORS_CREDENTIALS=on: browsers "
                 "refuse credentials from any origin; list the origins");
        goto fail;
    }
    if (join_tokens(o->cors_methods ? o->cors_methods : MF_CORS_DEFAULT_METHODS,
                    "MAYFLY_CORS_METHODS", &c->methods, &c->echo_methods, err, errlen))
        goto fail;
    if (o->cors_headers && join_tokens(o->cors_headers, "MAYFLY_CORS_HEADERS", &c->headers,
                                       &c->echo_headers, err, errlen))
        goto fail;
    if (o->cors_expose_headers) {
        if (join_tokens(o->cors_expose_headers, "MAYFLY_CORS_EXPOSE_HEADERS", &c->expose_headers,
                        &star, err, errlen))
            goto fail;
        if (star && c->credentials) {
            snprintf(err, errlen,
                     "MAYFLY_CORS_EXPOSE_HEADERS=* with MAYFLY_CORS_CREDENTIALS=on: "
                     "browsers read * as a header named '*' then; list the headers");
            goto fail;
        }
        if (star) /* without credentials a browser reads "*" as every header */
            c->expose_headers = mf_xstrdup("*");
    }
    if (o->cors_max_age_ms >= 0)
        snprintf(c->max_age, sizeof c->max_age, "%lld", (long long)(o->cors_max_age_ms / 1000));
    *out = c;
    return 0;
fail:
    mf_cors_free(c);
    return -1;
}

void mf_cors_free(mf_cors_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->norigins; i++)
        free(c->origins[i].text);
    free(c->origins);
    free(c->methods);
    free(c->headers);
    free(c->expose_headers);
    free(c);
}

/* ---- per request: nothing allocated ---- */

/* What a wildcard stood for: one or more whole labels (letters, digits, '-'), so that neither
 * "https://evil.com/.example.com" nor "https://x:1.example.com" passes for a subdomain. */
static int subdomain_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (i == 0 || s[i - 1] == '.')
                return 0;
        } else if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                     c == '-')) {
            return 0;
        }
    }
    return len > 0 && s[len - 1] != '.';
}

static int origin_matches(const allowed_origin_t *a, const char *origin, size_t len)
{
    if (!a->suffix)
        return len == a->len && !strncasecmp(origin, a->text, len);
    if (len <= a->len + a->suffix_len || strncasecmp(origin, a->text, a->len) ||
        strncasecmp(origin + len - a->suffix_len, a->suffix, a->suffix_len))
        return 0;
    return subdomain_ok(origin + a->len, len - a->len - a->suffix_len);
}

int mf_cors_allowed(const mf_cors_t *c, const char *origin)
{
    if (!origin)
        return 0;
    if (c->any_origin)
        return 1;
    size_t len = strlen(origin);
    for (size_t i = 0; i < c->norigins; i++)
        if (origin_matches(&c->origins[i], origin, len))
            return 1;
    return 0;
}

int mf_cors_is_preflight(const char *method, const char *origin, const char *request_method)
{
    return origin && request_method && method && !strcmp(method, "OPTIONS");
}

static void add(mf_cors_headers_t *out, const char *name, const char *value)
{
    out->h[out->n].name = name;
    out->h[out->n].value = value;
    out->n++;
}

/* Access-Control-Request-Headers as a browser sends it: names separated by commas and blanks.
 * Only such a value is echoed, so nothing the client sends can shape other headers. */
static int header_names_ok(const char *s)
{
    const char *item;
    size_t len, n = 0;
    for (const char *p = s; *p; p++)
        if (!(*p == ',' || *p == ' ' || *p == '\t' || mf_syntax_http_token(p, 1)))
            return 0;
    while (mf_list_next(&s, &item, &len))
        n++;
    return n > 0;
}

void mf_cors_preflight(const mf_cors_t *c, const char *origin, const char *request_method,
                       const char *request_headers, mf_cors_headers_t *out)
{
    out->n = 0;
    if (mf_cors_allowed(c, origin)) {
        add(out, "Access-Control-Allow-Origin", c->any_origin ? "*" : origin);
        if (!c->echo_methods)
            add(out, "Access-Control-Allow-Methods", c->methods);
        else if (request_method && mf_syntax_http_token(request_method, strlen(request_method)))
            add(out, "Access-Control-Allow-Methods", request_method);
        if (c->headers)
            add(out, "Access-Control-Allow-Headers", c->headers);
        else if (c->echo_headers && request_headers && header_names_ok(request_headers))
            add(out, "Access-Control-Allow-Headers", request_headers);
        if (c->max_age[0])
            add(out, "Access-Control-Max-Age", c->max_age);
        if (c->credentials)
            add(out, "Access-Control-Allow-Credentials", "true");
    }
    add(out, "Vary", vary_preflight);
}

void mf_cors_response(const mf_cors_t *c, const char *origin, mf_cors_headers_t *out)
{
    out->n = 0;
    /* "*" is the same for every request, so a cache may share the response: no Vary, and sent
     * whether the request had an Origin or not. */
    if (c->any_origin) {
        add(out, "Access-Control-Allow-Origin", "*");
        if (c->expose_headers)
            add(out, "Access-Control-Expose-Headers", c->expose_headers);
        return;
    }
    /* Otherwise the response depends on Origin, present or not: a cache must not hand the
     * answer to one origin (or to none) to another. */
    add(out, "Vary", "Origin");
    if (!mf_cors_allowed(c, origin))
        return;
    add(out, "Access-Control-Allow-Origin", origin);
    if (c->expose_headers)
        add(out, "Access-Control-Expose-Headers", c->expose_headers);
    if (c->credentials)
        add(out, "Access-Control-Allow-Credentials", "true");
}
