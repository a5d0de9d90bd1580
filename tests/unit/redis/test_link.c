/* redis/link.c over plain TCP against a scripted server on loopback (a thread): the RESP it
 * writes (the same bytes as hiredis's formatter), the setup and its refusals, pipelined replies
 * arriving in pieces, a connection the server closes (idle, or after the command went), a
 * server that never answers, a refused connect and a name that does not resolve. TLS is
 * tests/integration/test_redis_tls.sh's: it needs certificates and a real server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "redis/link.h"
#include "test.h"

/* ---- a scripted server: one connection, steps in order ---- */

typedef enum { ANSWER, ANSWER_SLOWLY, CLOSE, HOLD } action_t;

typedef struct {
    const char *expect; /* bytes it reads first (NULL: none) */
    action_t action;    /* then: answer (in two pieces, 20 ms apart: slowly), close, or hold
                         * the connection without a word until the client closes it */
    const char *answer;
} step_t;

typedef struct {
    int lfd, port;
    const step_t *steps;
    int mismatch; /* a step read something other than it expected */
    pthread_t thread;
} server_t;

static void read_exactly(int fd, char *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = read(fd, buf + have, n - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    buf[have] = '\0';
}

static void *serve(void *p)
{
    server_t *s = p;
    int fd = accept(s->lfd, NULL, NULL);
    char buf[4096];
    for (const step_t *st = s->steps; fd >= 0; st++) {
        if (st->expect) {
            read_exactly(fd, buf, strlen(st->expect));
            s->mismatch |= strcmp(buf, st->expect) != 0;
        }
        if (st->action == CLOSE)
            break;
        if (st->action == HOLD) {
            while (read(fd, buf, sizeof buf) > 0)
                ;
            break;
        }
        size_t len = strlen(st->answer), half = st->action == ANSWER_SLOWLY ? len / 2 : len;
        if (write(fd, st->answer, half) < 0)
            break;
        if (half < len) {
            usleep(20000);
            if (write(fd, st->answer + half, len - half) < 0)
                break;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void server_start(server_t *s, const step_t *steps)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    *s = (server_t){.steps = steps};
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    bind(s->lfd, (struct sockaddr *)&a, sizeof a);
    listen(s->lfd, 1);
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, serve, s);
}

/* Waits for the server's script to end; returns whether it read what it expected. */
static int server_end(server_t *s)
{
    pthread_join(s->thread, NULL);
    close(s->lfd);
    return !s->mismatch;
}

static int64_t in_ms(int ms)
{
    return mf_now_ns() + (int64_t)ms * 1000000;
}

static const char *incr_argv[] = {"INCR", "n"};
static const size_t incr_lens[] = {4, 1};
static const mf_redis_cmd_t incr = {2, incr_argv, incr_lens};
#define INCR_RESP "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"

static mf_redis_setup_set_t no_setup;

/* A link to a new server playing steps, connected without setup commands; NULL if it failed. */
static mf_redis_link_t *connected(server_t *s, const step_t *steps)
{
    server_start(s, steps);
    mf_redis_link_t *l = mf_redis_link_open("127.0.0.1", s->port, 0, &no_setup);
    if (mf_redis_link_connect_wait(l, in_ms(1000)) == 0)
        return l;
    mf_redis_link_close(l);
    return NULL;
}

/* Waits until the server has said or done something on l's connection. */
static void wait_readable(mf_redis_link_t *l)
{
    struct pollfd p = {.fd = mf_redis_link_fd(l), .events = POLLIN};
    poll(&p, 1, 1000);
}

/* ---- tests ---- */

TEST(format_matches_hiredis)
{
    static const char bin[] = {'a', '\0', '\r', '\n', 'b'};
    char big[1234];
    memset(big, 'x', sizeof big);
    const char *argv[] = {"SET", "", bin, big};
    size_t lens[] = {3, 0, sizeof bin, sizeof big};
    mf_redis_cmd_t cmds[] = {{4, argv, lens}, {1, argv, lens}, incr};
    char *want = NULL, *one;
    size_t wantlen = 0;
    for (int i = 0; i < 3; i++) {
        int n = redisFormatCommandArgv(&one, cmds[i].argc, cmds[i].argv, cmds[i].lens);
        want = realloc(want, wantlen + (size_t)n);
        memcpy(want + wantlen, one, (size_t)n);
        wantlen += (size_t)n;
        free(one);
    }
    size_t len = mf_redis_format_len(cmds, 3);
    char *got = malloc(len);
    mf_redis_format(got, cmds, 3);
    ASSERT_EQ_MEM(got, len, want, wantlen);
    free(got);
    free(want);
}

TEST(setup_then_a_pipeline_in_pieces)
{
    static const step_t steps[] = {
        {"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n", ANSWER,
         "+OK\r\n+OK\r\n"},
        {INCR_RESP INCR_RESP, ANSWER_SLOWLY, ":1\r\n*2\r\n$3\r\nabc\r\n$-1\r\n"},
        {NULL, CLOSE, NULL}};
    server_t s;
    server_start(&s, steps);
    mf_redis_setup_set_t setup = {
        .cmd = {{2, {"AUTH", "pw"}, {4, 2}}, {2, {"SELECT", "3"}, {6, 1}}}, .n = 2};
    mf_redis_link_t *l = mf_redis_link_open("127.0.0.1", s.port, 0, &setup);
    ASSERT_EQ_INT(mf_redis_link_connect_wait(l, in_ms(1000)), 0);
    ASSERT_EQ_INT(mf_redis_link_events(l), POLLIN); /* open and idle: watching for a close */
    mf_redis_cmd_t two[] = {incr, incr};
    redisReply *r[2];
    ASSERT_EQ_INT(mf_redis_link_exchange(l, two, 2, r, in_ms(1000)), 0);
    ASSERT_EQ_INT(r[0]->type, REDIS_REPLY_INTEGER);
    ASSERT_EQ_INT(r[0]->integer, 1);
    ASSERT_EQ_INT(r[1]->type, REDIS_REPLY_ARRAY);
    ASSERT_EQ_INT(r[1]->elements, 2);
    ASSERT_EQ_STR(r[1]->element[0]->str, "abc");
    ASSERT_EQ_INT(r[1]->element[1]->type, REDIS_REPLY_NIL);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    ASSERT_EQ_INT(mf_redis_link_written(l), mf_redis_link_appended(l));
    mf_redis_link_close(l);
    ASSERT_TRUE(server_end(&s));
}

TEST(refused_auth_is_its_own_kind_and_names_no_password)
{
    static const step_t steps[] = {
        {"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n", ANSWER, "-WRONGPASS invalid password\r\n"},
        {NULL, CLOSE, NULL}};
    server_t s;
    server_start(&s, steps);
    mf_redis_setup_set_t setup = {.cmd = {{2, {"AUTH", "secret"}, {4, 6}}}, .n = 1};
    mf_redis_link_t *l = mf_redis_link_open("127.0.0.1", s.port, 0, &setup);
    ASSERT_EQ_INT(mf_redis_link_connect_wait(l, in_ms(1000)), -1);
    ASSERT_EQ_INT(mf_redis_link_error(l), MF_REDIS_LINK_EAUTH);
    ASSERT_TRUE(strstr(mf_redis_link_errstr(l), "Redis AUTH failed: WRONGPASS") != NULL);
    ASSERT_TRUE(strstr(mf_redis_link_errstr(l), "secret") == NULL);
    mf_redis_link_close(l);
    ASSERT_TRUE(server_end(&s));
}

TEST(a_close_after_the_command_went_is_an_io_failure)
{
    static const step_t steps[] = {{INCR_RESP, CLOSE, NULL}};
    server_t s;
    mf_redis_link_t *l = connected(&s, steps);
    ASSERT_TRUE(l != NULL);
    ASSERT_EQ_INT(mf_redis_link_check_idle(l), 0);
    redisReply *r;
    ASSERT_EQ_INT(mf_redis_link_exchange(l, &incr, 1, &r, in_ms(1000)), -1);
    ASSERT_EQ_INT(mf_redis_link_error(l), MF_REDIS_LINK_EIO);
    ASSERT_TRUE(strstr(mf_redis_link_errstr(l), "closed by the server") != NULL);
    ASSERT_EQ_INT(mf_redis_link_written(l), sizeof INCR_RESP - 1); /* it went: not to retry */
    mf_redis_link_close(l);
    ASSERT_TRUE(server_end(&s));
}

TEST(an_idle_connection_the_server_closed_is_found_before_use)
{
    static const step_t steps[] = {{NULL, CLOSE, NULL}};
    server_t s;
    mf_redis_link_t *l = connected(&s, steps);
    ASSERT_TRUE(l != NULL);
    ASSERT_TRUE(server_end(&s));
    wait_readable(l);
    ASSERT_EQ_INT(mf_redis_link_check_idle(l), -1);
    ASSERT_EQ_INT(mf_redis_link_written(l), 0);
    mf_redis_link_close(l);
}

TEST(a_silent_server_times_out_by_the_deadline)
{
    static const step_t steps[] = {{NULL, HOLD, NULL}};
    server_t s;
    mf_redis_link_t *l = connected(&s, steps);
    ASSERT_TRUE(l != NULL);
    redisReply *r;
    int64_t t0 = mf_now_ns();
    ASSERT_EQ_INT(mf_redis_link_exchange(l, &incr, 1, &r, in_ms(100)), -1);
    int64_t ms = (mf_now_ns() - t0) / 1000000;
    ASSERT_TRUE(ms >= 99 && ms < 600);
    ASSERT_EQ_INT(mf_redis_link_error(l), MF_REDIS_LINK_ETIMEOUT);
    ASSERT_TRUE(strstr(mf_redis_link_errstr(l), "did not answer within") != NULL);
    mf_redis_link_close(l);
    ASSERT_TRUE(server_end(&s));
}

TEST(a_reply_nobody_asked_for_makes_an_idle_link_unusable)
{
    static const step_t steps[] = {{NULL, ANSWER, "+surprise\r\n"}, {NULL, HOLD, NULL}};
    server_t s;
    mf_redis_link_t *l = connected(&s, steps);
    ASSERT_TRUE(l != NULL);
    wait_readable(l);
    ASSERT_EQ_INT(mf_redis_link_check_idle(l), -1);
    mf_redis_link_close(l);
    ASSERT_TRUE(server_end(&s));
}

TEST(refused_and_unresolved_connects)
{
    server_t s;
    static const step_t none[] = {{NULL, CLOSE, NULL}};
    server_start(&s, none);
    int port = s.port;
    /* Nobody listens once the script ended and the socket closed. */
    mf_redis_link_t *l = mf_redis_link_open("127.0.0.1", port, 0, &no_setup);
    mf_redis_link_connect_wait(l, in_ms(1000));
    mf_redis_link_close(l);
    server_end(&s);

    l = mf_redis_link_open("127.0.0.1", port, 0, &no_setup);
    ASSERT_EQ_INT(mf_redis_link_connect_wait(l, in_ms(1000)), -1);
    ASSERT_EQ_INT(mf_redis_link_error(l), MF_REDIS_LINK_ECONNECT);
    char want[96];
    snprintf(want, sizeof want, "cannot connect to Redis at 127.0.0.1:%d: Connection refused",
             port);
    ASSERT_EQ_STR(mf_redis_link_errstr(l), want);
    mf_redis_link_close(l);

    l = mf_redis_link_open("no-such-host.invalid", 6379, 0, &no_setup);
    ASSERT_EQ_INT(mf_redis_link_connect_wait(l, in_ms(1000)), -1);
    ASSERT_EQ_INT(mf_redis_link_error(l), MF_REDIS_LINK_ECONNECT);
    ASSERT_TRUE(strstr(mf_redis_link_errstr(l), "cannot resolve no-such-host.invalid") != NULL);
    mf_redis_link_close(l);

    l = mf_redis_link_open("::1", port, 0, &no_setup);
    mf_redis_link_connect_wait(l, in_ms(1000));
    ASSERT_TRUE(strstr(mf_redis_link_errstr(l), "[::1]:") != NULL);
    mf_redis_link_close(l);
}

int main(void)
{
    RUN(format_matches_hiredis);
    RUN(setup_then_a_pipeline_in_pieces);
    RUN(refused_auth_is_its_own_kind_and_names_no_password);
    RUN(a_close_after_the_command_went_is_an_io_failure);
    RUN(an_idle_connection_the_server_closed_is_found_before_use);
    RUN(a_silent_server_times_out_by_the_deadline);
    RUN(a_reply_nobody_asked_for_makes_an_idle_link_unusable);
    RUN(refused_and_unresolved_connects);
    TEST_MAIN_END();
}
