/* Microbenchmark of the per-request Lua path without HTTP: route match, fresh environment,
 * chunk run, handler, response conversion; and of the isolation alone: a fresh environment with
 * the route file's chunk run in it (and the modules it requires), which is what mf_vm_probe
 * does. Usage: vm_bench SCRIPTS_DIR "GET /path" [N] */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/dispatch.h"
#include "app/scripts_load.h"
#include "base/clock.h"
#include "lua/vm.h"
#include "observe/log.h"

/* The sink of a run as a worker's: the response converted for libmicrohttpd. */
static void to_mhd(void *ud, const mf_response_t *resp)
{
    MHD_destroy_response(mf_response_for_request(ud, resp));
}

static void ignore_key(void *ud, const char *key, int type)
{
    (void)ud, (void)key, (void)type;
}

int main(int argc, char **argv)
{
    mf_options_t o;
    char err[1024];
    mf_scripts_t *s;
    long n = argc > 3 ? atol(argv[3]) : 200000;
    if (argc < 3 || n < 1) {
        fprintf(stderr, "usage: vm_bench SCRIPTS_DIR 'METHOD /path?query' [N]\n");
        return 2;
    }
    mf_options_load(&o, 0, NULL, err, sizeof err);
    mf_log_setup(MF_LOG_WARN, 0);
    if (mf_scripts_load(argv[1], &o, &s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    mf_vm_t *vm = mf_vm_new(&o, err, sizeof err);
    if (!vm || mf_vm_compile(vm, s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char method[32], target[1024];
    if (sscanf(argv[2], "%31s %1023s", method, target) != 2)
        return 2;
    int64_t t0 = 0;
    const mf_route_t *route = NULL;
    for (long i = 0; i < n + n / 10; i++) {
        if (i == n / 10)
            t0 = mf_now_ns(); /* the first tenth warms up */
        mf_request_t r;
        mf_request_begin_local(&r, method, target, NULL, NULL, 0, 0);
        strcpy(r.id, "0123456789abcdef0123456789abcdef");
        if (mf_dispatch_start(vm, -1, &r, to_mhd, &r, NULL, 0) < 0) {
            fprintf(stderr, "no route for %s\n", argv[2]);
            return 1;
        }
        if (r.status >= 500) {
            fprintf(stderr, "status %d\n", r.status);
            return 1;
        }
        route = r.match.handler;
        mf_request_end(&r);
    }
    double ns = (double)(mf_now_ns() - t0) / (double)n;

    int file = route->file;
    int is_table;
    for (long i = 0; i < n + n / 10; i++) {
        if (i == n / 10)
            t0 = mf_now_ns();
        if (mf_vm_probe(vm, file, 0, ignore_key, NULL, &is_table, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    }
    double iso = (double)(mf_now_ns() - t0) / (double)n;
    printf("%s: %.0f ns per request (Lua side, no HTTP); isolation (fresh environment, %s run, "
           "its requires) %.0f ns; Lua memory %zu KiB\n",
           argv[2], ns, s->files[file].name, iso, mf_vm_memory(vm) / 1024);
    mf_vm_free(vm);
    mf_scripts_release(s);
    return 0;
}
