#include "http/framing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/syntax.h"
#include "http/conn.h"
#include "http/response.h"
#include "observe/log.h"

/* ---- the head ---- */

typedef struct {
    int hosts, content_length, transfer_encoding;
    const char *length; /* the Content-Length's value, checked: the head's only one */
    int status;         /* 0, or the status of the refusal */
    const char *why;    /* its message */
} head_check_t;

static enum MHD_Result refuse_head(head_check_t *c, int status, const char *why)
{
    c->status = status;
    c->why = why;
    return MHD_NO;
}

/* RFC 9112 6.1 and 6.3: the one transfer coding served is chunked, once and last (any other
 * leaves the body's end unknown: 400); other codings before it are not implemented (501).
 * libmicrohttpd frames only an exact "chunked" and reads anything else until the client
 * closes, so every other value is refused here before it can wait for that. */
static int transfer_encoding_status(const char *v, size_t n, const char **why)
{
    int chunked = 0, last_chunked = 0, others = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t a = start, b = i;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (a == b)
            continue;
        last_chunked = b - a == 7 && !strncasecmp(v + a, "chunked", 7);
        if (last_chunked)
            chunked++;
        else
            others++;
    }
    if (chunked != 1 || !last_chunked) {
        *why = "Transfer-Encoding must end with chunked, once";
        return 400;
    }
    if (others) {
        *why = "transfer coding not implemented";
        return 501;
    }
    if (n != 7) { /* a list of one, with spaces or commas around it */
        *why = "Transfer-Encoding must be exactly chunked";
        return 400;
    }
    return 0;
}

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    head_check_t *c = cls;
    (void)kind;
    /* A name that is not a token (whitespace before the colon, control bytes), a value with
     * CR, NUL or other control bytes: a message some peer would read differently. */
    if (!mf_syntax_http_header(key, key_size, value ? value : "", value ? value_size : 0) ||
        (value && strlen(value) != value_size))
        return refuse_head(c, 400, "malformed header");
    if (key_size == 4 && !strncasecmp(key, "host", 4)) {
        if (++c->hosts > 1)
            return refuse_head(c, 400, "more than one Host header");
    } else if (key_size == 14 && !strncasecmp(key, "content-length", 14)) {
        /* 1*DIGIT only: a sign, a space or a list is read differently by different peers. */
        if (!value || !value_size || strspn(value, "0123456789") != value_size)
            return refuse_head(c, 400, "malformed Content-Length");
        if (++c->content_length > 1)
            return refuse_head(c, 400, "more than one Content-Length");
        c->length = value;
    } else if (key_size == 17 && !strncasecmp(key, "transfer-encoding", 17)) {
        const char *why;
        int status = transfer_encoding_status(value ? value : "", value ? value_size : 0, &why);
        if (status)
            return refuse_head(c, status, why);
        if (++c->transfer_encoding > 1) /* only the first line would frame the body */
            return refuse_head(c, 400, "more than one Transfer-Encoding header");
    }
    /* Both lengths: the classic smuggling shape (a front proxy may frame it the other way). */
    if (c->content_length && c->transfer_encoding)
        return refuse_head(c, 400, "both Content-Length and Transfer-Encoding");
    return MHD_YES;
}

int mf_http_head_check(struct MHD_Connection *conn, size_t max_body, int *chunked, const char **why)
{
    head_check_t hc = {0, 0, 0, NULL, 0, NULL};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, check_header, &hc);
    if (hc.status) {
        *why = hc.why;
        return hc.status;
    }
    const char *cl = hc.length;
    if (cl) {
        errno = 0;
        unsigned long long n = strtoull(cl, NULL, 10); /* digits only, checked above */
        if (errno || (size_t)n > max_body) {
            *why = "request body too large";
            return 413;
        }
    }
    *chunked = hc.transfer_encoding;
    return 0;
}

/* ---- a chunked body's stall ---- */

#define STALL_CHECK_NS (100 * 1000000LL)

/* A chunked body whose chunk-size line (with its extension) outgrows libmicrohttpd's read
 * buffer stops the daemon reading: it neither refuses it nor reads on, and spins on it (a
 * core busy) until the idle timeout. Seen from here: bytes wait in the socket, no fewer than at the
 * last check, and no body data came through though the daemon has run since. Such a connection is
 * shut down, which the daemon sees as a hang-up and closes. */
static void on_stall_check(void *ud)
{
    mf_http_stall_t *s = ud;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int pending = 0;
    if (!ci || ioctl(ci->connect_fd, FIONREAD, &pending))
        pending = 0;
    if (pending > 0 && pending >= s->seen_pending && s->seen_pending > 0 &&
        s->progress == s->seen_progress && mf_http_conn_daemon_runs() != s->seen_runs) {
        if (mf_log_enabled(MF_LOG_DEBUG))
            mf_log_msg(MF_LOG_DEBUG, "chunked body stalled: a line outgrew the read buffer");
        shutdown(ci->connect_fd, SHUT_RDWR);
        return;
    }
    s->seen_pending = pending;
    s->seen_progress = s->progress;
    s->seen_runs = mf_http_conn_daemon_runs();
    mf_loop_timer_start(s->loop, &s->timer, mf_now_ns() + STALL_CHECK_NS);
}

void mf_http_stall_init(mf_http_stall_t *s, mf_loop_t *loop)
{
    mf_timer_init(&s->timer, on_stall_check, s);
    s->loop = loop;
    s->conn = NULL;
    s->progress = 0;
}

void mf_http_stall_watch(mf_http_stall_t *s, struct MHD_Connection *conn)
{
    s->conn = conn;
    s->seen_pending = 0;
    s->seen_progress = s->progress;
    s->seen_runs = mf_http_conn_daemon_runs();
    mf_loop_timer_start(s->loop, &s->timer, mf_now_ns() + STALL_CHECK_NS);
}

void mf_http_stall_progress(mf_http_stall_t *s)
{
    s->progress++;
}

void mf_http_stall_stop(mf_http_stall_t *s)
{
    mf_loop_timer_stop(s->loop, &s->timer);
}
