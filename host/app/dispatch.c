#include "app/dispatch.h"

#include "app/lifecycle.h"

int mf_dispatch_start(mf_vm_t *vm, int slot, mf_request_t *r, mf_vm_sink_fn sink, void *ud,
                      char *allow, size_t allow_len)
{
    /* The vm's own version: a route of another would index the wrong chunks. */
    int rc = mf_router_match(mf_vm_scripts(vm)->router, r->method, r->target, r->path_len,
                             &r->match, allow, allow_len);
    if (rc != MF_ROUTER_OK)
        return rc;
    const mf_route_t *route = mf_scripts_route(&r->match);
    r->route = route->key; /* not the router's copy: the request may outlive the version */
    r->metric_route = route->metric_route;
    mf_lifecycle_busy(slot, r->start_ns, r->route); /* the request's clock: no second read */
    int ended = mf_vm_start(vm, r, sink, ud);
    mf_lifecycle_busy(slot, 0, NULL);
    return ended;
}
