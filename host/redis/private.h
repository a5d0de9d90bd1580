/* Between redis.c (the process's pool, breaker and counters) and conn.c (each worker's own
 * multiplexed connection): the target, the connection budget, and the shared accounting.
 * Nothing outside redis/ includes this. */
#ifndef MF_REDIS_PRIVATE_H
#define MF_REDIS_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

/* A command a new connection sends before any other; argv[0] names it in errors. */
typedef struct {
    int argc;
    const char *argv[3];
} mf_redis_setup_t;

typedef struct {
    const char *host;
    int port;
    int64_t timeout_ms;
    /* From the URL: AUTH when it has a password, then SELECT when it names a database other
     * than 0. A refusal of either fails the connection. */
    mf_redis_setup_t setup[2];
    int nsetup;
} mf_redis_target_t;

/* The target, or NULL with the reason in err (not configured, malformed URL). */
const mf_redis_target_t *mf_redis__target(char *err, size_t errlen);

/* Takes one connection of the pool's budget for a worker's own connection, leaving at least one
 * for the pool. Returns the slot to give back, or -1 when the budget is spent. */
int mf_redis__reserve(void);
void mf_redis__unreserve(int slot);

/* The breaker's word on a call starting now: 0, or -1 with the reason (counted as rejected).
 * *probe is set when this call is the half-open probe. */
int mf_redis__allow(int *probe, char *err, size_t errlen);
/* Whether a new connection may be tried now (backoff after failed connects); -1 with the
 * failure that started the backoff. */
int mf_redis__may_connect(int probe, char *err, size_t errlen);
void mf_redis__connect_failed(const char *why);
void mf_redis__opened(int delta); /* connections open: +1, -1 */

/* A round trip that failed (I/O, timeout): counted, the breaker told, why kept for later
 * rejections. */
void mf_redis__failed(const char *why);
/* A round trip of n commands that got its replies in ns. */
void mf_redis__succeeded(redisReply **replies, int n, int64_t ns);

#endif
