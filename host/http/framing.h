/* The framing of an inbound request where libmicrohttpd would read it otherwise than some peer
 * does, or wait for what cannot come: the head's checks before any body is read, and the watch
 * of a chunked body whose line outgrew the read buffer. */
#ifndef MF_HTTP_FRAMING_H
#define MF_HTTP_FRAMING_H

#include <stddef.h>

#include "event/loop.h"

struct MHD_Connection;

/* Checks the head of the request on conn (its header fields) before any of its body is read.
 * Returns 0 when it may be served, *chunked telling whether its body is chunked, or the status
 * of the refusal (400, 413, 501) with its message, static text, in *why. */
int mf_http_head_check(struct MHD_Connection *conn, size_t max_body, int *chunked,
                       const char **why);

/* The watch of a chunked body being read (see framing.c), kept beside its request. */
typedef struct {
    mf_timer_t timer;
    /* private */
    mf_loop_t *loop;
    struct MHD_Connection *conn;
    unsigned long progress, seen_progress, seen_runs;
    int seen_pending;
} mf_http_stall_t;

/* Readies s for a request on loop's thread (the daemon's): not watching yet. */
void mf_http_stall_init(mf_http_stall_t *s, mf_loop_t *loop);
/* Watches the chunked body of the request on conn until mf_http_stall_stop. */
void mf_http_stall_watch(mf_http_stall_t *s, struct MHD_Connection *conn);
/* Body data came through. */
void mf_http_stall_progress(mf_http_stall_t *s);
void mf_http_stall_stop(mf_http_stall_t *s);

#endif
