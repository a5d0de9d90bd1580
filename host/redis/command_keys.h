/* Where a command's first key is, so that a cluster can send the command to the primary serving
 * that key's slot. The positions are the ones a Redis 7 cluster node itself redirects by (its
 * per-command key finders where a command has one, else the first key COMMAND INFO reports), so
 * a command sent where this says is not redirected again; commands that cannot mean anything on
 * a cluster are refused with what to do instead. No allocation, no locale: one hashed lookup in
 * a small table per call. */
#ifndef MF_REDIS_COMMAND_KEYS_H
#define MF_REDIS_COMMAND_KEYS_H

#include "redis/redis.h"

/* Where a command's first key is. Returns its index in c->argv (>= 1); 0 when the command names
 * no key (any primary may run it: PING, INFO, ECHO, TIME, PUBLISH, SCRIPT LOAD, FUNCTION ..., an
 * EVAL with numkeys 0, ...); -1 when the command cannot mean anything on a cluster, with *why set
 * to a static message for the script author (what to do instead).
 * Command names and keywords (STREAMS, KEYS, subcommands) match case-insensitively, word by word
 * through c->lens (a word may hold NUL); no word past c->argc is read, and argc may be 1.
 * Commands it does not know, such as a module's JSON.GET key, take argv[1]. A call the server
 * will refuse anyway (a key count that is no number or more than the words given, a word
 * missing) gives 0 or an index below argc, never more: any node then answers with the server's
 * own error. why may be NULL; it is only written when -1 is returned. */
int mf_redis_command_first_key(const mf_redis_cmd_t *c, const char **why);

/* 1 for the keyless commands whose effect a cluster's every primary needs (SCRIPT LOAD and
 * FLUSH, FUNCTION LOAD, DELETE, FLUSH and RESTORE): a script loaded on one node only would
 * answer NOSCRIPT on the others. */
int mf_redis_command_on_every_primary(const mf_redis_cmd_t *c);

#endif
