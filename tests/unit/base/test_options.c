#include <stdlib.h>
#include <string.h>

#include "base/options.h"
#include "test.h"

TEST(durations)
{
    static const struct {
        const char *in;
        int64_t ms; /* -1: refused */
    } cases[] = {{"5s", 5000},  {"250ms", 250}, {"2m", 120000}, {"1h", 3600000}, {"1.5s", 1500},
                 {"30", 30000}, {"0", 0},       {"", -1},       {"-1s", -1},     {"5 s", -1},
                 {"5d", -1},    {"fast", -1},   {"1e30s", -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        int rc = mf_parse_duration_ms(cases[i].in, &ms);
        ASSERT_EQ_INT(rc, cases[i].ms < 0 ? -1 : 0);
        if (cases[i].ms >= 0)
            ASSERT_EQ_INT(ms, cases[i].ms);
    }
}

TEST(sizes)
{
    static const struct {
        const char *in;
        long long bytes; /* -1: refused */
    } cases[] = {{"1048576", 1048576}, {"1MiB", 1048576}, {"64KiB", 65536}, {"64k", 65536},
                 {"2MB", 2000000},     {"1gib", 1073741824}, {"lots", -1},  {"-1", -1},
                 {"1TiB", -1},         {"", -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        int rc = mf_parse_size(cases[i].in, &n);
        ASSERT_EQ_INT(rc, cases[i].bytes < 0 ? -1 : 0);
        if (cases[i].bytes >= 0)
            ASSERT_EQ_INT(n, cases[i].bytes);
    }
}

TEST(bools_levels_ints)
{
    int b, level;
    long v;
    ASSERT_EQ_INT(mf_parse_bool("on", &b), 0);
    ASSERT_EQ_INT(b, 1);
    ASSERT_EQ_INT(mf_parse_bool("FALSE", &b), 0);
    ASSERT_EQ_INT(b, 0);
    ASSERT_EQ_INT(mf_parse_bool("maybe", &b), -1);
    ASSERT_EQ_INT(mf_parse_log_level("warning", &level), 0);
    ASSERT_EQ_INT(level, MF_LOG_WARN);
    ASSERT_EQ_INT(mf_parse_log_level("loud", &level), -1);
    ASSERT_EQ_INT(mf_parse_int("12", 1, 256, &v), 0);
    ASSERT_EQ_INT(v, 12);
    ASSERT_EQ_INT(mf_parse_int("0", 1, 256, &v), -1);
    ASSERT_EQ_INT(mf_parse_int("12x", 1, 256, &v), -1);
    ASSERT_EQ_INT(mf_parse_int(" 12", 1, 256, &v), -1);
    ASSERT_EQ_INT(mf_parse_int("99999999999999999999", 1, 256, &v), -1);
}

TEST(listen_addresses)
{
    mf_listen_t l;
    ASSERT_EQ_INT(mf_parse_listen("0.0.0.0:8080", &l), 0);
    ASSERT_EQ_STR(l.host, "0.0.0.0");
    ASSERT_EQ_INT(l.port, 8080);
    ASSERT_EQ_INT(mf_parse_listen("[::1]:9000", &l), 0);
    ASSERT_EQ_STR(l.host, "::1");
    ASSERT_EQ_INT(l.port, 9000);
    ASSERT_EQ_INT(mf_parse_listen(":80", &l), 0);
    ASSERT_EQ_STR(l.host, "");
    ASSERT_EQ_INT(mf_parse_listen("8081", &l), 0);
    ASSERT_EQ_STR(l.host, "");
    ASSERT_EQ_INT(l.port, 8081);
    ASSERT_EQ_INT(mf_parse_listen("127.0.0.1:0", &l), 0);
    ASSERT_EQ_INT(l.port, 0);
    ASSERT_EQ_INT(mf_parse_listen("::1:80", &l), -1);
    ASSERT_EQ_INT(mf_parse_listen("host:99999", &l), -1);
    ASSERT_EQ_INT(mf_parse_listen("[::1]80", &l), -1);
    ASSERT_EQ_INT(mf_parse_listen("nowhere", &l), -1);
}

TEST(defaults_env_and_flags)
{
    mf_options_t o;
    char err[256];
    unsetenv("MAYFLY_WORKERS");
    unsetenv("MAYFLY_LISTEN");
    ASSERT_EQ_INT(mf_options_load(&o, 0, NULL, err, sizeof err), 0);
    ASSERT_EQ_STR(o.listen.host, "0.0.0.0");
    ASSERT_EQ_INT(o.listen.port, 8080);
    ASSERT_EQ_STR(o.scripts_dir, "./scripts");
    ASSERT_TRUE(o.config_dir == NULL);
    ASSERT_TRUE(o.redis_url == NULL);
    ASSERT_EQ_INT(o.drain_delay_ms, 5000);
    ASSERT_EQ_INT(o.shutdown_timeout_ms, 25000);
    ASSERT_EQ_INT(o.request_timeout_ms, 30000);
    ASSERT_EQ_INT(o.max_body, 1048576);
    ASSERT_EQ_INT(o.log_level, MF_LOG_INFO);
    ASSERT_EQ_INT(o.access_log, 1);
    ASSERT_TRUE(o.workers >= 1);

    setenv("MAYFLY_WORKERS", "3", 1);
    setenv("MAYFLY_LISTEN", "127.0.0.1:9999", 1);
    char *argv[] = {"--workers", "5", "--access-log=off", "--scripts", "/srv/s"};
    ASSERT_EQ_INT(mf_options_load(&o, 5, argv, err, sizeof err), 0);
    ASSERT_EQ_INT(o.workers, 5); /* the flag overrides the environment */
    ASSERT_EQ_INT(o.access_log, 0);
    ASSERT_EQ_STR(o.scripts_dir, "/srv/s");
    ASSERT_EQ_STR(o.listen.host, "127.0.0.1");
    ASSERT_EQ_INT(o.listen.port, 9999);

    setenv("MAYFLY_WORKERS", "none", 1);
    ASSERT_EQ_INT(mf_options_load(&o, 0, NULL, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "MAYFLY_WORKERS") != NULL);
    unsetenv("MAYFLY_WORKERS");
    unsetenv("MAYFLY_LISTEN");

    char *bad[] = {"--nope"};
    ASSERT_EQ_INT(mf_options_load(&o, 1, bad, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "unknown flag '--nope'") != NULL);
    char *missing[] = {"--workers"};
    ASSERT_EQ_INT(mf_options_load(&o, 1, missing, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "needs a value") != NULL);
    char *positional[] = {"serve"};
    ASSERT_EQ_INT(mf_options_load(&o, 1, positional, err, sizeof err), -1);
}

int main(void)
{
    RUN(durations);
    RUN(sizes);
    RUN(bools_levels_ints);
    RUN(listen_addresses);
    RUN(defaults_env_and_flags);
    TEST_MAIN_END();
}
