/* MAYFLY_REDIS_URL, parsed: which topology, over TLS or not, which nodes, which database, and
 * the credentials the URL carries.
 *   redis://[[user]:pass@]host[:port][/db]                     one server
 *   rediss://...                                               the same over TLS
 *   redis+sentinel://[[user]:pass@]h1[:p1],h2[:p2]/master[/db]  a Sentinel-managed primary
 *   rediss+sentinel://...                                      the same, TLS to sentinels and
 *                                                              servers alike
 *   redis+cluster://[[user]:pass@]h1[:p1],h2[:p2]              a Redis Cluster, found from
 *                                                              these seed nodes (database 0)
 *   rediss+cluster://...                                       the same over TLS
 * Hosts may be names, IPv4 or [IPv6] addresses; user and password are percent-decoded (a
 * password holding '@', ':' or '/' is written %40, %3A, %2F). Ports default to 6379 (26379 for
 * sentinels). */
#ifndef MF_REDIS_URL_H
#define MF_REDIS_URL_H

#include <stddef.h>

typedef enum { MF_REDIS_SINGLE, MF_REDIS_SENTINEL, MF_REDIS_CLUSTER } mf_redis_topology_t;

#define MF_REDIS_MAX_NODES 16

typedef struct {
    char host[256]; /* without the brackets of an IPv6 address */
    int port;
} mf_redis_node_t;

typedef struct {
    mf_redis_topology_t topology;
    int tls;
    mf_redis_node_t nodes[MF_REDIS_MAX_NODES]; /* the server, the sentinels, or the seeds */
    int nnodes;
    char master[128]; /* sentinel: the master's name */
    int db;
    int db_given; /* the URL names a database (db is 0 otherwise) */
    char user[128];     /* empty: the default user */
    char password[512]; /* empty: none in the URL */
} mf_redis_url_t;

/* Parses url into out. Returns 0, or -1 with what is wrong in err (never the password). */
int mf_redis_url_parse(const char *url, mf_redis_url_t *out, char *err, size_t errlen);

/* The topology's name for /readyz and logs: "single", "sentinel", "cluster". */
const char *mf_redis_topology_name(mf_redis_topology_t t);

#endif
