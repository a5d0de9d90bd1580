#include "serve/probes.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "app/lifecycle.h"
#include "app/readiness.h"
#include "base/clock.h"
#include "base/jsonbuf.h"
#include "observe/metrics.h"

enum { LIVEZ, READYZ, STARTUPZ, METRICS, NPATHS };
static const char *const paths[NPATHS] = {"/livez", "/readyz", "/startupz", "/metrics"};
static int metric_routes[NPATHS];
static pthread_once_t metric_routes_once = PTHREAD_ONCE_INIT;
static atomic_int metrics_on = 1;

static int64_t stuck_ns = 60 * 1000000000LL;

void mf_probes_set_stuck_limit(int64_t stuck_ms)
{
    stuck_ns = stuck_ms * 1000000;
}

void mf_probes_serve_metrics(int on)
{
    atomic_store(&metrics_on, on);
}

static int which(const char *path, size_t len)
{
    for (int i = 0; i < NPATHS; i++)
        if (strlen(paths[i]) == len && !memcmp(paths[i], path, len))
            return i == METRICS && !atomic_load_explicit(&metrics_on, memory_order_relaxed) ? -1
                                                                                            : i;
    return -1;
}

int mf_probes_owns(const char *path, size_t path_len)
{
    return which(path, path_len) >= 0;
}

static void intern_metric_routes(void)
{
    for (int i = 0; i < NPATHS; i++)
        metric_routes[i] = mf_metrics_route_id(paths[i], strlen(paths[i]));
}

int mf_probes_metric_route(const char *path, size_t path_len)
{
    pthread_once(&metric_routes_once, intern_metric_routes);
    int i = which(path, path_len);
    return i < 0 ? MF_METRICS_UNMATCHED : metric_routes[i];
}

static struct MHD_Response *metrics(const char *accept, int *status)
{
    size_t len;
    int om = mf_metrics_wants_openmetrics(accept);
    char *text = mf_metrics_render(om, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return NULL;
    }
    *status = 200;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mf_metrics_content_type(om));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return resp;
}

static struct MHD_Response *json_response(mf_jsonbuf_t *j)
{
    size_t len;
    char *json = mf_jsonbuf_close(j, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, json, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(json);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return resp;
}

/* The process can serve: nothing external is consulted, only whether one run has been going
 * longer than the stuck limit (a worker wedged in a C call the request timeout cannot cut). */
static struct MHD_Response *livez(int *status)
{
    mf_jsonbuf_t j;
    int64_t since;
    const char *what;
    int slot = mf_lifecycle_longest_busy(&since, &what);
    int64_t busy = slot >= 0 ? mf_now_ns() - since : 0;
    int ok = busy < stuck_ns;

    *status = ok ? 200 : 503;
    mf_jsonbuf_open(&j);
    mf_jsonbuf_cstr(&j, "status", ok ? "ok" : "stuck");
    if (!ok) {
        mf_jsonbuf_int(&j, "slot", slot);
        mf_jsonbuf_cstr(&j, "running", what ? what : "");
        mf_jsonbuf_int(&j, "for_ms", busy / 1000000);
    }
    return json_response(&j);
}

/* {"status", "checks": {"lifecycle": {...}, "scripts": {...}, <registered>...}}: the scripts
 * check stays ok while a version serves, even when the last reload attempt failed (its error is
 * shown). */
static struct MHD_Response *readyz(int *status)
{
    char serving[17], attempted[17], error[1024], why[256];
    mf_state_t s = mf_lifecycle_get();
    mf_jsonbuf_t j;
    int ok = s == MF_READY;

    mf_lifecycle_get_scripts(serving, attempted, error, sizeof error);
    mf_jsonbuf_open(&j);
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
    for (int i = 0; i < mf_readiness_count(); i++) {
        const char *name;
        int good = mf_readiness_check(i, &name, why, sizeof why);
        ok &= good;
        mf_jsonbuf_begin(&j, name);
        mf_jsonbuf_bool(&j, "ok", good);
        if (why[0])
            mf_jsonbuf_cstr(&j, good ? "detail" : "error", why);
        mf_jsonbuf_end(&j);
    }
    mf_jsonbuf_end(&j);
    mf_jsonbuf_cstr(&j, "status", ok ? "ok" : "unavailable");
    *status = ok ? 200 : 503;
    return json_response(&j);
}

static struct MHD_Response *startupz(int *status)
{
    mf_jsonbuf_t j;
    int ok = mf_lifecycle_get() != MF_STARTING;
    *status = ok ? 200 : 503;
    mf_jsonbuf_open(&j);
    mf_jsonbuf_cstr(&j, "status", ok ? "ok" : "starting");
    return json_response(&j);
}

struct MHD_Response *mf_probes_answer(const char *path, size_t path_len, const char *accept,
                                      int *status)
{
    switch (which(path, path_len)) {
    case LIVEZ:
        return livez(status);
    case READYZ:
        return readyz(status);
    case METRICS:
        return metrics(accept, status);
    default:
        return startupz(status);
    }
}
