#include "probes.h"

#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "lifecycle.h"

static const char *const paths[] = {"/livez", "/readyz", "/startupz", NULL};

static int which(const char *path, size_t len)
{
    for (int i = 0; paths[i]; i++)
        if (strlen(paths[i]) == len && !memcmp(paths[i], path, len))
            return i;
    return -1;
}

int mf_probes_owns(const char *path, size_t path_len)
{
    return which(path, path_len) >= 0;
}

struct MHD_Response *mf_probes_answer(const char *path, size_t path_len, int *status)
{
    char body[256];
    mf_state_t s = mf_lifecycle_get();
    int ok, n;

    switch (which(path, path_len)) {
    case 0: /* livez: the process serves; no dependency is consulted */
        ok = 1;
        n = snprintf(body, sizeof body, "{\"status\":\"ok\"}");
        break;
    case 1:
        ok = s == MF_READY;
        n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"checks\":{\"lifecycle\":{\"ok\":%s,\"state\":\"%s\"}}}",
                     ok ? "ok" : "unavailable", ok ? "true" : "false", mf_lifecycle_name(s));
        break;
    default:
        ok = s != MF_STARTING;
        n = snprintf(body, sizeof body, "{\"status\":\"%s\"}", ok ? "ok" : "starting");
        break;
    }
    *status = ok ? 200 : 503;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    return resp;
}
