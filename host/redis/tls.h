/* TLS to Redis (rediss://) on OpenSSL: the process's client context, made once from the
 * settings and shared by every thread, and a session for one connected socket. TLS 1.2 at
 * least; the server's chain is verified against the system's CAs or MAYFLY_REDIS_CA_FILE, and its
 * name (or address) against the host the URL gives. */
#ifndef MF_REDIS_TLS_H
#define MF_REDIS_TLS_H

#include <stddef.h>

#include "base/options.h"

struct ssl_st;

/* Builds the context from o's redis_ca_file, redis_cert_file and redis_key_file (a certificate
 * and its key for mutual TLS: both or neither). Returns 0, or -1 with the reason in err: a file
 * that cannot be read, a key that does not match the certificate. Once, before any session. */
int mf_redis_tls_init(const mf_options_t *o, char *err, size_t errlen);

/* A client session on fd, a connected non-blocking socket, for host (a name gets SNI and is the
 * name the certificate must carry; an IP address must be in the certificate). Writes never raise
 * SIGPIPE. The caller frees it with SSL_free, which leaves fd open. */
struct ssl_st *mf_redis_tls_session(int fd, const char *host);

/* Why a TLS call on s failed with SSL_get_error's code err: the certificate check's verdict when
 * it refused the server (*verify set), else OpenSSL's reason or the socket's. Clears the
 * thread's OpenSSL error queue. */
void mf_redis_tls_error(struct ssl_st *s, int err, int *verify, char *out, size_t outlen);

#endif
