/* Where a command's first key is (redis/command_keys.c). The expectations come from a
 * redis-server 7.0's COMMAND GETKEYS for the same calls (the first key it lists, or none).
 * GETKEYS reads the key specs, while a cluster node routes a command by its own key finder
 * (XREAD's option parser, MIGRATE's, EVAL's atoi of numkeys) or the first key COMMAND INFO
 * gives; where the two differ, the expectation is where a two-node 7.0 cluster redirected the
 * call (the MOVED slot, or no MOVED from either node: keyless), and the case says so. */
#include <stdio.h>
#include <string.h>

#include "redis/command_keys.h"
#include "test.h"

#define MAX_WORDS 32

/* The first key of the words of line, split at spaces; "<empty>" is an empty word. Each word is
 * given by pointer and length into a copy of line, as binary-safe callers give them. */
static int first_key_why(const char *line, const char **why)
{
    static char buf[512];
    const char *argv[MAX_WORDS];
    size_t lens[MAX_WORDS];
    int argc = 0;
    size_t n = strlen(line);
    memcpy(buf, line, n + 1);
    for (char *p = buf; argc < MAX_WORDS;) {
        char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int empty = len == 7 && !memcmp(p, "<empty>", 7);
        argv[argc] = p;
        lens[argc++] = empty ? 0 : len;
        if (!end)
            break;
        p = end + 1;
    }
    mf_redis_cmd_t c = {argc, argv, lens};
    return mf_redis_command_first_key(&c, why);
}

/* mf_redis_command_on_every_primary of the words of line, split at spaces. */
static int everywhere(const char *line)
{
    char buf[128];
    const char *argv[4];
    size_t lens[4];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *p = strtok(buf, " "); p && argc < 4; p = strtok(NULL, " ")) {
        argv[argc] = p;
        lens[argc++] = strlen(p);
    }
    mf_redis_cmd_t c = {argc, argv, lens};
    return mf_redis_command_on_every_primary(&c);
}

static int first_key(const char *line)
{
    const char *why = NULL;
    int r = first_key_why(line, &why);
    return r == -1 || why == NULL ? r : -2; /* why set without a refusal: wrong */
}

typedef struct {
    const char *line;
    int first;
} case_t;

#define CHECK_CASES(cases)                                                                         \
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {                                  \
        if (first_key(cases[i].line) != cases[i].first)                                            \
            printf("    %s\n", cases[i].line);                                                     \
        ASSERT_EQ_INT(first_key(cases[i].line), cases[i].first);                                   \
    }

TEST(most_commands_take_argv1)
{
    static const case_t cases[] = {
        {"GET k", 1},
        {"get k", 1},
        {"SET k v EX 10", 1},
        {"INCR k", 1},
        {"HSET h f v", 1},
        {"LPUSH l a b", 1},
        {"ZADD z 1 m", 1},
        {"EXPIRE k 10", 1},
        {"DEL a b c", 1},
        {"MGET a b", 1},
        {"MSET a 1 b 2", 1},
        {"RENAME a b", 1},
        {"COPY a b REPLACE", 1},
        {"SUNIONSTORE d a b", 1},
        {"ZUNIONSTORE d 2 a b", 1}, /* the destination first */
        {"ZINTERSTORE d 2 a b WEIGHTS 1 2", 1},
        {"ZDIFFSTORE d 2 a b", 1},
        {"BLPOP a b 0", 1},
        {"BRPOPLPUSH a b 0", 1},
        {"LMOVE a b LEFT RIGHT", 1},
        {"SORT k BY w_* GET # STORE d", 1},
        {"SORT_RO k", 1},
        {"GEOSEARCH k FROMLONLAT 0 0 BYRADIUS 1 m", 1},
        {"GEORADIUS k 0 0 1 m STORE d", 1},
        {"XADD s * f v", 1},
        {"XRANGE s - +", 1},
        {"XACK s g 0-1", 1},
        {"WATCH a b", 1},
        {"PFCOUNT a b", 1},
        /* Shard channels are no keys to GETKEYS, but a cluster node routes them by argv[1]'s
         * slot (MOVED for "ch"), as COMMAND INFO's first key 1 says. */
        {"SPUBLISH ch m", 1},
        {"SSUBSCRIBE ch other", 1},
        /* Unknown to the server: a module's command takes argv[1] as most do. */
        {"JSON.GET k $", 1},
        {"GET", 0}, /* a key missing: the server refuses the call wherever it goes */
    };
    CHECK_CASES(cases);
}

TEST(keyless)
{
    /* GETKEYS: "The command has no key arguments" for each. */
    static const char *const lines[] = {
        "PING",
        "PING hello",
        "ECHO x",
        "INFO",
        "INFO memory",
        "TIME",
        "LASTSAVE",
        "CONFIG GET maxmemory",
        "CLIENT LIST",
        "CLUSTER SLOTS",
        "COMMAND INFO get",
        "SCRIPT LOAD return",
        "SCRIPT EXISTS a",
        "FUNCTION LOAD code",
        "FUNCTION LIST",
        "FUNCTION DELETE lib",
        "PUBLISH ch m",
        "PUBSUB CHANNELS",
        "SLOWLOG GET 10",
        "LATENCY LATEST",
        "MEMORY STATS",
        "MEMORY DOCTOR",
        "OBJECT HELP",
        "XINFO HELP",
        "XGROUP HELP",
        "ROLE",
        "LOLWUT",
        "WAIT 0 0",
        "READONLY",
        "READWRITE",
        "MULTI",
        "EXEC",
        "DISCARD",
        "UNWATCH",
        "SUBSCRIBE ch",
        "PSUBSCRIBE c*",
        "UNSUBSCRIBE",
        "AUTH secret",
        "HELLO 3",
        "ACL WHOAMI",
        "MODULE LIST",
        "SAVE",
        "BGSAVE",
        "RESET",
        "QUIT",
        "ASKING",
        "ping",
        "Function Stats",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (first_key(lines[i]) != 0)
            printf("    %s\n", lines[i]);
        ASSERT_EQ_INT(first_key(lines[i]), 0);
    }
    /* Not in 7.0 (7.2's): keyless by its documentation. */
    ASSERT_EQ_INT(first_key("WAITAOF 1 0 0"), 0);
}

TEST(key_counts)
{
    static const case_t cases[] = {
        {"EVAL s 0", 0},
        {"eval s 0 x", 0},
        {"EVAL s 1 k", 3},
        {"EVAL s 2 a b argv", 3},
        {"EVALSHA sha 1 k", 3},
        {"EVAL_RO s 1 k", 3},
        {"evalsha_ro sha 1 k", 3},
        {"FCALL f 1 k", 3},
        {"FCALL_RO f 0", 0},
        {"EVAL s x k", 0},  /* no number */
        {"EVAL s 2 k", 0},  /* more keys than words */
        {"EVAL s -1 k", 0}, /* negative */
        {"EVAL s 1", 0},
        {"EVAL s 01 k", 3}, /* read as C's atoi reads it */
        {"EVAL s +1 k", 3},
        {"EVAL s 1x k", 3}, /* the command itself then fails: "not an integer" */
        {"ZUNION 2 a b", 2},
        {"ZINTER 1 a WITHSCORES", 2},
        {"ZDIFF 2 a b", 2},
        {"ZINTERCARD 2 a b LIMIT 1", 2},
        {"SINTERCARD 1 a", 2},
        {"LMPOP 2 a b LEFT", 2},
        {"zmpop 1 a MIN COUNT 2", 2},
        {"ZUNION 0 a", 0}, /* GETKEYS: "Invalid arguments"; the cluster: keyless */
        {"ZUNION 3 a b", 0},
        {"ZUNION x a", 0},
        {"BLMPOP 0 1 a LEFT", 3},
        {"BZMPOP 0 2 a b MAX", 3},
        {"BLMPOP 0 x a LEFT", 0},
        {"ZUNION", 0},
        {"EVAL", 0},
        {"EVAL s", 0},
    };
    CHECK_CASES(cases);
}

TEST(key_after_a_subcommand_or_an_operation)
{
    static const case_t cases[] = {
        {"BITOP AND d a b", 2},
        {"BITOP NOT d a", 2},
        {"PFDEBUG GETREG k", 2},
        {"MEMORY USAGE k", 2},
        {"memory usage k SAMPLES 5", 2},
        {"OBJECT ENCODING k", 2},
        {"OBJECT FREQ k", 2},
        {"object idletime k", 2},
        {"OBJECT REFCOUNT k", 2},
        {"XINFO STREAM s FULL", 2},
        {"XINFO GROUPS s", 2},
        {"XINFO CONSUMERS s g", 2},
        {"XGROUP CREATE s g $ MKSTREAM", 2},
        {"xgroup setid s g 0", 2},
        {"XGROUP DESTROY s g", 2},
        {"XGROUP CREATECONSUMER s g c", 2},
        {"XGROUP DELCONSUMER s g c", 2},
        /* The server names no key here (it routes DEBUG anywhere), but the object asked about
         * lives on one node only: that node answers. */
        {"DEBUG OBJECT k", 2},
        {"OBJECT ENCODING", 0},
        {"OBJECT", 0},
        {"MEMORY", 0},
        {"BITOP AND", 0},
        {"OBJECT NOSUCH k", 0},
    };
    CHECK_CASES(cases);
}

TEST(streams)
{
    static const case_t cases[] = {
        {"XREAD STREAMS s 0", 2},
        {"xread count 10 block 0 streams s t 0 0", 6},
        {"XREAD STREAMS streams 0", 2},
        {"XREADGROUP GROUP g c STREAMS s >", 5},
        {"XREADGROUP GROUP streams c STREAMS s >", 5},
        {"XREADGROUP GROUP g streams STREAMS s >", 5},
        {"XREADGROUP GROUP g c COUNT 5 BLOCK 10 NOACK STREAMS s t > >", 10},
        /* Where GETKEYS's key specs and the cluster's routing differ, the cluster's: GETKEYS
         * names "c" here (its search for STREAMS starts after GROUP's usual place), the
         * cluster parses the options and sends the call to s's node. */
        {"XREADGROUP COUNT 1 GROUP streams c STREAMS s >", 7},
        {"XREAD COUNT STREAMS STREAMS s 0", 4}, /* GETKEYS: "STREAMS"; the cluster: s */
        {"XREAD STREAMS s 0 t", 0},             /* GETKEYS: s; the cluster: keyless */
        {"XREAD FOO STREAMS s 0", 0},           /* GETKEYS: s; the cluster: keyless */
        {"XREAD STREAMS", 0},
        {"XREAD COUNT", 0},
        {"XREADGROUP GROUP g", 0},
    };
    CHECK_CASES(cases);
}

TEST(migrate)
{
    static const case_t cases[] = {
        {"MIGRATE h 6379 k 0 5000", 3},
        {"MIGRATE h 6379 k 0 5000 COPY REPLACE", 3},
        {"MIGRATE h 6379 <empty> 0 5000 KEYS a b", 7},
        {"MIGRATE h 6379 <empty> 0 5000 COPY REPLACE AUTH keys KEYS a b", 11},
        {"MIGRATE h 6379 <empty> 0 5000 AUTH2 keys keys keys a", 10},
        {"MIGRATE h 6379 <empty> 0 5000", 3}, /* the empty key */
        /* GETKEYS: the empty key; the cluster: keyless. */
        {"MIGRATE h 6379 <empty> 0 5000 KEYS", 0},
        /* GETKEYS: "Invalid arguments"; the cluster: keyless. */
        {"MIGRATE h 6379 k 0 5000 KEYS a", 0},
        {"MIGRATE h 6379", 0},
    };
    CHECK_CASES(cases);
}

TEST(refused_with_what_to_do)
{
    static const struct {
        const char *line, *advice;
    } cases[] = {
        {"KEYS *", "set"},          {"SCAN 0 MATCH a*", "set"},
        {"scan 0", "set"},          {"RANDOMKEY", "SRANDMEMBER"},
        {"DBSIZE", "INCR"},         {"FLUSHDB", "DEL"},
        {"FLUSHALL ASYNC", "DEL"},  {"SWAPDB 0 1", "prefix"},
        {"MOVE k 1", "prefix"},     {"SELECT 1", "prefix"},
        {"Select 0", "database 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        ASSERT_EQ_INT(first_key_why(cases[i].line, &why), -1);
        ASSERT_TRUE(why != NULL && strstr(why, cases[i].advice) != NULL);
    }
    ASSERT_EQ_INT(first_key_why("KEYS *", NULL), -1); /* why may be NULL */
}

TEST(words_by_length_not_nul)
{
    /* The words are slices of one buffer with no separators and no terminators: the lengths
     * alone say where each ends. */
    static const char buf[] = "XREADstreamss0EVALs1kOBJECTencodingk";
    const char *argv[] = {buf, buf + 5, buf + 12, buf + 13};
    size_t lens[] = {5, 7, 1, 1};
    mf_redis_cmd_t c = {4, argv, lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&c, NULL), 2);
    const char *eval[] = {buf + 14, buf + 18, buf + 19, buf + 20};
    size_t eval_lens[] = {4, 1, 1, 1};
    mf_redis_cmd_t e = {4, eval, eval_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&e, NULL), 3);
    const char *object[] = {buf + 21, buf + 27, buf + 35};
    size_t object_lens[] = {6, 8, 1};
    mf_redis_cmd_t o = {3, object, object_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&o, NULL), 2);
    /* "STREAM" is no STREAMS, though an S follows it in memory; nor is "OBJEC" OBJECT. */
    size_t short_lens[] = {5, 6, 1, 1};
    mf_redis_cmd_t sh = {4, argv, short_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&sh, NULL), 0);
    size_t objec_lens[] = {5, 8, 1};
    mf_redis_cmd_t ob = {3, object, objec_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&ob, NULL), 1);

    /* A NUL inside a word is one more byte: "EVAL\0" is no EVAL (an unknown command, argv[1]),
     * "STREAMS\0" no keyword, "KEYS\0" not KEYS; and a count stops at it as atoi would. */
    const char *nul[] = {"EVAL\0", "s", "1", "k"};
    size_t nul_lens[] = {5, 1, 1, 1};
    mf_redis_cmd_t n = {4, nul, nul_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&n, NULL), 1);
    const char *streams[] = {"XREAD", "STREAMS\0", "s", "0"};
    size_t streams_lens[] = {5, 8, 1, 1};
    mf_redis_cmd_t s = {4, streams, streams_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&s, NULL), 0);
    const char *keys[] = {"KEYS\0", "*"};
    size_t keys_lens[] = {5, 1};
    mf_redis_cmd_t k = {2, keys, keys_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&k, NULL), 1);
    static const char one_nul_nine[] = {'1', '\0', '9'};
    const char *count[] = {"EVAL", "s", one_nul_nine, "k"};
    size_t count_lens[] = {4, 1, 3, 1};
    mf_redis_cmd_t cnt = {4, count, count_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&cnt, NULL), 3);

    /* An empty command name is unknown too. */
    const char *empty[] = {"", "k"};
    size_t empty_lens[] = {0, 1};
    mf_redis_cmd_t em = {2, empty, empty_lens};
    ASSERT_EQ_INT(mf_redis_command_first_key(&em, NULL), 1);
}

/* Every name the table holds: none takes argv[1] as its key, so "NAME x y z" answering 1 means
 * the lookup missed it (the table out of order, say). */
static const char *const table_names[] = {
    "ACL",          "ASKING",     "AUTH",       "BGREWRITEAOF", "BGSAVE",     "BITOP",
    "BLMPOP",       "BZMPOP",     "CLIENT",     "CLUSTER",      "COMMAND",    "CONFIG",
    "DBSIZE",       "DEBUG",      "DISCARD",    "ECHO",         "EVAL",       "EVALSHA",
    "EVALSHA_RO",   "EVAL_RO",    "EXEC",       "FAILOVER",     "FCALL",      "FCALL_RO",
    "FLUSHALL",     "FLUSHDB",    "FUNCTION",   "HELLO",        "INFO",       "KEYS",
    "LASTSAVE",     "LATENCY",    "LMPOP",      "LOLWUT",       "MEMORY",     "MIGRATE",
    "MODULE",       "MONITOR",    "MOVE",       "MULTI",        "OBJECT",     "PFDEBUG",
    "PFSELFTEST",   "PING",       "PSUBSCRIBE", "PSYNC",        "PUBLISH",    "PUBSUB",
    "PUNSUBSCRIBE", "QUIT",       "RANDOMKEY",  "READONLY",     "READWRITE",  "REPLCONF",
    "REPLICAOF",    "RESET",      "ROLE",       "SAVE",         "SCAN",       "SCRIPT",
    "SELECT",       "SHUTDOWN",   "SINTERCARD", "SLAVEOF",      "SLOWLOG",    "SUBSCRIBE",
    "SWAPDB",       "SYNC",       "TIME",       "UNSUBSCRIBE",  "UNWATCH",    "WAIT",
    "WAITAOF",      "XGROUP",     "XINFO",      "XREAD",        "XREADGROUP", "ZDIFF",
    "ZINTER",       "ZINTERCARD", "ZMPOP",      "ZUNION",
};

static int is_refused(const char *name)
{
    static const char *const refused[] = {"DBSIZE",    "FLUSHALL", "FLUSHDB", "KEYS",  "MOVE",
                                          "RANDOMKEY", "SCAN",     "SELECT",  "SWAPDB"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcmp(name, refused[i]))
            return 1;
    return 0;
}

TEST(every_table_name_is_found)
{
    char line[64];
    for (size_t i = 0; i < sizeof table_names / sizeof table_names[0]; i++) {
        snprintf(line, sizeof line, "%s x y z", table_names[i]);
        if (first_key(line) == 1)
            printf("    %s\n", line);
        ASSERT_TRUE(first_key(line) != 1);
        for (char *p = line; *p; p++) /* and in lower case */
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
        ASSERT_TRUE(first_key(line) != 1);
    }
}

TEST(a_name_alone_reads_nothing_more)
{
    /* argc 1 for every command the table holds, and some it does not: the answer is never a
     * word that is not there. */
    for (size_t i = 0; i < sizeof table_names / sizeof table_names[0]; i++)
        ASSERT_EQ_INT(first_key(table_names[i]), is_refused(table_names[i]) ? -1 : 0);
    static const char *const others[] = {"GET", "SET", "A", "ZZZZ", "_", "~", "EVALX", "EVA"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        ASSERT_EQ_INT(first_key(others[i]), 0);
}

/* Loading a script or a function on one node only would leave NOSCRIPT on the others. */
TEST(what_every_primary_needs)
{
    ASSERT_TRUE(everywhere("SCRIPT LOAD return"));
    ASSERT_TRUE(everywhere("script load return"));
    ASSERT_TRUE(everywhere("SCRIPT FLUSH"));
    ASSERT_TRUE(everywhere("FUNCTION LOAD code"));
    ASSERT_TRUE(everywhere("FUNCTION DELETE lib"));
    ASSERT_TRUE(everywhere("FUNCTION FLUSH"));
    ASSERT_TRUE(everywhere("FUNCTION RESTORE payload"));
    ASSERT_TRUE(!everywhere("SCRIPT EXISTS abc"));
    ASSERT_TRUE(!everywhere("SCRIPT"));
    ASSERT_TRUE(!everywhere("FUNCTION LIST"));
    ASSERT_TRUE(!everywhere("EVAL return 0"));
    ASSERT_TRUE(!everywhere("GET SCRIPT"));
}

int main(void)
{
    RUN(most_commands_take_argv1);
    RUN(keyless);
    RUN(key_counts);
    RUN(key_after_a_subcommand_or_an_operation);
    RUN(streams);
    RUN(migrate);
    RUN(refused_with_what_to_do);
    RUN(words_by_length_not_nul);
    RUN(every_table_name_is_found);
    RUN(a_name_alone_reads_nothing_more);
    RUN(what_every_primary_needs);
    TEST_MAIN_END();
}
