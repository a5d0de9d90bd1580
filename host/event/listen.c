/* Listening sockets: numeric addresses only, SO_REUSEPORT so that several sockets (one per
 * worker) share one port. Another process already listening on the port is refused unless the
 * user asked to share it (l->share): SO_REUSEPORT alone would let a second mayfly bind beside
 * the first and silently split its traffic. */
#include "event/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* exclusive: bind without SO_REUSEPORT, so that the bind fails when any other socket listens on
 * the address (or is bound to it without SO_REUSEADDR); the option is set after the bind, so
 * that this process's own sockets can join it. */
static int open_socket(const mf_listen_t *l, int port, int exclusive, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    const char *host = l->host;
    int one = 1, fd = -1;

    memset(&ss, 0, sizeof ss);
    if (!*host) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        a->sin6_port = htons((uint16_t)port);
        sslen = sizeof *a;
    } else if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        sslen = sizeof *a;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            goto bad_host;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        sslen = sizeof *a;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            goto bad_host;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        (!exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)))
        goto sys_fail;
    if (ss.ss_family == AF_INET6 && !*host) {
        int zero = 0; /* "every address" means IPv4 too */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (bind(fd, (struct sockaddr *)&ss, sslen)) {
        if (exclusive && errno == EADDRINUSE)
            goto in_use;
        goto sys_fail;
    }
    if ((exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) ||
        listen(fd, 1024))
        goto sys_fail;
    return fd;
in_use:
    snprintf(err, errlen,
             "cannot listen on %s%s%s:%d: the address is already in use (another process serves "
             "it); MAYFLY_REUSE_PORT=on shares the port with it",
             strchr(host, ':') ? "[" : "", *host ? host : "*", strchr(host, ':') ? "]" : "", port);
    close(fd);
    return -1;
bad_host:
    snprintf(err, errlen, "listen address '%s' is not a numeric IPv4 or IPv6 address", host);
    return -1;
sys_fail:
    snprintf(err, errlen, "cannot listen on %s%s%s:%d: %s", strchr(host, ':') ? "[" : "",
             *host ? host : "*", strchr(host, ':') ? "]" : "", port, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

int mf_listen_open(const mf_listen_t *l, int n, int *fds, int *port, char *err, size_t errlen)
{
    int p = l->port;
    for (int i = 0; i < n; i++) {
        fds[i] = open_socket(l, p, i == 0 && !l->share, err, errlen);
        if (fds[i] < 0) {
            while (i-- > 0)
                close(fds[i]);
            return -1;
        }
        if (p == 0) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;
            getsockname(fds[i], (struct sockaddr *)&ss, &len);
            p = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    *port = p;
    return 0;
}
