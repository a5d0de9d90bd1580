#include "lua/scripts.h"

#include <stdlib.h>
#include <string.h>

void mf_scripts_retain(mf_scripts_t *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
}

void mf_scripts_release(mf_scripts_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (int i = 0; i < s->nfiles; i++) {
        free(s->files[i].name);
        free(s->files[i].module);
        free(s->files[i].chunkname);
        free(s->files[i].source);
    }
    free(s->files);
    free(s->routes);
    mf_router_free(s->router);
    free(s->dir);
    free(s);
}

int mf_scripts_find_module(const mf_scripts_t *s, const char *module, size_t len)
{
    for (int i = 0; i < s->nfiles; i++)
        if (strlen(s->files[i].module) == len && !memcmp(s->files[i].module, module, len))
            return i;
    return -1;
}
