/* MAYFLY_REDIS_URL (redis/url.c): any input parses or is refused with a message naming the
 * setting (the messages quote nothing of the input, so no password: test_url checks that); what
 * parses is consistent (1 to 16 nodes with ports in range and non-empty hosts, one node for one
 * server, a master name for sentinel only, no database for a cluster). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    mf_redis_url_t u;
    char err[256];
    if (mf_redis_url_parse(s, &u, err, sizeof err) == 0) {
        if (u.nnodes < 1 || u.nnodes > MF_REDIS_MAX_NODES)
            abort();
        if (u.topology == MF_REDIS_SINGLE && u.nnodes != 1)
            abort();
        if (u.topology != MF_REDIS_SENTINEL && u.master[0])
            abort();
        if (u.topology == MF_REDIS_CLUSTER && u.db_given)
            abort();
        if (u.topology == MF_REDIS_SENTINEL && !u.master[0])
            abort();
        for (int i = 0; i < u.nnodes; i++)
            if (!u.nodes[i].host[0] || u.nodes[i].port < 1 || u.nodes[i].port > 65535)
                abort();
        if (u.db < 0)
            abort();
    } else if (strncmp(err, "MAYFLY_REDIS_URL: ", 18) != 0) {
        abort();
    }
    free(s);
    return 0;
}
