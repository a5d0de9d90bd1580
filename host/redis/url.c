#include "base/syntax.h"
#include "redis/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *prefix;
    mf_redis_topology_t topology;
    int tls;
} schemes[] = {
    {"redis://", MF_REDIS_SINGLE, 0},
    {"rediss://", MF_REDIS_SINGLE, 1},
    {"redis+sentinel://", MF_REDIS_SENTINEL, 0},
    {"rediss+sentinel://", MF_REDIS_SENTINEL, 1},
    {"redis+cluster://", MF_REDIS_CLUSTER, 0},
    {"rediss+cluster://", MF_REDIS_CLUSTER, 1},
};

const char *mf_redis_topology_name(mf_redis_topology_t t)
{
    return t == MF_REDIS_SENTINEL ? "sentinel" : t == MF_REDIS_CLUSTER ? "cluster" : "single";
}

/* Percent-decodes s[0..n) into out (NUL-terminated). Returns 0, or -1 when it does not fit, an
 * escape is malformed or decodes to NUL. */
static int decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = mf_syntax_hex_digit((unsigned char)s[i + 1]),
                l = mf_syntax_hex_digit((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h | l) == 0)
                return -1;
            c = h << 4 | l;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* s[0..n): 1 to maxdigits decimal digits, into *v. */
static int parse_number(const char *s, size_t n, size_t maxdigits, int *v)
{
    if (n == 0 || n > maxdigits)
        return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* One host[:port] of s[0..n): a name, an IPv4 address or a bracketed IPv6 one. */
static int parse_node(const char *s, size_t n, int default_port, mf_redis_node_t *node)
{
    const char *host = s, *port = NULL;
    size_t hostlen;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        host = s + 1;
        hostlen = (size_t)(close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        hostlen = colon ? (size_t)(colon - s) : n;
        if (colon)
            port = colon + 1;
    }
    if (hostlen == 0 || hostlen >= sizeof node->host)
        return -1;
    for (size_t i = 0; i < hostlen; i++)
        if ((unsigned char)host[i] <= ' ' || strchr("/?#@[]%", host[i]) ||
            (s[0] != '[' && host[i] == ':'))
            return -1;
    memcpy(node->host, host, hostlen);
    node->host[hostlen] = '\0';
    node->port = default_port;
    if (port && (parse_number(port, (size_t)(s + n - port), 5, &node->port) || node->port < 1 ||
                 node->port > 65535))
        return -1;
    return 0;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, "MAYFLY_REDIS_URL: " __VA_ARGS__);                                   \
        return -1;                                                                                 \
    } while (0)

int mf_redis_url_parse(const char *url, mf_redis_url_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t len = strlen(schemes[i].prefix);
        if (!strncmp(url, schemes[i].prefix, len)) {
            p = url + len;
            out->topology = schemes[i].topology;
            out->tls = schemes[i].tls;
        }
    }
    if (!p)
        FAIL("the scheme must be redis://, rediss://, redis+sentinel://, rediss+sentinel://, "
             "redis+cluster:// or rediss+cluster://");
    int sentinel = out->topology == MF_REDIS_SENTINEL;
    int cluster = out->topology == MF_REDIS_CLUSTER;

    /* The authority ends at the first '/'; credentials end at its last '@' (an '@' of a
     * password must be escaped, but a name may not hold one either). */
    const char *end = p + strcspn(p, "/?#");
    if (*end == '?' || *end == '#')
        FAIL("a query or fragment is not understood");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (decode(p, (size_t)(colon - p), out->user, sizeof out->user))
                FAIL("the user name is malformed or too long");
            if (decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password))
                FAIL("the password is malformed or too long (escape '%%', '@', ':' and '/' "
                     "as %%25, %%40, %%3A, %%2F)");
        } else if (decode(p, (size_t)(at - p), out->password, sizeof out->password)) {
            FAIL("the password is malformed or too long");
        }
        p = at + 1;
    }

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (out->nnodes == MF_REDIS_MAX_NODES)
            FAIL("more than %d hosts", MF_REDIS_MAX_NODES);
        if (parse_node(p, (size_t)(stop - p), sentinel ? 26379 : 6379, &out->nodes[out->nnodes]))
            FAIL("host %d is not host[:port] (a name, an IPv4 address or [an IPv6 one], a "
                 "port from 1 to 65535)",
                 out->nnodes + 1);
        out->nnodes++;
        p = comma ? comma + 1 : end;
        if (comma && p == end)
            FAIL("a host list ends with ','");
    }
    if (out->nnodes == 0)
        FAIL("no host");
    if (!sentinel && !cluster && out->nnodes > 1)
        FAIL("one host only: for several, use redis+sentinel:// or redis+cluster://");

    /* The path: /db, or for a sentinel /master[/db]. */
    const char *path = end, *path_end = path + strlen(path);
    if (*path == '/')
        path++;
    if (sentinel) {
        const char *slash = memchr(path, '/', (size_t)(path_end - path));
        const char *name_end = slash ? slash : path_end;
        if (name_end == path)
            FAIL("redis+sentinel:// needs the master's name: .../<master>[/db]");
        if (decode(path, (size_t)(name_end - path), out->master, sizeof out->master))
            FAIL("the master's name is malformed or too long");
        path = slash ? slash + 1 : path_end;
    }
    if (cluster && path < path_end)
        FAIL("a cluster has database 0 only: no /db after the hosts");
    if (path < path_end) {
        if (parse_number(path, (size_t)(path_end - path), 7, &out->db))
            FAIL("the database must be a number from 0 to 9999999");
        out->db_given = 1;
    }
    return 0;
}
