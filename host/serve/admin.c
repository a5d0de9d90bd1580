/* The admin daemons: one serves MAYFLY_ADMIN_LISTEN (keep-alive, as Prometheus likes), one
 * answers the probe connections the hand-off adopts from the main port (closed after the
 * answer, so no later request on them can miss the workers). */
#include "serve/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/alloc.h"
#include "event/listen.h"
#include "http/response.h"
#include "serve/probes.h"

struct mf_admin {
    struct MHD_Daemon *listener; /* NULL without MAYFLY_ADMIN_LISTEN */
    struct MHD_Daemon *adopter;
    int port;
};

static int close_after_answer = 1, keep_alive = 0;

static enum MHD_Result queue(struct MHD_Connection *conn, int status, struct MHD_Response *resp,
                             int close_it)
{
    if (!resp)
        return MHD_NO;
    if (close_it)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    static int head_seen;
    int close_it = *(int *)cls, status;
    (void)version;
    (void)upload_data;

    if (!*con_cls) {
        *con_cls = &head_seen; /* answering on the head's call would close the connection */
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* bodies are read and dropped */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        struct MHD_Response *resp = mf_response_error("method not allowed", NULL);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return queue(conn, 405, resp, close_it);
    }
    if (!mf_probes_owns(url, strlen(url)))
        return queue(conn, 404, mf_response_error("not found", NULL), close_it);
    struct MHD_Response *resp = mf_probes_answer(
        url, strlen(url),
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT), &status);
    return queue(conn, status, resp, close_it);
}

static struct MHD_Daemon *start_daemon(int listen_fd, int *close_it)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16384, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 256, NULL},
        {MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL}, /* last: dropped when there is none */
        {MHD_OPTION_END, 0, NULL},
    };
    if (listen_fd < 0) {
        flags |= MHD_USE_NO_LISTEN_SOCKET;
        opts[3].option = MHD_OPTION_END;
    }
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, close_it, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

mf_admin_t *mf_admin_start(const mf_options_t *o, char *err, size_t errlen)
{
    mf_admin_t *a = mf_xcalloc(1, sizeof *a);
    a->port = -1;
    a->adopter = start_daemon(-1, &close_after_answer);
    if (!a->adopter) {
        snprintf(err, errlen, "the probe daemon did not start");
        goto fail;
    }
    if (o->admin.port >= 0) {
        int fd;
        if (mf_listen_open(&o->admin, 1, &fd, &a->port, err, errlen))
            goto fail;
        a->listener = start_daemon(fd, &keep_alive);
        if (!a->listener) {
            close(fd);
            snprintf(err, errlen, "the admin daemon did not start");
            goto fail;
        }
    }
    return a;
fail:
    mf_admin_stop(a);
    return NULL;
}

int mf_admin_port(const mf_admin_t *a)
{
    return a->port;
}

int mf_admin_adopt(mf_admin_t *a, int fd, const struct sockaddr *addr, unsigned addrlen)
{
    /* On failure libmicrohttpd has closed fd itself. */
    return MHD_add_connection(a->adopter, fd, addr, addrlen) == MHD_YES ? 0 : -1;
}

void mf_admin_stop(mf_admin_t *a)
{
    if (!a)
        return;
    if (a->listener)
        MHD_stop_daemon(a->listener);
    if (a->adopter)
        MHD_stop_daemon(a->adopter);
    free(a);
}
