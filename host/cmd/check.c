#include "cmd/check.h"

#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include "app/scripts_load.h"
#include "lua/embedded.h"

static void print_route(void *ud, const char *route, void *handler)
{
    const mf_scripts_t *s = ud;
    const mf_route_t *r = handler;
    printf("  %-40s %s\n", route, s->files[r->file].name);
}

/* The middleware, outermost first: the shared file's layers, then each route file's own. */
static void print_middleware(const mf_scripts_t *s)
{
    int shown = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < s->nfiles; i++) {
            const mf_script_file_t *f = &s->files[i];
            if (!f->middleware || (pass == 0) != (f->kind == MF_SCRIPT_MIDDLEWARE))
                continue;
            char what[64];
            snprintf(what, sizeof what, "%s%s%s (%s)",
                     f->middleware & MF_MIDDLEWARE_BEFORE ? "before" : "",
                     f->middleware == (MF_MIDDLEWARE_BEFORE | MF_MIDDLEWARE_AFTER) ? ", " : "",
                     f->middleware & MF_MIDDLEWARE_AFTER ? "after" : "",
                     pass == 0 ? "every route" : "its routes");
            if (!shown++)
                printf("middleware:\n");
            printf("  %-40s %s\n", what, f->name);
        }
    }
}

/* Prints what host/lua/lint.lua finds in every file; returns the number of warnings, or -1 when
 * the linter itself failed. Runs in a plain state of its own: the linter reads bytecode with
 * jit.util, which no script may reach. */
static int lint(const mf_scripts_t *s)
{
    const mf_embedded_lua_t *m = mf_embedded_lua_find(mf_host_lua, "cmd.lint");
    lua_State *L = luaL_newstate();
    int count = 0;

    if (!L || !m)
        goto fail;
    luaL_openlibs(L);
    if (luaL_loadbuffer(L, m->source, m->len, m->chunkname) || lua_pcall(L, 0, 1, 0))
        goto fail;
    for (int i = 0; i < s->nfiles; i++) {
        const mf_script_file_t *f = &s->files[i];
        lua_pushvalue(L, 1);
        lua_pushlstring(L, f->source, f->len);
        lua_pushstring(L, f->chunkname);
        if (lua_pcall(L, 2, 1, 0))
            goto fail;
        int n = (int)lua_objlen(L, -1);
        for (int k = 1; k <= n; k++) {
            lua_rawgeti(L, -1, k);
            lua_getfield(L, -1, "line");
            lua_getfield(L, -2, "msg");
            if (!count++)
                printf("warnings:\n");
            printf("  %s:%d: %s\n", f->name, (int)lua_tointeger(L, -2), lua_tostring(L, -1));
            lua_pop(L, 3);
        }
        lua_pop(L, 1);
    }
    lua_close(L);
    return count;
fail:
    fprintf(stderr, "mayfly check: the linter failed: %s\n",
            L && lua_isstring(L, -1) ? lua_tostring(L, -1) : "cannot start");
    if (L)
        lua_close(L);
    return -1;
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
    print_middleware(s);
    int modules = 0;
    for (int i = 0; i < s->nfiles; i++) {
        if (s->files[i].kind == MF_SCRIPT_MODULE) {
            if (!modules++)
                printf("modules:\n");
            printf("  %-40s %s\n", s->files[i].module, s->files[i].name);
        }
    }
    int warnings = lint(s);
    mf_scripts_release(s);
    return warnings < 0 ? 1 : 0;
}
