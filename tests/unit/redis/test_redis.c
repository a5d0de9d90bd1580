/* redis.c without a Redis: a port nobody listens on. Failures count toward the breaker, which
 * then fails calls without a round trip; readiness and the stats say so; shutdown closes the
 * pool. Which error replies are refusals that close a connection and may be sent again. The
 * paths that need a live Redis are covered by tests/integration/test_redis*.sh. The pool is
 * process-wide, so the steps run in order in one test. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/breaker.h"
#include "redis/private.h"
#include "redis/redis.h"
#include "test.h"

/* A loopback port with no listener: bound, then closed. */
static int dead_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int ping(char *err, size_t n)
{
    static const char *argv[] = {"PING"};
    static const size_t lens[] = {4};
    mf_redis_cmd_t cmd = {1, argv, lens};
    redisReply *r = NULL;
    int rc = mf_redis_run(&cmd, 1, &r, err, n);
    if (rc == 0)
        freeReplyObject(r);
    return rc;
}

TEST(unreachable_redis_trips_the_breaker)
{
    char url[64], err[512];
    mf_redis_stats_t st;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", dead_port());
    mf_options_t o = {.redis_url = url, .redis_timeout_ms = 100, .redis_pool_size = 2};
    ASSERT_EQ_INT(mf_redis_init(&o, err, sizeof err), 0);
    ASSERT_EQ_INT(mf_redis_configured(), 1);

    ASSERT_EQ_INT(ping(err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "cannot connect to Redis") != NULL);
    /* Backing off: the same reason, without a connect. */
    ASSERT_EQ_INT(ping(err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "cannot connect to Redis") != NULL);
    ASSERT_EQ_INT(ping(err, sizeof err), -1);
    mf_redis_stats(&st);
    ASSERT_EQ_INT(st.failures_total, 3);
    ASSERT_EQ_INT(st.breaker_state, MF_BREAKER_OPEN);

    /* Open: fails fast, says why, counts a rejection. */
    ASSERT_EQ_INT(ping(err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "circuit open") != NULL);
    ASSERT_TRUE(strstr(err, "cannot connect to Redis") != NULL);
    ASSERT_EQ_INT(mf_redis_check(err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "circuit open") != NULL);
    mf_redis_stats(&st);
    ASSERT_EQ_INT(st.rejected_total, 2);
    ASSERT_EQ_INT(st.failures_total, 3);
    ASSERT_EQ_INT(st.commands_total, 0);
    ASSERT_EQ_INT(st.latency_count, 0);
    ASSERT_EQ_INT(st.pool_size, 2);
    ASSERT_EQ_INT(st.pool_in_use, 0);
    ASSERT_EQ_INT(st.pool_open, 0);

    /* Init again (another Lua state) changes nothing. */
    mf_options_t other = {.redis_url = NULL, .redis_pool_size = 9};
    ASSERT_EQ_INT(mf_redis_init(&other, err, sizeof err), 0);
    mf_redis_stats(&st);
    ASSERT_EQ_INT(st.pool_size, 2);

    mf_redis_shutdown();
    ASSERT_EQ_INT(ping(err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "closed") != NULL);
}

static redisReply reply(int type, const char *str)
{
    return (redisReply){.type = type, .str = (char *)str, .len = str ? strlen(str) : 0};
}

TEST(refusals_are_error_replies_that_ran_nothing)
{
    redisReply readonly = reply(REDIS_REPLY_ERROR, "READONLY You can't write against a read only "
                                                   "replica."),
               masterdown = reply(REDIS_REPLY_ERROR, "MASTERDOWN Link with MASTER is down"),
               loading = reply(REDIS_REPLY_ERROR, "LOADING Redis is loading the dataset"),
               noauth = reply(REDIS_REPLY_ERROR, "NOAUTH Authentication required."),
               other = reply(REDIS_REPLY_ERROR, "ERR unknown command"),
               lookalike = reply(REDIS_REPLY_ERROR, "READONLYISH not a code"),
               status = reply(REDIS_REPLY_STATUS, "READONLY"), ok = reply(REDIS_REPLY_STATUS, "OK");
    int all;
    ASSERT_EQ_INT(mf_redis__refusals((redisReply *[]){&readonly}, 1, &all),
                  MF_REDIS_RECONNECT_READONLY);
    ASSERT_EQ_INT(all, 1);
    ASSERT_EQ_INT(mf_redis__refusals((redisReply *[]){&masterdown, &loading}, 2, &all),
                  MF_REDIS_RECONNECT_MASTERDOWN);
    ASSERT_EQ_INT(all, 1);
    ASSERT_EQ_INT(mf_redis__refusals((redisReply *[]){&noauth}, 1, &all), MF_REDIS_RECONNECT_AUTH);
    /* Part of a pipeline ran: the connection goes, the call is not sent again. */
    ASSERT_EQ_INT(mf_redis__refusals((redisReply *[]){&ok, &loading}, 2, &all),
                  MF_REDIS_RECONNECT_LOADING);
    ASSERT_EQ_INT(all, 0);
    ASSERT_EQ_INT(mf_redis__refusals((redisReply *[]){&other, &lookalike, &status}, 3, &all), -1);
    ASSERT_EQ_INT(all, 0);
}

int main(void)
{
    RUN(refusals_are_error_replies_that_ran_nothing);
    RUN(unreachable_redis_trips_the_breaker);
    TEST_MAIN_END();
}
