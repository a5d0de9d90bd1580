/* One connection to one Redis server, over TCP or TLS: the connect (the host resolved anew each
 * time: a name follows its record after a failover), the TLS handshake, the setup commands
 * (AUTH, SELECT), then commands written from an output buffer and replies read into hiredis's
 * reply reader. It never falls back to plaintext.
 *
 * The link does no waiting of its own. Either its owner drives it on an event loop: each call
 * does what it can without blocking and mf_redis_link_events says what the link waits for (TLS
 * may need to read in order to write, and to write in order to read); or the blocking calls at
 * the end wait on the socket with poll, up to a deadline. */
#ifndef MF_REDIS_LINK_H
#define MF_REDIS_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis/auth.h"
#include "redis/redis.h"

typedef struct mf_redis_link mf_redis_link_t;

/* Why a link failed: what its owner counts, tells the breaker, and whether a call may be tried
 * again elsewhere. */
typedef enum {
    MF_REDIS_LINK_ECONNECT = 1, /* the name did not resolve, or no address took the connection */
    MF_REDIS_LINK_ETLS,         /* the TLS handshake failed */
    MF_REDIS_LINK_EVERIFY,      /* the server's certificate did not verify */
    MF_REDIS_LINK_EAUTH,        /* the server refused AUTH */
    MF_REDIS_LINK_ESETUP,       /* another setup command was refused (SELECT), or the setup
                                 * could not be made (the password file) */
    MF_REDIS_LINK_EIO,          /* the connection was lost, or a reply is not RESP */
    MF_REDIS_LINK_ETIMEOUT,     /* a blocking call's deadline passed */
} mf_redis_link_error_t;

/* Starts connecting to host:port, over TLS when tls (mf_redis_tls_init ran). The setup commands
 * are copied: setup may go once this returns. A link is always returned; a failure to start is
 * reported by the first mf_redis_link_connect. */
mf_redis_link_t *mf_redis_link_open(const char *host, int port, int tls,
                                    const mf_redis_setup_set_t *setup);

/* Frees the link and closes its socket (a TLS session says goodbye first when healthy). Replies
 * not yet taken are freed with it. NULL does nothing. */
void mf_redis_link_close(mf_redis_link_t *l);

/* Moves the connect, the handshake and the setup on as far as they go now. Returns 0 once the
 * link takes commands, 1 while it waits (for mf_redis_link_events), -1 when it failed. */
int mf_redis_link_connect(mf_redis_link_t *l);

/* What the link waits for: EPOLLIN and/or EPOLLOUT (the same bits as poll's POLLIN and POLLOUT).
 * An open link always waits to read, so a connection the server closes is seen at once. */
uint32_t mf_redis_link_events(const mf_redis_link_t *l);

int mf_redis_link_fd(const mf_redis_link_t *l);

/* "host:port" ("[host]:port" for an IPv6 address), as messages name the server. */
const char *mf_redis_link_server(const mf_redis_link_t *l);

/* ---- commands and replies ---- */

/* The RESP form of n commands (what the link writes): mf_redis_format_len bytes, written by
 * mf_redis_format into out. */
size_t mf_redis_format_len(const mf_redis_cmd_t *cmds, int n);
void mf_redis_format(char *out, const mf_redis_cmd_t *cmds, int n);

/* Queues bytes (formatted commands) for writing. */
void mf_redis_link_append(mf_redis_link_t *l, const char *bytes, size_t len);

/* Bytes queued since the link opened, and how many of them were written: a command whose bytes
 * start at or past mf_redis_link_written was never sent. */
uint64_t mf_redis_link_appended(const mf_redis_link_t *l);
uint64_t mf_redis_link_written(const mf_redis_link_t *l);

/* Writes what is queued. Returns 0 when all of it went, 1 when the rest waits, -1 on failure. */
int mf_redis_link_flush(mf_redis_link_t *l);

/* Reads what has arrived into the reply reader. Returns 0 (something or nothing read), or -1
 * when the connection was lost or closed. */
int mf_redis_link_read(mf_redis_link_t *l);

/* The next complete reply, in *reply (the caller owns it: freeReplyObject). Returns 1 with a
 * reply, 0 when none is complete, -1 when what arrived is not RESP (the link failed). */
int mf_redis_link_reply(mf_redis_link_t *l, redisReply **reply);

/* Fails the link (EIO) for what its owner found wrong with it, why. Returns -1. */
int mf_redis_link_fail(mf_redis_link_t *l, const char *why);

/* Fails the link for a deadline its owner keeps (on a loop): ETIMEOUT, with a message for what
 * it was waiting for (the connect, or a reply) and how long it waited. Returns -1. */
int mf_redis_link_time_out(mf_redis_link_t *l, int64_t waited_ns);

/* Once a call failed: why (above) and the message, which names the server and never a
 * password. */
mf_redis_link_error_t mf_redis_link_error(const mf_redis_link_t *l);
const char *mf_redis_link_errstr(const mf_redis_link_t *l);

/* ---- blocking, up to a deadline (mf_now_ns's clock) ---- */

/* Connects, shakes hands and sets up. Returns 0, or -1 (ETIMEOUT when the deadline passed). */
int mf_redis_link_connect_wait(mf_redis_link_t *l, int64_t deadline_ns);

/* Writes n commands and reads their n replies into replies (the caller owns them). Returns 0,
 * or -1 with none kept (the link has failed: close it). */
int mf_redis_link_exchange(mf_redis_link_t *l, const mf_redis_cmd_t *cmds, int n,
                           redisReply **replies, int64_t deadline_ns);

/* For a link that sat idle: 0 when it is still open, -1 when the server closed it (or sent what
 * nobody asked for). Does not block. */
int mf_redis_link_check_idle(mf_redis_link_t *l);

#endif
