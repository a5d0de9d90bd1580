#include "redis/command_keys.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- words ---- */

static unsigned char ascii_upper(unsigned char ch)
{
    return ch >= 'a' && ch <= 'z' ? (unsigned char)(ch - ('a' - 'A')) : ch;
}

/* How word[0..len) sorts against name (upper case, NUL-terminated), ASCII letters folded as the
 * server's strcasecmp folds them in its C locale: <0, 0 or >0. A NUL inside the word is a byte
 * like any other, so "GET\0x" is not GET. */
static int compare_word(const char *word, size_t len, const char *name)
{
    size_t i = 0;
    for (; i < len && name[i]; i++) {
        int d = (int)ascii_upper((unsigned char)word[i]) - (int)(unsigned char)name[i];
        if (d)
            return d;
    }
    if (i < len)
        return 1;
    return name[i] ? -1 : 0;
}

static int word_is(const mf_redis_cmd_t *c, int i, const char *name)
{
    return compare_word(c->argv[i], c->lens[i], name) == 0;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

/* The key count in argv[at] as a cluster node reads it to route (C's atoi: blanks, a sign, the
 * digits up to the first other byte, so "2x" is 2 and "x" is 0), when the count is at least 1 and
 * that many keys fit from argv[first] on; 0 otherwise, and then the node routes the command as
 * keyless and its own check refuses it. A count past int's range, which atoi would wrap, is no
 * count here: the command fails on any node either way. */
static int key_count(const mf_redis_cmd_t *c, int at, int first)
{
    if (at >= c->argc)
        return 0;
    const char *s = c->argv[at];
    size_t len = c->lens[at], i = 0;
    long available = (long)c->argc - first, n = 0;
    while (i < len && is_blank(s[i]))
        i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (s[i] == '-')
            return 0;
        i++;
    }
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        n = n * 10 + (s[i] - '0');
        if (n > available)
            return 0;
    }
    return (int)n;
}

/* ---- the commands whose first key is not argv[1] ---- */

typedef enum {
    KEYLESS,    /* no key: any primary */
    REFUSED,    /* meaningless on a cluster: why says what to do instead */
    KEY_AT_2,   /* BITOP op destkey ...; PFDEBUG subcommand key */
    COUNT_AT_1, /* ZUNION numkeys key ...: the first key argv[2] when numkeys fits */
    COUNT_AT_2, /* EVAL script numkeys key ...: argv[3] when numkeys fits */
    STREAMS,    /* XREAD [options] STREAMS key ... id ... */
    MIGRATE,    /* MIGRATE host port key|"" db timeout [options] [KEYS key ...] */
    SUBCOMMAND, /* OBJECT ENCODING key: argv[2] for the subcommands in keyed, else keyless */
} rule_t;

typedef struct {
    const char *name; /* upper case, at most LONGEST_NAME letters; kept in strcmp order to read */
    rule_t rule;
    const char *const *keyed; /* SUBCOMMAND: the subcommands taking a key at argv[2] */
    const char *why;          /* REFUSED */
} command_t;

static const char *const debug_keyed[] = {"OBJECT", NULL};
static const char *const memory_keyed[] = {"USAGE", NULL};
static const char *const object_keyed[] = {"ENCODING", "FREQ", "IDLETIME", "REFCOUNT", NULL};
static const char *const xgroup_keyed[] = {"CREATE",  "CREATECONSUMER", "DELCONSUMER",
                                           "DESTROY", "SETID",          NULL};
static const char *const xinfo_keyed[] = {"CONSUMERS", "GROUPS", "STREAM", NULL};

static const char keys_why[] = "KEYS sees only one node's keys on a cluster: keep the key names in "
                               "a set, or name the keys";
static const char scan_why[] = "SCAN sees only one node's keys on a cluster: keep the key names in "
                               "a set (SSCAN it), or name the keys";
static const char randomkey_why[] = "RANDOMKEY sees only one node's keys on a cluster: keep the "
                                    "key names in a set and use SRANDMEMBER";
static const char dbsize_why[] = "DBSIZE counts only one node's keys on a cluster: keep a count "
                                 "(INCR/DECR) or the key names in a set (SCARD)";
static const char flush_why[] = "FLUSHDB and FLUSHALL are refused on a cluster: delete the keys by "
                                "name (DEL or UNLINK), or give them a TTL";
static const char db_why[] = "a cluster has only database 0: put a prefix in the key names "
                             "instead of using another database";

/* Checked against a redis-server 7.0's COMMAND: every command it lists whose first key is not
 * argv[1] is here, and 7.2's WAITAOF; any other command takes argv[1], the movable-key ones whose
 * first key stays there included (SORT, GEORADIUS's STORE, ZUNIONSTORE's destination). */
static const command_t commands[] = {
    {"ACL", KEYLESS, NULL, NULL},
    {"ASKING", KEYLESS, NULL, NULL},
    {"AUTH", KEYLESS, NULL, NULL},
    {"BGREWRITEAOF", KEYLESS, NULL, NULL},
    {"BGSAVE", KEYLESS, NULL, NULL},
    {"BITOP", KEY_AT_2, NULL, NULL},
    {"BLMPOP", COUNT_AT_2, NULL, NULL},
    {"BZMPOP", COUNT_AT_2, NULL, NULL},
    {"CLIENT", KEYLESS, NULL, NULL},
    {"CLUSTER", KEYLESS, NULL, NULL},
    {"COMMAND", KEYLESS, NULL, NULL},
    {"CONFIG", KEYLESS, NULL, NULL},
    {"DBSIZE", REFUSED, NULL, dbsize_why},
    {"DEBUG", SUBCOMMAND, debug_keyed, NULL},
    {"DISCARD", KEYLESS, NULL, NULL},
    {"ECHO", KEYLESS, NULL, NULL},
    {"EVAL", COUNT_AT_2, NULL, NULL},
    {"EVALSHA", COUNT_AT_2, NULL, NULL},
    {"EVALSHA_RO", COUNT_AT_2, NULL, NULL},
    {"EVAL_RO", COUNT_AT_2, NULL, NULL},
    {"EXEC", KEYLESS, NULL, NULL},
    {"FAILOVER", KEYLESS, NULL, NULL},
    {"FCALL", COUNT_AT_2, NULL, NULL},
    {"FCALL_RO", COUNT_AT_2, NULL, NULL},
    {"FLUSHALL", REFUSED, NULL, flush_why},
    {"FLUSHDB", REFUSED, NULL, flush_why},
    {"FUNCTION", KEYLESS, NULL, NULL},
    {"HELLO", KEYLESS, NULL, NULL},
    {"INFO", KEYLESS, NULL, NULL},
    {"KEYS", REFUSED, NULL, keys_why},
    {"LASTSAVE", KEYLESS, NULL, NULL},
    {"LATENCY", KEYLESS, NULL, NULL},
    {"LMPOP", COUNT_AT_1, NULL, NULL},
    {"LOLWUT", KEYLESS, NULL, NULL},
    {"MEMORY", SUBCOMMAND, memory_keyed, NULL},
    {"MIGRATE", MIGRATE, NULL, NULL},
    {"MODULE", KEYLESS, NULL, NULL},
    {"MONITOR", KEYLESS, NULL, NULL},
    {"MOVE", REFUSED, NULL, db_why},
    {"MULTI", KEYLESS, NULL, NULL},
    {"OBJECT", SUBCOMMAND, object_keyed, NULL},
    {"PFDEBUG", KEY_AT_2, NULL, NULL},
    {"PFSELFTEST", KEYLESS, NULL, NULL},
    {"PING", KEYLESS, NULL, NULL},
    {"PSUBSCRIBE", KEYLESS, NULL, NULL},
    {"PSYNC", KEYLESS, NULL, NULL},
    {"PUBLISH", KEYLESS, NULL, NULL}, /* the cluster bus carries classic messages to every node */
    {"PUBSUB", KEYLESS, NULL, NULL},
    {"PUNSUBSCRIBE", KEYLESS, NULL, NULL},
    {"QUIT", KEYLESS, NULL, NULL},
    {"RANDOMKEY", REFUSED, NULL, randomkey_why},
    {"READONLY", KEYLESS, NULL, NULL},
    {"READWRITE", KEYLESS, NULL, NULL},
    {"REPLCONF", KEYLESS, NULL, NULL},
    {"REPLICAOF", KEYLESS, NULL, NULL},
    {"RESET", KEYLESS, NULL, NULL},
    {"ROLE", KEYLESS, NULL, NULL},
    {"SAVE", KEYLESS, NULL, NULL},
    {"SCAN", REFUSED, NULL, scan_why},
    {"SCRIPT", KEYLESS, NULL, NULL},
    {"SELECT", REFUSED, NULL, db_why},
    {"SHUTDOWN", KEYLESS, NULL, NULL},
    {"SINTERCARD", COUNT_AT_1, NULL, NULL},
    {"SLAVEOF", KEYLESS, NULL, NULL},
    {"SLOWLOG", KEYLESS, NULL, NULL},
    {"SUBSCRIBE", KEYLESS, NULL, NULL},
    {"SWAPDB", REFUSED, NULL, db_why},
    {"SYNC", KEYLESS, NULL, NULL},
    {"TIME", KEYLESS, NULL, NULL},
    {"UNSUBSCRIBE", KEYLESS, NULL, NULL},
    {"UNWATCH", KEYLESS, NULL, NULL},
    {"WAIT", KEYLESS, NULL, NULL},
    {"WAITAOF", KEYLESS, NULL, NULL},
    {"XGROUP", SUBCOMMAND, xgroup_keyed, NULL},
    {"XINFO", SUBCOMMAND, xinfo_keyed, NULL},
    {"XREAD", STREAMS, NULL, NULL},
    {"XREADGROUP", STREAMS, NULL, NULL},
    {"ZDIFF", COUNT_AT_1, NULL, NULL},
    {"ZINTER", COUNT_AT_1, NULL, NULL},
    {"ZINTERCARD", COUNT_AT_1, NULL, NULL},
    {"ZMPOP", COUNT_AT_1, NULL, NULL},
    {"ZUNION", COUNT_AT_1, NULL, NULL},
};

/* The table by hash of the upper-cased name, open addressing: one probe or two for a name in it,
 * and most often one for the many commands that are not (GET, SET, INCR...), where a binary
 * search took seven string compares. Built once, on first use. */
#define INDEX_SIZE 256 /* a power of two, well over twice the table */
#define LONGEST_NAME 16
static int16_t command_index[INDEX_SIZE];
static pthread_once_t command_index_once = PTHREAD_ONCE_INIT;

static unsigned name_hash(const char *name, size_t len)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ ascii_upper((unsigned char)name[i])) * 16777619u;
    return h;
}

static void build_command_index(void)
{
    for (int i = 0; i < INDEX_SIZE; i++)
        command_index[i] = -1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        unsigned at = name_hash(commands[i].name, strlen(commands[i].name));
        while (command_index[at % INDEX_SIZE] >= 0)
            at++;
        command_index[at % INDEX_SIZE] = (int16_t)i;
    }
}

static const command_t *find_command(const char *name, size_t len)
{
    if (len > LONGEST_NAME)
        return NULL;
    pthread_once(&command_index_once, build_command_index);
    for (unsigned at = name_hash(name, len);; at++) {
        int i = command_index[at % INDEX_SIZE];
        if (i < 0)
            return NULL;
        if (compare_word(name, len, commands[i].name) == 0)
            return &commands[i];
    }
}

/* ---- the rules ---- */

static int key_at(const mf_redis_cmd_t *c, int i)
{
    return i < c->argc ? i : 0;
}

/* As the server parses XREAD's and XREADGROUP's options to route them: BLOCK and COUNT take a
 * word, GROUP two (so a group or consumer named "streams" is no keyword), NOACK none; the keys
 * start after STREAMS when an even number of words (keys, then as many ids) follows. Anything
 * else is a syntax error the command reports: keyless. */
static int streams_first_key(const mf_redis_cmd_t *c)
{
    for (int i = 1; i < c->argc; i++) {
        if (word_is(c, i, "BLOCK") || word_is(c, i, "COUNT")) {
            i++;
        } else if (word_is(c, i, "GROUP")) {
            i += 2;
        } else if (word_is(c, i, "STREAMS")) {
            int rest = c->argc - i - 1;
            return rest > 0 && rest % 2 == 0 ? i + 1 : 0;
        } else if (!word_is(c, i, "NOACK")) {
            return 0;
        }
    }
    return 0;
}

/* The key is argv[3], or, when argv[3] is empty, the words after a KEYS option following the
 * five fixed words (AUTH's password and AUTH2's user and password skipped, so a password "keys"
 * is no keyword). A KEYS option with a key in argv[3] too, or with nothing after it, names no
 * key: the server routes the call as keyless and refuses it. */
static int migrate_first_key(const mf_redis_cmd_t *c)
{
    if (c->argc <= 3)
        return 0;
    int keys = 0;
    for (int i = 6; i < c->argc && !keys; i++) {
        if (word_is(c, i, "KEYS"))
            keys = i;
        else if (word_is(c, i, "AUTH"))
            i += 1;
        else if (word_is(c, i, "AUTH2"))
            i += 2;
    }
    if (!keys)
        return 3;
    return c->lens[3] > 0 ? 0 : key_at(c, keys + 1);
}

static int subcommand_first_key(const mf_redis_cmd_t *c, const char *const *keyed)
{
    if (c->argc < 2)
        return 0;
    for (; *keyed; keyed++)
        if (word_is(c, 1, *keyed))
            return key_at(c, 2);
    return 0;
}

int mf_redis_command_first_key(const mf_redis_cmd_t *c, const char **why)
{
    if (c->argc < 1)
        return 0;
    const command_t *cmd = find_command(c->argv[0], c->lens[0]);
    if (!cmd)
        return key_at(c, 1);
    switch (cmd->rule) {
    case KEYLESS:
        return 0;
    case REFUSED:
        if (why)
            *why = cmd->why;
        return -1;
    case KEY_AT_2:
        return key_at(c, 2);
    case COUNT_AT_1:
        return key_count(c, 1, 2) ? 2 : 0;
    case COUNT_AT_2:
        return key_count(c, 2, 3) ? 3 : 0;
    case STREAMS:
        return streams_first_key(c);
    case MIGRATE:
        return migrate_first_key(c);
    case SUBCOMMAND:
        return subcommand_first_key(c, cmd->keyed);
    }
    return 0;
}

int mf_redis_command_on_every_primary(const mf_redis_cmd_t *c)
{
    if (c->argc < 2)
        return 0;
    if (word_is(c, 0, "SCRIPT"))
        return word_is(c, 1, "LOAD") || word_is(c, 1, "FLUSH");
    if (word_is(c, 0, "FUNCTION"))
        return word_is(c, 1, "LOAD") || word_is(c, 1, "DELETE") || word_is(c, 1, "FLUSH") ||
               word_is(c, 1, "RESTORE");
    return 0;
}
