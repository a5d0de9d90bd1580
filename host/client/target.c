/* Where a call may go: an http or https URL with a host, and never one of this process's own
 * listeners. */
#include "client/http_client.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "client/private.h"

/* ---- URLs ---- */

int mf_http_url_parse(mf_http_url_t *target, const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    target->parsed = NULL;
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc) {
        snprintf(err, errlen, "invalid URL '%.200s': %s", url, curl_url_strerror(uc));
        goto done;
    }
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
    target->parsed = u;
    u = NULL;
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

void mf_http_url_free(mf_http_url_t *target)
{
    curl_url_cleanup(target->parsed);
    target->parsed = NULL;
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
