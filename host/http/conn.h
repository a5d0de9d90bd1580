/* Inbound connections as libmicrohttpd 0.9.75 leaves them, in epoll mode, to its user: the
 * peer's half-close, a first byte that can start no request, and the count of connections on
 * which no request has begun (the drain waits a moment for them). One daemon per thread: each
 * call is made from the daemon's thread unless it says otherwise. */
#ifndef MF_HTTP_CONN_H
#define MF_HTTP_CONN_H

#include <microhttpd.h>

/* The daemon's MHD_OPTION_NOTIFY_CONNECTION callback. cls: the mf_loop_t of the daemon's
 * thread, which watches each connection from its start to its close. */
void mf_http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode code);

/* A request began on conn: it is fresh no more. */
void mf_http_conn_requested(struct MHD_Connection *conn);

/* fn(ud) is called once when conn's peer shuts its side or resets it (at once when it already
 * has): how a connection libmicrohttpd does not watch (a suspended one) learns that its client
 * left. fn NULL: no call. Returns 0, or -1 when conn is not watched. */
int mf_http_conn_on_peer_gone(struct MHD_Connection *conn, void (*fn)(void *ud), void *ud);

/* Call after every MHD_run of the thread's daemon: connections whose peer shut its side are
 * shut for reading, now that the daemon has taken what was readable. */
void mf_http_conn_daemon_ran(void);

/* How many times the thread's daemon has run (mf_http_conn_daemon_ran). */
unsigned long mf_http_conn_daemon_runs(void);

/* Connections accepted, in every daemon, on which no request has begun yet. Any thread. */
long mf_http_conn_fresh(void);

/* A connection handed to a daemon by MHD_add_connection counts as fresh while it waits for the
 * daemon's thread (mf_http_conn_adopting, any thread) and by itself once added (then call
 * mf_http_conn_adopted, whether the daemon took it or not). */
void mf_http_conn_adopting(void);
void mf_http_conn_adopted(void);

#endif
