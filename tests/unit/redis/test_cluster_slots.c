/* Redis Cluster's key slots and slot map (redis/cluster_slots.c). The slots are those a real
 * cluster-enabled redis-server 7.0 answers to CLUSTER KEYSLOT; the map is read from CLUSTER
 * SLOTS replies given as RESP, through hiredis's reader as the connections read them. */
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis/cluster_slots.h"
#include "test.h"

#define SLOT(lit) mf_redis_key_slot(lit, sizeof(lit) - 1)

TEST(key_slots_match_redis)
{
    ASSERT_EQ_INT(SLOT("123456789"), 12739); /* CRC16/XMODEM's check value 0x31C3 */
    ASSERT_EQ_INT(SLOT("foo"), 12182);
    ASSERT_EQ_INT(SLOT("bar"), 5061);
    ASSERT_EQ_INT(SLOT("hello"), 866);
    ASSERT_EQ_INT(SLOT("somekey"), 11058);
    ASSERT_EQ_INT(SLOT(""), 0);
}

TEST(hash_tags)
{
    ASSERT_EQ_INT(SLOT("{user1000}.following"), 3443);
    ASSERT_EQ_INT(SLOT("{user1000}.followers"), 3443);
    ASSERT_EQ_INT(SLOT("foo{bar}{zap}"), 5061); /* the first tag: "bar" */
    ASSERT_EQ_INT(SLOT("foo{}{bar}"), 8363);    /* an empty first tag: the whole key */
    ASSERT_EQ_INT(SLOT("foo{{bar}}zap"), 4015); /* the tag is "{bar" */
    ASSERT_EQ_INT(SLOT("{}"), 15257);
    ASSERT_EQ_INT(SLOT("a{b"), 13340); /* no closing brace: the whole key */
    ASSERT_EQ_INT(mf_redis_key_slot("x{a\0b}y", 7), mf_redis_key_slot("a\0b", 3));
}

static redisReply *parse(const char *resp)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    redisReaderFeed(r, resp, strlen(resp));
    if (redisReaderGetReply(r, &reply) != REDIS_OK)
        reply = NULL;
    redisReaderFree(r);
    return reply;
}


TEST(slot_map_of_three_primaries)
{
    /* [0, 5460] on :7000 (a replica on :7003), [5461, 10922] on :7001, [10923, 16383] on
     * :7000 again (one primary may serve several ranges). */
    redisReply *r = parse("*3\r\n"
                          "*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                          "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
                          "*3\r\n:5461\r\n:10922\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$2\r\nid\r\n"
                          "*3\r\n:10923\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n");
    mf_redis_slot_map_t m;
    char err[256];
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ_INT(mf_redis_slot_map_read(r, &m, err, sizeof err), 0);
    ASSERT_EQ_INT(m.nprimaries, 2);
    ASSERT_EQ_INT(m.covered, MF_REDIS_CLUSTER_SLOTS);
    ASSERT_EQ_INT(m.primaries[m.owner[0]].port, 7000);
    ASSERT_EQ_INT(m.primaries[m.owner[5460]].port, 7000);
    ASSERT_EQ_INT(m.primaries[m.owner[5461]].port, 7001);
    ASSERT_EQ_INT(m.primaries[m.owner[16383]].port, 7000);
    ASSERT_EQ_STR(m.primaries[m.owner[SLOT("foo")]].host, "127.0.0.1");
    mf_redis_slot_map_free(&m);
    freeReplyObject(r);
}

TEST(partial_coverage_and_refusals)
{
    mf_redis_slot_map_t m;
    char err[256];
    redisReply *r = parse("*1\r\n*3\r\n:100\r\n:199\r\n*2\r\n$0\r\n\r\n:7002\r\n");
    ASSERT_EQ_INT(mf_redis_slot_map_read(r, &m, err, sizeof err), 0);
    ASSERT_EQ_INT(m.covered, 100);
    ASSERT_EQ_INT(m.owner[99], MF_REDIS_SLOT_UNCOVERED);
    ASSERT_EQ_STR(m.primaries[m.owner[150]].host, ""); /* the node asked */
    mf_redis_slot_map_free(&m);
    freeReplyObject(r);

    static const char *const bad[] = {
        "-CLUSTERDOWN The cluster is down\r\n",
        "*1\r\n*3\r\n:10\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n",    /* start past end */
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n", /* past the last slot */
        "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n",     /* port 0 */
        "*1\r\n*2\r\n:0\r\n:1\r\n",                            /* no node */
        "*2\r\n*3\r\n:0\r\n:9\r\n*2\r\n$1\r\nh\r\n:1\r\n*3\r\n:9\r\n:12\r\n*2\r\n$1\r\ng\r\n:1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = parse(bad[i]);
        ASSERT_TRUE(r != NULL);
        ASSERT_TRUE(mf_redis_slot_map_read(r, &m, err, sizeof err) != 0);
        ASSERT_TRUE(!strncmp(err, "CLUSTER SLOTS: ", 15));
        mf_redis_slot_map_free(&m);
        freeReplyObject(r);
    }
}

static int redirect(const char *text, int *ask, unsigned *slot, mf_redis_node_t *node)
{
    return mf_redis_redirect_read(text, strlen(text), ask, slot, node);
}

TEST(redirects)
{
    int ask;
    unsigned slot;
    mf_redis_node_t n;
    ASSERT_EQ_INT(redirect("MOVED 3999 127.0.0.1:6381", &ask, &slot, &n), 0);
    ASSERT_EQ_INT(ask, 0);
    ASSERT_EQ_INT((int)slot, 3999);
    ASSERT_EQ_STR(n.host, "127.0.0.1");
    ASSERT_EQ_INT(n.port, 6381);
    ASSERT_EQ_INT(redirect("ASK 16383 redis-2.cache.local:6379", &ask, &slot, &n), 0);
    ASSERT_EQ_INT(ask, 1);
    ASSERT_EQ_INT((int)slot, 16383);
    ASSERT_EQ_STR(n.host, "redis-2.cache.local");
    /* An IPv6 address, bracketed or not: the port is after the last colon. */
    ASSERT_EQ_INT(redirect("MOVED 0 ::1:7000", &ask, &slot, &n), 0);
    ASSERT_EQ_STR(n.host, "::1");
    ASSERT_EQ_INT(n.port, 7000);
    ASSERT_EQ_INT(redirect("MOVED 0 [fe80::1]:7000", &ask, &slot, &n), 0);
    ASSERT_EQ_STR(n.host, "fe80::1");
    /* A node that does not know its own address names none. */
    ASSERT_EQ_INT(redirect("MOVED 12 :6381", &ask, &slot, &n), 0);
    ASSERT_EQ_STR(n.host, "");
    static const char *const bad[] = {
        "MOVED", "MOVED 3999", "MOVED 3999 127.0.0.1", "MOVED 16384 h:1", "MOVED -1 h:1",
        "MOVED x h:1", "MOVED 1 h:0", "MOVED 1 h:65536", "MOVED 1 h:80x", "MOVED 1 h:",
        "ASKING 1 h:1", "ERR MOVED 1 h:1", "TRYAGAIN", "MOVED 1 a b:1", "moved 1 h:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_TRUE(redirect(bad[i], &ask, &slot, &n) != 0);
}

int main(void)
{
    RUN(key_slots_match_redis);
    RUN(hash_tags);
    RUN(slot_map_of_three_primaries);
    RUN(partial_coverage_and_refusals);
    RUN(redirects);
    TEST_MAIN_END();
}
