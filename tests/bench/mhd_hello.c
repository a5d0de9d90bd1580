/* mhd_hello: a bare libmicrohttpd "hello world" server, the ceiling of mayfly's HTTP layer.
 *
 * Usage: mhd_hello PORT [WORKERS]
 *
 * It uses the model mayfly uses, so the comparison is fair: WORKERS (default 1) single-threaded
 * epoll daemons, each with its own listening socket on 127.0.0.1:PORT bound with SO_REUSEPORT
 * (the kernel balances connections between them; MHD's own thread pool does not always, see
 * facts.md). Every request gets "hello world" as text/plain, queued on the second call of the
 * access handler: a response queued on the first call goes out with "Connection: close".
 * Runs until SIGINT or SIGTERM, then stops every daemon and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define MAX_WORKERS 256
#define LISTEN_BACKLOG 1024
#define CONNECTION_TIMEOUT_S 30

static const char hello_body[] = "hello world";

/* Any non-NULL value marks "headers seen" in *req_cls; nothing is allocated per request. */
static int headers_seen;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        /* First call: headers only. Queuing now would close the connection. */
        *req_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* discard any request body */
        return MHD_YES;
    }
    resp = MHD_create_response_from_buffer(sizeof(hello_body) - 1, (void *)hello_body,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Returns a listening, non-blocking socket on 127.0.0.1:port, or -1 with a message printed. */
static int listen_reuseport(uint16_t port)
{
    struct sockaddr_in addr;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        perror("mhd_hello: socket");
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        perror("mhd_hello: setsockopt");
        goto fail;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("mhd_hello: bind");
        goto fail;
    }
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        perror("mhd_hello: listen");
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *daemons[MAX_WORKERS];
    long port, workers = 1;
    int nstarted = 0, sig, status = 1;
    sigset_t stop_signals;

    if (argc < 2 || argc > 3 || parse_int(argv[1], 1, 65535, &port) != 0 ||
        (argc == 3 && parse_int(argv[2], 1, MAX_WORKERS, &workers) != 0)) {
        fprintf(stderr, "usage: %s PORT [WORKERS]  (PORT 1-65535, WORKERS 1-%d, default 1)\n",
                argv[0], MAX_WORKERS);
        return 2;
    }

    /* Block the stop signals before any daemon thread exists, so the threads inherit the mask
     * and only sigwait() below ever sees them. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop_signals, NULL) != 0) {
        perror("mhd_hello: sigprocmask");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    for (long i = 0; i < workers; i++) {
        int fd = listen_reuseport((uint16_t)port);

        if (fd < 0)
            goto out;
        /* Once started, the daemon owns fd: MHD_stop_daemon closes it. */
        daemons[nstarted] = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port,
            NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
            /* mayfly's default request-head limit: the pool libmicrohttpd clears per request */
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024), MHD_OPTION_END);
        if (daemons[nstarted] == NULL) {
            fprintf(stderr, "mhd_hello: MHD_start_daemon failed for worker %ld\n", i);
            close(fd);
            goto out;
        }
        nstarted++;
    }
    fprintf(stderr, "mhd_hello: listening on 127.0.0.1:%ld with %ld worker(s)\n", port, workers);

    if (sigwait(&stop_signals, &sig) == 0) {
        fprintf(stderr, "mhd_hello: %s, stopping\n", strsignal(sig));
        status = 0;
    }

out:
    while (nstarted > 0)
        MHD_stop_daemon(daemons[--nstarted]);
    return status;
}
