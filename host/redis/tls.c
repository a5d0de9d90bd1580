#include "redis/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static SSL_CTX *ctx;
static BIO_METHOD *socket_method;

/* ---- a socket BIO whose writes never raise SIGPIPE ---- */

/* OpenSSL's own socket BIO writes with write(2): a server that closed the connection would kill
 * a process that does not ignore SIGPIPE (mayfly test does not). */
static int bio_write(BIO *b, const char *buf, int len)
{
    ssize_t n = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, MSG_NOSIGNAL);
    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    ssize_t n = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);
    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH; /* nothing is buffered here; everything else is unsupported */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---- the context ---- */

/* OpenSSL's reason for the last failure, for a message; clears the queue. */
static const char *openssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "unknown error";
}

int mf_redis_tls_init(const mf_options_t *o, char *err, size_t errlen)
{
    if ((o->redis_cert_file == NULL) != (o->redis_key_file == NULL)) {
        snprintf(err, errlen,
                 "MAYFLY_REDIS_CERT_FILE and MAYFLY_REDIS_KEY_FILE go together: "
                 "set both for mutual TLS, or neither");
        return -1;
    }
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c) {
        snprintf(err, errlen, "cannot make a TLS context: %s", openssl_reason());
        return -1;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    /* A partial write is retried from where it stopped, from a buffer that may have moved (it
     * grows while the write waits); read ahead takes what the socket holds in one read. */
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c, 1);
    if (o->redis_ca_file ? SSL_CTX_load_verify_locations(c, o->redis_ca_file, NULL) != 1
                         : SSL_CTX_set_default_verify_paths(c) != 1) {
        snprintf(err, errlen, "%s%s: cannot load the CA certificates: %s",
                 o->redis_ca_file ? "MAYFLY_REDIS_CA_FILE " : "the system's CA store",
                 o->redis_ca_file ? o->redis_ca_file : "", openssl_reason());
        goto fail;
    }
    if (o->redis_cert_file) {
        if (SSL_CTX_use_certificate_chain_file(c, o->redis_cert_file) != 1) {
            snprintf(err, errlen, "MAYFLY_REDIS_CERT_FILE %s: %s", o->redis_cert_file,
                     openssl_reason());
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(c, o->redis_key_file, SSL_FILETYPE_PEM) != 1) {
            snprintf(err, errlen, "MAYFLY_REDIS_KEY_FILE %s: %s", o->redis_key_file,
                     openssl_reason());
            goto fail;
        }
        if (SSL_CTX_check_private_key(c) != 1) {
            snprintf(err, errlen,
                     "MAYFLY_REDIS_KEY_FILE %s is not the key of MAYFLY_REDIS_CERT_FILE %s",
                     o->redis_key_file, o->redis_cert_file);
            ERR_clear_error();
            goto fail;
        }
    }
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mayfly redis socket");
    if (!m || !BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        snprintf(err, errlen, "cannot make a TLS socket method: %s", openssl_reason());
        goto fail;
    }
    ctx = c;
    socket_method = m;
    return 0;
fail:
    SSL_CTX_free(c);
    return -1;
}

/* ---- sessions ---- */

static int is_ip(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

SSL *mf_redis_tls_session(int fd, const char *host)
{
    SSL *s = SSL_new(ctx);
    BIO *b = BIO_new(socket_method);
    if (!s || !b)
        goto fail;
    BIO_set_data(b, (void *)(intptr_t)fd);
    SSL_set_bio(s, b, b); /* s owns b now */
    b = NULL;
    X509_VERIFY_PARAM *p = SSL_get0_param(s);
    if (is_ip(host)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(p, host) != 1)
            goto fail;
    } else {
        X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (X509_VERIFY_PARAM_set1_host(p, host, 0) != 1 || SSL_set_tlsext_host_name(s, host) != 1)
            goto fail;
    }
    SSL_set_connect_state(s);
    return s;
fail:
    BIO_free(b);
    SSL_free(s);
    ERR_clear_error();
    return NULL;
}

void mf_redis_tls_error(SSL *s, int err, int *verify, char *out, size_t outlen)
{
    long v = SSL_get_verify_result(s);
    *verify = v != X509_V_OK;
    if (*verify)
        snprintf(out, outlen, "%s", X509_verify_cert_error_string(v));
    else if (err == SSL_ERROR_SSL)
        snprintf(out, outlen, "%s", openssl_reason());
    else if (err == SSL_ERROR_ZERO_RETURN)
        snprintf(out, outlen, "closed by the server");
    else if (err == SSL_ERROR_SYSCALL && errno)
        snprintf(out, outlen, "%s", strerror(errno));
    else
        snprintf(out, outlen, "connection lost");
    ERR_clear_error();
}
