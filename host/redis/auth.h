/* What a new connection sends before any command: AUTH with the password as it is now (the
 * URL's, or MAYFLY_REDIS_PASSWORD_FILE's first line, re-read when the file changes: the kubelet
 * rotates a mounted Secret in place), then SELECT for a database other than 0. Thread-safe. */
#ifndef MF_REDIS_AUTH_H
#define MF_REDIS_AUTH_H

#include <stddef.h>

#include "redis/url.h"

/* One setup command; argv[0] names it in errors. */
typedef struct {
    int argc;
    const char *argv[3];
    size_t lens[3];
} mf_redis_setup_t;

/* The setup of one connection, with the strings it points to: keep it while the commands are
 * sent. */
typedef struct {
    mf_redis_setup_t cmd[2];
    int n;
    char user[128];
    char password[1024];
    char db[16];
} mf_redis_setup_set_t;

/* Sets where the password comes from: url's, overridden by password_file's first line when
 * password_file is not NULL. Once, before any connection (mf_redis_init). */
void mf_redis_auth_init(const mf_redis_url_t *url, const char *password_file);

/* Fills s for a new data connection (AUTH, SELECT). Returns 0, or -1 with the reason in err
 * when the password file cannot be read (the connection must not be tried without it). */
int mf_redis_auth_setup(mf_redis_setup_set_t *s, char *err, size_t errlen);

/* The same for a connection to a sentinel: AUTH with sentinel_password when it is set (no
 * SELECT: sentinels have no databases). */
void mf_redis_auth_sentinel_setup(mf_redis_setup_set_t *s, const char *sentinel_password);

/* Tells the next mf_redis_auth_setup to read the password file again even if it looks
 * unchanged (after a WRONGPASS / NOAUTH refusal). */
void mf_redis_auth_recheck(void);

#endif
