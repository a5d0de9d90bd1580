/* A version of the scripts folder, as a state compiles it: every *.lua file's source, which
 * files serve routes, which are modules and which holds the shared middleware, and the route
 * table. Immutable once loaded (app/scripts_load.c reads and checks it); shared by the workers,
 * reference counted. */
#ifndef MF_LUA_SCRIPTS_H
#define MF_LUA_SCRIPTS_H

#include <stdatomic.h>
#include <stddef.h>

#include "http/router.h"

enum { MF_SCRIPT_MODULE = 0, MF_SCRIPT_ROUTES = 1, MF_SCRIPT_MIDDLEWARE = 2 };

/* The file whose table (or list of tables) of before/after functions wraps every route. */
#define MF_SCRIPTS_MIDDLEWARE_MODULE "_middleware"
#define MF_SCRIPTS_MIDDLEWARE_FILE MF_SCRIPTS_MIDDLEWARE_MODULE ".lua"

/* The middleware a file's table holds, as bits of mf_script_file_t.middleware: a route file's
 * own, or (for the shared file) what any of its layers has. */
enum { MF_MIDDLEWARE_BEFORE = 1 << 0, MF_MIDDLEWARE_AFTER = 1 << 1 };

/* The lifecycle hooks a file's table holds, as bits of mf_script_file_t.hooks. */
enum {
    MF_HOOK_ON_START = 1 << 0,
    MF_HOOK_ON_READY_CHECK = 1 << 1,
    MF_HOOK_ON_CONFIG = 1 << 2,
    MF_HOOK_ON_SHUTDOWN = 1 << 3,
    MF_HOOK_EVERY = 1 << 4,
};

typedef struct {
    char *name;      /* "hello.lua" */
    char *module;    /* "hello": the name require() finds it by */
    char *chunkname; /* "@hello.lua", as tracebacks show it */
    char *source;
    size_t len;
    int kind;
    unsigned hooks;      /* MF_HOOK_* bits */
    unsigned middleware; /* MF_MIDDLEWARE_* bits, as the load saw them */
} mf_script_file_t;

/* What the router hands back for a route: the file whose chunk returns the handler table, and
 * the key of the handler in it. */
typedef struct {
    int file;
    const char *key;  /* interned (base/intern.h): requests report it after the version is gone */
    int metric_route; /* the path pattern's label in metrics */
} mf_route_t;

typedef struct mf_scripts {
    char *dir;
    mf_script_file_t *files;
    int nfiles;
    mf_route_t *routes;
    int nroutes;
    mf_router_t *router;
    int middleware;   /* the file index of MF_SCRIPTS_MIDDLEWARE_FILE, -1 when there is none */
    char version[17]; /* hex digest of the file names and contents */
    atomic_int refs;  /* the server's current version and every worker serving it */
} mf_scripts_t;

/* A file's top level runs every request: at load it must return within this. */
#define MF_SCRIPTS_LOAD_LIMIT_MS 5000

/* The route a match of the version's router found: the router keeps handlers as void *, and
 * this version's are its routes. */
static inline const mf_route_t *mf_scripts_route(const mf_route_match_t *m)
{
    return m->handler;
}

/* References: the version is freed when the last one is released. Both may be called from any
 * thread; NULL is a no-op. */
void mf_scripts_retain(mf_scripts_t *s);
void mf_scripts_release(mf_scripts_t *s);

/* The file index of a module name, or -1. */
int mf_scripts_find_module(const mf_scripts_t *s, const char *module, size_t len);

#endif
