/* Where a call may go: an http or https URL with a host, and never one of this process's own
 * listeners. */
#include "client/http_client.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "client/private.h"

/* ---- URLs ---- */

/* The strings a URL owns in one block: its text (when known), the request target and the
 * authority. */
static void url_strings(mf_http_url_t *t, const char *text, size_t text_len, const char *path,
                        size_t path_len, const char *query, size_t query_len, const char *host,
                        size_t host_len, const char *port)
{
    int default_port = t->port == (t->https ? 443 : 80);
    size_t port_len = default_port ? 0 : strlen(port) + 1;
    size_t q = query ? query_len + 1 : 0;
    char *b = t->strings = mf_xmalloc(text_len + 1 + path_len + q + 1 + host_len + port_len + 1);
    if (text) {
        t->text = b;
        memcpy(b, text, text_len);
        b[text_len] = '\0';
        b += text_len + 1;
    }
    t->target = b;
    memcpy(b, path, path_len);
    if (query) {
        b[path_len] = '?';
        memcpy(b + path_len + 1, query, query_len);
    }
    b[path_len + q] = '\0';
    b += path_len + q + 1;
    t->authority = b;
    memcpy(b, host, host_len);
    if (port_len) {
        b[host_len] = ':';
        memcpy(b + host_len + 1, port, port_len - 1);
    }
    b[host_len + port_len] = '\0';
}

/* target's fields from u, a URL curl parsed; u becomes target's. Returns 0, or -1 with a
 * reason in err (url names it) and u left to the caller. */
static int url_take(mf_http_url_t *target, CURLU *u, const char *url, char *err, size_t errlen)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    int rc = -1;
    memset(target, 0, sizeof *target);
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "URL '%.200s': only http and https are allowed", url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) || !*host) {
        snprintf(err, errlen, "URL '%.200s' has no host", url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
        snprintf(err, errlen, "URL '%.200s' has no port", url);
        goto done;
    }
    if ((size_t)snprintf(target->upstream, sizeof target->upstream, "%s:%s", host, port) >=
        sizeof target->upstream) {
        snprintf(err, errlen, "URL '%.200s': host name too long", url);
        goto done;
    }
    for (char *p = target->upstream; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    target->https = scheme[4] == 's';
    target->port = atoi(port);
    target->host_len = (int)strlen(host);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    int has_path = path && *path;
    url_strings(target, NULL, 0, has_path ? path : "/", has_path ? strlen(path) : 1, query,
                query ? strlen(query) : 0, host, strlen(host), port);
    target->parsed = u;
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    return rc;
}

/* ---- the common URL, read without libcurl ---- */

/* Bytes of a path or a query that libcurl takes as they are. */
#define PLAIN_PUNCT(X) X('-') X('.') X('_') X('~') X('!') X('$') X('&') X('\'') X('(') X(')') \
    X('*') X('+') X(',') X(';') X('=') X(':') X('@') X('/') X('%')
#define PLAIN_RANGE(lo, hi) [lo... hi] = 1
#define PLAIN_ONE(c) [(unsigned char)c] = 1,
static const unsigned char plain_bytes[256] = {
    PLAIN_RANGE('a', 'z'), PLAIN_RANGE('A', 'Z'), PLAIN_RANGE('0', '9'), PLAIN_PUNCT(PLAIN_ONE)};

static int plain_char(unsigned char c)
{
    return plain_bytes[c];
}

/* A dotted quad, each part a decimal without a leading zero: libcurl leaves it as it is (other
 * numeric forms, 127.1 or 0x7f.1, it rewrites). */
static int dotted_quad(const char *h, size_t len)
{
    int parts = 0;
    for (size_t i = 0; i < len; parts++) {
        size_t j = i;
        int v = 0;
        while (j < len && h[j] >= '0' && h[j] <= '9' && j - i < 4)
            v = v * 10 + (h[j++] - '0');
        if (j == i || v > 255 || (h[i] == '0' && j - i > 1))
            return 0;
        if (j < len && h[j] != '.')
            return 0;
        i = j < len ? j + 1 : j;
        if (j < len && i == len)
            return 0;
    }
    return parts == 4;
}

/* "http://host[:port][/path][?query]" in the form libcurl would give back unchanged: a
 * lower-case name (starting with a letter) or a dotted quad, a port without leading zeros, a
 * path without dot segments, plain bytes only, no fragment. Fills t (without parsed: libcurl's
 * copy is made when one is needed) and returns 1; 0 when url is any other, for libcurl. */
static int url_plain(mf_http_url_t *t, const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        return 0;
    const char *host = url + 7, *p = host;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.')
        p++;
    size_t host_len = (size_t)(p - host);
    if (!host_len || host_len > 100 ||
        (!(host[0] >= 'a' && host[0] <= 'z') && !dotted_quad(host, host_len)))
        return 0;
    char port[8] = "80";
    if (*p == ':') {
        const char *d = ++p;
        while (*p >= '0' && *p <= '9' && p - d < 6)
            p++;
        long v = p > d ? strtol(d, NULL, 10) : 0;
        if (p == d || *d == '0' || v > 65535)
            return 0;
        memcpy(port, d, (size_t)(p - d));
        port[p - d] = '\0';
    }
    if (*p && *p != '/' && *p != '?')
        return 0;
    const char *path = p;
    while (*p && *p != '?') {
        if (!plain_char((unsigned char)*p) || (p[0] == '/' && p[1] == '.'))
            return 0;
        p++;
    }
    size_t path_len = (size_t)(p - path);
    const char *query = NULL;
    size_t query_len = 0;
    if (*p == '?') {
        query = ++p;
        while (*p && (plain_char((unsigned char)*p) || *p == '?'))
            p++;
        if (*p)
            return 0;
        query_len = (size_t)(p - query);
    }
    memset(t, 0, sizeof *t);
    t->port = atoi(port);
    t->host_len = (int)host_len;
    snprintf(t->upstream, sizeof t->upstream, "%.*s:%s", (int)host_len, host, port);
    /* The text as libcurl gives it back: a path of "/" when it has none. */
    char text[2048];
    size_t text_len = strlen(url);
    if (path_len == 0) {
        size_t head = (size_t)(path - url);
        if (text_len + 1 >= sizeof text)
            return 0;
        memcpy(text, url, head);
        text[head] = '/';
        memcpy(text + head + 1, path, text_len - head);
        text_len++;
    } else {
        if (text_len >= sizeof text)
            return 0;
        memcpy(text, url, text_len);
    }
    url_strings(t, text, text_len, path_len ? path : "/", path_len ? path_len : 1, query,
                query_len, host, host_len, port);
    return 1;
}

void *mf_http_url_curl(const mf_http_url_t *url)
{
    mf_http_url_t *u = (mf_http_url_t *)url; /* libcurl's copy is a cache of the text */
    if (!u->parsed && u->text) {
        CURLU *c = curl_url();
        if (c && curl_url_set(c, CURLUPART_URL, u->text, 0) != CURLUE_OK) {
            curl_url_cleanup(c);
            c = NULL;
        }
        u->parsed = c;
    }
    return u->parsed;
}

/* target as url read by libcurl into u (a new one, or a copy of a base URL to read url against).
 * Returns 0, or -1 with a reason in err (what names the URL in it); u is target's or freed. */
static int url_read(mf_http_url_t *target, CURLU *u, const char *url, const char *what, char *err,
                    size_t errlen)
{
    memset(target, 0, sizeof *target);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc)
        snprintf(err, errlen, "%s '%.200s': %s", what, url, curl_url_strerror(uc));
    if (uc || url_take(target, u, url, err, errlen)) {
        curl_url_cleanup(u);
        return -1;
    }
    return 0;
}

int mf_http_url_parse(mf_http_url_t *target, const char *url, char *err, size_t errlen)
{
    if (url_plain(target, url))
        return 0;
    return url_read(target, curl_url(), url, "invalid URL", err, errlen);
}

int mf_http_url_resolve(mf_http_url_t *target, const mf_http_url_t *base, const char *location,
                        char *err, size_t errlen)
{
    CURLU *b = mf_http_url_curl(base);
    return url_read(target, b ? curl_url_dup(b) : NULL, location, "a redirect to an invalid URL",
                    err, errlen);
}

int mf_http_url_copy(mf_http_url_t *dst, const mf_http_url_t *src)
{
    CURLU *c = mf_http_url_curl(src);
    *dst = *src;
    dst->parsed = c ? curl_url_dup(c) : NULL;
    size_t size = (size_t)(src->authority - src->strings) + strlen(src->authority) + 1;
    dst->strings = mf_xmalloc(size);
    memcpy(dst->strings, src->strings, size);
    dst->text = src->text ? dst->strings : NULL;
    dst->target = dst->strings + (src->target - src->strings);
    dst->authority = dst->strings + (src->authority - src->strings);
    return dst->parsed ? 0 : -1;
}

void mf_http_url_free(mf_http_url_t *target)
{
    curl_url_cleanup(target->parsed);
    free(target->strings);
    memset(target, 0, sizeof *target);
}

/* ---- this process's own listeners ---- */

/* A handler must not call its own replica: what it would read there (/metrics with the label
 * values and upstreams other requests left, the routes) is state of other requests. The ports
 * are registered once the listeners are open, before any request runs. */
#define MAX_OWN_PORTS 4
static _Atomic int own_ports[MAX_OWN_PORTS];
static _Atomic int n_own_ports;

void mf_http_client_refuse_port(int port)
{
    int n = atomic_load(&n_own_ports);
    if (port > 0 && n < MAX_OWN_PORTS) {
        atomic_store(&own_ports[n], port);
        atomic_store(&n_own_ports, n + 1);
    }
}

/* A listener bound to every address answers on all of them: an address is this machine's when
 * a socket can be bound to it. */
int mf_http_client__own_listener(const struct sockaddr *a, char *out, size_t outlen)
{
    int port, n = atomic_load(&n_own_ports), own = 0;
    char host[64] = "?";
    if (a->sa_family == AF_INET) {
        port = ntohs(((const struct sockaddr_in *)a)->sin_port);
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, host, sizeof host);
    } else if (a->sa_family == AF_INET6) {
        port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, host, sizeof host);
    } else {
        return 0;
    }
    for (int i = 0; i < n && !own; i++)
        own = atomic_load(&own_ports[i]) == port;
    if (!own)
        return 0;
    struct sockaddr_storage local;
    socklen_t len =
        a->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memcpy(&local, a, len);
    if (a->sa_family == AF_INET)
        ((struct sockaddr_in *)&local)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&local)->sin6_port = 0;
    int fd = socket(a->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    own = bind(fd, (struct sockaddr *)&local, len) == 0;
    close(fd);
    if (own)
        snprintf(out, outlen, a->sa_family == AF_INET ? "%s:%d" : "[%s]:%d", host, port);
    return own;
}
