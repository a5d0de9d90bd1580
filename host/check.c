#include "check.h"

#include <stdio.h>

#include "scripts.h"

static void print_route(void *ud, const char *route, void *handler)
{
    const mf_scripts_t *s = ud;
    const mf_route_t *r = handler;
    printf("  %-40s %s\n", route, s->files[r->file].name);
}

int mf_check_run(const mf_options_t *opts, const char *dir)
{
    mf_scripts_t *s;
    char err[1024];

    if (mf_scripts_load(dir, opts, &s, err, sizeof err)) {
        fprintf(stderr, "mayfly check: %s\n", err);
        return 1;
    }
    printf("%s: %d file(s), %d route(s), version %s\n", dir, s->nfiles, s->nroutes, s->version);
    if (s->nroutes) {
        printf("routes:\n");
        mf_router_foreach(s->router, print_route, s);
    }
    int modules = 0;
    for (int i = 0; i < s->nfiles; i++) {
        if (s->files[i].kind == MF_SCRIPT_MODULE) {
            if (!modules++)
                printf("modules:\n");
            printf("  %-40s %s\n", s->files[i].module, s->files[i].name);
        }
    }
    mf_scripts_free(s);
    return 0;
}
