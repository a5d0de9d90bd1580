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
    size_t plen = path && *path ? strlen(path) : 1, qlen = query ? strlen(query) + 1 : 0;
    target->target = mf_xmalloc(plen + qlen + 1);
    memcpy(target->target, path && *path ? path : "/", plen);
    if (query) {
        target->target[plen] = '?';
        memcpy(target->target + plen + 1, query, qlen - 1);
    }
    target->target[plen + qlen] = '\0';
    int default_port = target->port == (target->https ? 443 : 80);
    size_t alen = (size_t)target->host_len + (default_port ? 0 : strlen(port) + 1);
    target->authority = mf_xmalloc(alen + 1);
    snprintf(target->authority, alen + 1, default_port ? "%s" : "%s:%s", host, port);
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

int mf_http_url_parse(mf_http_url_t *target, const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    memset(target, 0, sizeof *target);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc) {
        snprintf(err, errlen, "invalid URL '%.200s': %s", url, curl_url_strerror(uc));
        curl_url_cleanup(u);
        return -1;
    }
    if (url_take(target, u, url, err, errlen)) {
        curl_url_cleanup(u);
        return -1;
    }
    return 0;
}

int mf_http_url_resolve(mf_http_url_t *target, const mf_http_url_t *base, const char *location,
                        char *err, size_t errlen)
{
    CURLU *u = curl_url_dup(base->parsed);
    memset(target, 0, sizeof *target);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, location, 0);
    if (uc) {
        snprintf(err, errlen, "a redirect to an invalid URL '%.200s': %s", location,
                 curl_url_strerror(uc));
        curl_url_cleanup(u);
        return -1;
    }
    if (url_take(target, u, location, err, errlen)) {
        curl_url_cleanup(u);
        return -1;
    }
    return 0;
}

int mf_http_url_copy(mf_http_url_t *dst, const mf_http_url_t *src)
{
    *dst = *src;
    dst->parsed = curl_url_dup(src->parsed);
    dst->target = mf_xstrdup(src->target);
    dst->authority = mf_xstrdup(src->authority);
    return dst->parsed ? 0 : -1;
}

void mf_http_url_free(mf_http_url_t *target)
{
    curl_url_cleanup(target->parsed);
    free(target->target);
    free(target->authority);
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
