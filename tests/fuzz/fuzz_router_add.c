/* Route pattern compilation (router.c): each input line is a route key given to mf_router_add
 * (rejected or registered, conflicts found), then every line is matched as a "METHOD path" too,
 * and the table is listed and freed. Checks that what was added can be listed and counted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

static void count(void *ud, const char *route, void *handler)
{
    (void)route, (void)handler;
    (*(size_t *)ud)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), err[128];
    mf_router_t *r = mf_router_new();
    size_t added = 0, listed = 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (char *line = buf, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        void *conflict;
        int rc = mf_router_add(r, line, line, &conflict, err, sizeof err);
        if (rc == MF_ROUTER_OK)
            added++;
        else if (rc == MF_ROUTER_ECONFLICT ? !conflict : conflict != NULL)
            abort();
    }
    /* Match every line as a request, against the table they built. */
    memcpy(buf, data, size);
    for (char *line = buf, *next; line; line = next) {
        next = memchr(line, '\n', (size_t)(buf + size - line));
        size_t len = next ? (size_t)(next - line) : (size_t)(buf + size - line);
        char *space = memchr(line, ' ', len), method[32];
        if (next)
            next++;
        if (!space || (size_t)(space - line) >= sizeof method)
            continue;
        memcpy(method, line, (size_t)(space - line));
        method[space - line] = '\0';
        mf_route_match_t m;
        char allow[64];
        mf_router_match(r, method, space + 1, len - (size_t)(space - line) - 1, &m, allow,
                        sizeof allow);
    }
    mf_router_foreach(r, count, &listed);
    if (listed != added || mf_router_count(r) != added)
        abort();
    mf_router_free(r);
    free(buf);
    return 0;
}
