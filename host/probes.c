#include "probes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "jsonbuf.h"

#include "lifecycle.h"
#include "redis.h"

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

static struct MHD_Response *json_response(char *json, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, json, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(json);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return resp;
}

/* {"status", "checks": {"lifecycle": {...}, "scripts": {...}, "redis": {...}}}: the scripts check
 * stays ok while a version serves, even when the last reload attempt failed (its error is shown);
 * the redis check is there when Redis is configured. */
static struct MHD_Response *readyz(int ok, mf_state_t s, int *status)
{
    char serving[17], attempted[17], error[1024], redis_why[512];
    mf_jsonbuf_t j;
    size_t len;

    mf_lifecycle_get_scripts(serving, attempted, error, sizeof error);
    int redis_ok = mf_redis_check(redis_why, sizeof redis_why) == 0;
    ok = ok && redis_ok;
    *status = ok ? 200 : 503;
    mf_jsonbuf_open(&j);
    mf_jsonbuf_cstr(&j, "status", ok ? "ok" : "unavailable");
    mf_jsonbuf_begin(&j, "checks");
    mf_jsonbuf_begin(&j, "lifecycle");
    mf_jsonbuf_bool(&j, "ok", ok);
    mf_jsonbuf_cstr(&j, "state", mf_lifecycle_name(s));
    mf_jsonbuf_end(&j);
    mf_jsonbuf_begin(&j, "scripts");
    mf_jsonbuf_bool(&j, "ok", serving[0] != '\0');
    mf_jsonbuf_cstr(&j, "version", serving);
    mf_jsonbuf_cstr(&j, "last_attempt", attempted);
    if (error[0])
        mf_jsonbuf_cstr(&j, "last_error", error);
    mf_jsonbuf_end(&j);
    if (mf_redis_configured()) {
        mf_jsonbuf_begin(&j, "redis");
        mf_jsonbuf_bool(&j, "ok", redis_ok);
        if (!redis_ok)
            mf_jsonbuf_cstr(&j, "error", redis_why);
        mf_jsonbuf_end(&j);
    }
    mf_jsonbuf_end(&j);
    char *json = mf_jsonbuf_close(&j, &len);
    return json_response(json, len);
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
        return readyz(ok, s, status);
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
