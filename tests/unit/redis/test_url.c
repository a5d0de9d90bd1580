/* MAYFLY_REDIS_URL's parser (redis/url.c): every scheme, credentials with escapes, IPv6, the
 * defaults, and the malformed URLs it must refuse without echoing a password. */
#include <stdio.h>
#include <string.h>

#include "redis/url.h"
#include "test.h"

static mf_redis_url_t u;
static char err[256];

static int parse(const char *url)
{
    err[0] = '\0';
    return mf_redis_url_parse(url, &u, err, sizeof err);
}

TEST(single_server)
{
    ASSERT_EQ_INT(parse("redis://localhost"), 0);
    ASSERT_EQ_INT(u.topology, MF_REDIS_SINGLE);
    ASSERT_EQ_INT(u.tls, 0);
    ASSERT_EQ_INT(u.nnodes, 1);
    ASSERT_EQ_STR(u.nodes[0].host, "localhost");
    ASSERT_EQ_INT(u.nodes[0].port, 6379);
    ASSERT_EQ_INT(u.db, 0);
    ASSERT_EQ_STR(u.password, "");
    ASSERT_EQ_STR(u.user, "");

    ASSERT_EQ_INT(parse("rediss://10.0.0.7:6380/15"), 0);
    ASSERT_EQ_INT(u.tls, 1);
    ASSERT_EQ_STR(u.nodes[0].host, "10.0.0.7");
    ASSERT_EQ_INT(u.nodes[0].port, 6380);
    ASSERT_EQ_INT(u.db, 15);
    ASSERT_EQ_INT(u.db_given, 1);
    ASSERT_EQ_INT(parse("redis://h:1/"), 0);
    ASSERT_EQ_INT(u.db, 0);
    ASSERT_EQ_INT(u.db_given, 0);
    ASSERT_EQ_INT(parse("redis://h:1/0"), 0);
    ASSERT_EQ_INT(u.db_given, 1);
}

TEST(credentials)
{
    ASSERT_EQ_INT(parse("redis://:secret@h:7000/2"), 0);
    ASSERT_EQ_STR(u.user, "");
    ASSERT_EQ_STR(u.password, "secret");
    ASSERT_EQ_INT(u.nodes[0].port, 7000);
    ASSERT_EQ_INT(parse("redis://secret@h"), 0);
    ASSERT_EQ_STR(u.password, "secret");
    ASSERT_EQ_INT(parse("rediss://app:p%40ss%3Aw%2Frd%25@cache.example.net:6380"), 0);
    ASSERT_EQ_STR(u.user, "app");
    ASSERT_EQ_STR(u.password, "p@ss:w/rd%");
    ASSERT_EQ_STR(u.nodes[0].host, "cache.example.net");
    /* an unescaped '@' in a password: the last '@' ends the credentials */
    ASSERT_EQ_INT(parse("redis://:a@b@h"), 0);
    ASSERT_EQ_STR(u.password, "a@b");
    ASSERT_EQ_STR(u.nodes[0].host, "h");
}

TEST(ipv6)
{
    ASSERT_EQ_INT(parse("redis://[::1]:6390/3"), 0);
    ASSERT_EQ_STR(u.nodes[0].host, "::1");
    ASSERT_EQ_INT(u.nodes[0].port, 6390);
    ASSERT_EQ_INT(u.db, 3);
    ASSERT_EQ_INT(parse("redis://[fe80::1]"), 0);
    ASSERT_EQ_INT(u.nodes[0].port, 6379);
    ASSERT_TRUE(parse("redis://[::1") != 0);
    ASSERT_TRUE(parse("redis://[::1]x") != 0);
    ASSERT_TRUE(parse("redis://::1:6379") != 0);
}

TEST(sentinel)
{
    ASSERT_EQ_INT(parse("redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster/4"), 0);
    ASSERT_EQ_INT(u.topology, MF_REDIS_SENTINEL);
    ASSERT_EQ_INT(u.tls, 0);
    ASSERT_EQ_INT(u.nnodes, 3);
    ASSERT_EQ_STR(u.nodes[1].host, "s2");
    ASSERT_EQ_INT(u.nodes[1].port, 26379);
    ASSERT_EQ_STR(u.nodes[2].host, "::1");
    ASSERT_EQ_INT(u.nodes[2].port, 26380);
    ASSERT_EQ_STR(u.master, "mymaster");
    ASSERT_EQ_INT(u.db, 4);
    ASSERT_EQ_STR(u.password, "pw");
    ASSERT_EQ_INT(parse("rediss+sentinel://s1/m"), 0);
    ASSERT_EQ_INT(u.tls, 1);
    ASSERT_EQ_INT(u.db, 0);
    ASSERT_EQ_STR(mf_redis_topology_name(u.topology), "sentinel");
    ASSERT_TRUE(parse("redis+sentinel://s1") != 0);
    ASSERT_TRUE(strstr(err, "master") != NULL);
    ASSERT_TRUE(parse("redis+sentinel://s1,/m") != 0);
}

TEST(cluster)
{
    ASSERT_EQ_INT(parse("redis+cluster://u:pw@n1:7000,n2,[::1]:7002"), 0);
    ASSERT_EQ_INT(u.topology, MF_REDIS_CLUSTER);
    ASSERT_EQ_INT(u.tls, 0);
    ASSERT_EQ_INT(u.nnodes, 3);
    ASSERT_EQ_STR(u.nodes[0].host, "n1");
    ASSERT_EQ_INT(u.nodes[0].port, 7000);
    ASSERT_EQ_INT(u.nodes[1].port, 6379);
    ASSERT_EQ_STR(u.nodes[2].host, "::1");
    ASSERT_EQ_STR(u.user, "u");
    ASSERT_EQ_STR(u.password, "pw");
    ASSERT_EQ_STR(mf_redis_topology_name(u.topology), "cluster");
    ASSERT_EQ_INT(parse("rediss+cluster://n1/"), 0);
    ASSERT_EQ_INT(u.tls, 1);
    ASSERT_EQ_INT(u.db_given, 0);
    /* A cluster has database 0 only: a path is a mistake, said as such. */
    ASSERT_TRUE(parse("redis+cluster://n1:7000/1") != 0);
    ASSERT_TRUE(strstr(err, "database 0") != NULL);
    ASSERT_TRUE(parse("redis+cluster://n1,") != 0);
    /* Several hosts only where they mean something. */
    ASSERT_TRUE(parse("redis://n1,n2") != 0);
    ASSERT_TRUE(strstr(err, "redis+cluster://") != NULL);
}

TEST(refused)
{
    static const char *const bad[] = {
        "",
        "http://h",
        "redis:/h",
        "redis://",
        "redis://:pw@",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:12a",
        "redis://h:",
        "redis://h/x",
        "redis://h/-1",
        "redis://h/12345678",
        "redis://h?db=1",
        "redis://h#x",
        "redis://a,b",
        "redis://h%41",
        "redis://:p%zz@h",
        "redis://:p%4@h",
        "redis://:p%00@h",
        "redis://h h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i]);
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        ASSERT_TRUE(rc != 0);
        ASSERT_TRUE(!strncmp(err, "MAYFLY_REDIS_URL: ", 18));
    }
}

TEST(error_never_holds_the_password)
{
    ASSERT_TRUE(parse("redis://:hunter2@h:99999") != 0);
    ASSERT_TRUE(strstr(err, "hunter2") == NULL);
    ASSERT_TRUE(parse("redis://:hunter2%zz@h") != 0);
    ASSERT_TRUE(strstr(err, "hunter2") == NULL);
}

static void sentinels(char *url, int n)
{
    strcpy(url, "redis+sentinel://");
    for (int i = 0; i < n; i++)
        strcat(url, i ? ",s" : "s");
    strcat(url, "/m");
}

TEST(at_most_sixteen_nodes)
{
    char url[512];
    sentinels(url, MF_REDIS_MAX_NODES);
    ASSERT_EQ_INT(parse(url), 0);
    ASSERT_EQ_INT(u.nnodes, MF_REDIS_MAX_NODES);
    sentinels(url, MF_REDIS_MAX_NODES + 1);
    ASSERT_TRUE(parse(url) != 0);
}

int main(void)
{
    RUN(single_server);
    RUN(credentials);
    RUN(ipv6);
    RUN(sentinel);
    RUN(cluster);
    RUN(refused);
    RUN(error_never_holds_the_password);
    RUN(at_most_sixteen_nodes);
    TEST_MAIN_END();
}
