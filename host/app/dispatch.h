/* One request's way from the router to its handler's run, the same for a request a worker
 * serves and an in-process one (mayfly test, the fuzzers, the benchmarks). */
#ifndef MF_APP_DISPATCH_H
#define MF_APP_DISPATCH_H

#include <stddef.h>

#include "http/request.h"
#include "lua/scripts.h"
#include "lua/vm.h"

/* Matches r's method and path on the routes of the version vm runs, and starts the run of
 * the handler that matched (mf_vm_start): sink gets its response. While the run executes, the
 * lifecycle's busy slot `slot` names the route (-1: none, for in-process requests). Returns 1
 * when the run ended before returning, 0 when it waits on vm's loop (sink is called later), or,
 * with no run, MF_ROUTER_NOT_FOUND or MF_ROUTER_METHOD_NOT_ALLOWED (allow gets the Allow
 * header's value, see mf_router_match). */
int mf_dispatch_start(mf_vm_t *vm, int slot, mf_request_t *r, mf_vm_sink_fn sink, void *ud,
                      char *allow, size_t allow_len);

#endif
