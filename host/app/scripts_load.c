#include "app/scripts_load.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/intern.h"
#include "base/hash.h"
#include "lua/vm.h"
#include "observe/metrics.h"

#define MAX_SCRIPT_SIZE (8 * 1024 * 1024)
#define MIN_JOB_INTERVAL_MS 100

static const char *const hook_keys[] = {"on_start",    "on_ready_check", "on_config",
                                        "on_shutdown", "every",          NULL};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void compute_version(mf_scripts_t *s)
{
    uint64_t h = MF_HASH_INIT;
    for (int i = 0; i < s->nfiles; i++) {
        h = mf_hash(h, s->files[i].name, strlen(s->files[i].name) + 1);
        h = mf_hash(h, s->files[i].source, s->files[i].len);
    }
    snprintf(s->version, sizeof s->version, "%016llx", (unsigned long long)h);
}

static int read_folder(mf_scripts_t *s, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    int n = 0, cap = 0, rc = -1;

    if (!d) {
        snprintf(err, errlen, "scripts folder %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        /* Dot entries are a ConfigMap volume's plumbing (..data, ..2024_01_01...). */
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        if (len >= 9 && !strcmp(e->d_name + len - 9, "_spec.lua"))
            continue; /* spec files are for `mayfly test`, not served */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = mf_xrealloc(names, (size_t)cap * sizeof *names);
        }
        names[n++] = mf_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);

    s->files = mf_xcalloc((size_t)(n ? n : 1), sizeof *s->files);
    for (int i = 0; i < n; i++) {
        mf_script_file_t *f = &s->files[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        f->name = names[i];
        names[i] = NULL;
        s->nfiles = i + 1;
        f->module = mf_xstrndup(f->name, strlen(f->name) - 4);
        f->chunkname = mf_xmalloc(strlen(f->name) + 2);
        sprintf(f->chunkname, "@%s", f->name);
        if (mf_file_read(path, MAX_SCRIPT_SIZE, &f->source, &f->len, err, errlen))
            goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

typedef struct {
    mf_scripts_t *s;
    int file;
    int nroutes;
    unsigned hooks;
    int middleware_type[2]; /* the lua types of its before and after (LUA_TNIL: none) */
    int failed;
    char *err;
    size_t errlen;
} probe_t;

/* The MF_HOOK_* bit of a key, or 0. */
static unsigned hook_bit(const char *key)
{
    for (int i = 0; hook_keys[i]; i++)
        if (!strcmp(key, hook_keys[i]))
            return 1u << i;
    return 0;
}

const char *mf_scripts_hook_name(int hook)
{
    for (int i = 0; hook_keys[i]; i++)
        if (hook == 1 << i)
            return hook_keys[i];
    return "?";
}

/* "GET /x", "POST /": an uppercase word, a space, a slash. Anything else is not a route key. */
static int looks_like_route(const char *key)
{
    const char *p = key;
    while (*p >= 'A' && *p <= 'Z')
        p++;
    return p > key && *p == ' ';
}

static const char *const middleware_keys[] = {"before", "after"};

static void on_key(void *ud, const char *key, int type)
{
    probe_t *p = ud;
    mf_scripts_t *s = p->s;
    const char *file = s->files[p->file].name;
    if (p->failed)
        return;
    for (int k = 0; k < 2; k++) {
        if (!strcmp(key, middleware_keys[k])) {
            p->middleware_type[k] = type;
            return;
        }
    }
    unsigned bit = hook_bit(key);
    if (p->file == s->middleware && (bit || looks_like_route(key))) {
        snprintf(p->err, p->errlen,
                 "%s: '%s': this file holds the middleware of every route, not routes or hooks; "
                 "put them in another file",
                 file, key);
        p->failed = 1;
        return;
    }
    if (bit) {
        int want = bit == MF_HOOK_EVERY ? LUA_TTABLE : LUA_TFUNCTION;
        if (type != want) {
            snprintf(p->err, p->errlen, "%s: hook '%s' is a %s, not a %s", file, key,
                     lua_typename(NULL, type), lua_typename(NULL, want));
            p->failed = 1;
        }
        p->hooks |= bit;
        return;
    }
    if (!looks_like_route(key))
        return;
    if (type != LUA_TFUNCTION) {
        snprintf(p->err, p->errlen, "%s: route '%s' is a %s, not a function", file, key,
                 lua_typename(NULL, type));
        p->failed = 1;
        return;
    }
    s->routes = mf_xrealloc(s->routes, (size_t)(s->nroutes + 1) * sizeof *s->routes);
    mf_route_t *route = &s->routes[s->nroutes++];
    route->file = p->file;
    route->key = mf_intern(key);
    const char *path = strchr(key, ' ') + 1; /* looks_like_route: "METHOD /path" */
    route->metric_route = mf_metrics_route_id(path, strlen(path));
    p->nroutes++;
}

/* A route file's own before and after: each absent or a function. Returns their
 * MF_MIDDLEWARE_* bits, or -1 with the reason. (A module's keys of these names mean nothing to
 * the host: a module may well be a layer the shared middleware file lists.) */
static int own_middleware(const probe_t *p)
{
    static const unsigned bits[] = {MF_MIDDLEWARE_BEFORE, MF_MIDDLEWARE_AFTER};
    unsigned found = 0;
    for (int k = 0; k < 2; k++) {
        int type = p->middleware_type[k];
        if (type == LUA_TNIL)
            continue;
        if (type != LUA_TFUNCTION) {
            snprintf(p->err, p->errlen, "%s: '%s' is a %s, not a function",
                     p->s->files[p->file].name, middleware_keys[k], lua_typename(NULL, type));
            return -1;
        }
        found |= bits[k];
    }
    return (int)found;
}

/* The shared middleware file's table: before/after functions, or a list of tables of them. */
static int probe_shared_middleware(mf_scripts_t *s, mf_vm_t *vm, char *err, size_t errlen)
{
    mf_script_file_t *f = &s->files[s->middleware];
    char why[1024];
    if (mf_vm_probe_middleware(vm, s->middleware, MF_SCRIPTS_LOAD_LIMIT_MS, &f->middleware, why,
                               sizeof why)) {
        char *tb = strstr(why, "\nstack traceback:");
        if (tb)
            *tb = '\0';
        snprintf(err, errlen, "%s: %s", f->name, why);
        return -1;
    }
    f->kind = MF_SCRIPT_MIDDLEWARE;
    return 0;
}

static int build_router(mf_scripts_t *s, char *err, size_t errlen)
{
    char why[256];
    s->router = mf_router_new();
    for (int i = 0; i < s->nroutes; i++) {
        void *conflict = NULL;
        int rc =
            mf_router_add(s->router, s->routes[i].key, &s->routes[i], &conflict, why, sizeof why);
        if (rc == MF_ROUTER_ECONFLICT) {
            const mf_route_t *other = conflict;
            snprintf(err, errlen,
                     "route conflict: '%s' in %s and '%s' in %s claim the same "
                     "method and path",
                     other->key, s->files[other->file].name, s->routes[i].key,
                     s->files[s->routes[i].file].name);
            return -1;
        }
        if (rc != MF_ROUTER_OK) {
            snprintf(err, errlen, "%s: invalid route '%s': %s", s->files[s->routes[i].file].name,
                     s->routes[i].key, why);
            return -1;
        }
    }
    return 0;
}

/* A job's interval must parse as a duration of at least MIN_JOB_INTERVAL_MS. */
static void check_interval(void *ud, const char *interval, int singleton)
{
    probe_t *p = ud;
    int64_t ms;
    (void)singleton;
    if (!p->failed && (mf_parse_duration_ms(interval, &ms) || ms < MIN_JOB_INTERVAL_MS)) {
        snprintf(p->err, p->errlen,
                 "%s: every[\"%s\"]: expected an interval of at least %dms, such as \"30s\"",
                 p->s->files[p->file].name, interval, MIN_JOB_INTERVAL_MS);
        p->failed = 1;
    }
}

int mf_scripts_load(const char *dir, const mf_options_t *opts, mf_scripts_t **out, char *err,
                    size_t errlen)
{
    mf_scripts_t *s = mf_xcalloc(1, sizeof *s);
    mf_vm_t *vm = NULL;

    atomic_init(&s->refs, 1);
    s->dir = mf_file_snapshot_dir(dir);
    s->middleware = -1;
    if (read_folder(s, s->dir, err, errlen))
        goto fail;
    for (int i = 0; i < s->nfiles; i++)
        if (!strcmp(s->files[i].name, MF_SCRIPTS_MIDDLEWARE_FILE))
            s->middleware = i;
    compute_version(s);
    vm = mf_vm_new(opts, err, errlen);
    if (!vm || mf_vm_compile(vm, s, err, errlen))
        goto fail;
    for (int i = 0; i < s->nfiles; i++) {
        probe_t p = {.s = s, .file = i, .err = err, .errlen = errlen};
        int is_table = 0;
        char why[1024];
        if (mf_vm_probe(vm, i, MF_SCRIPTS_LOAD_LIMIT_MS, on_key, &p, &is_table, why, sizeof why)) {
            char *tb = strstr(why, "\nstack traceback:");
            if (tb)
                *tb = '\0';
            snprintf(err, errlen, "%s: error while loading: %s", s->files[i].name, why);
            goto fail;
        }
        if (p.failed)
            goto fail;
        if ((p.hooks & MF_HOOK_EVERY) &&
            (mf_vm_list_jobs(vm, i, check_interval, &p, err, errlen) || p.failed))
            goto fail;
        s->files[i].kind = p.nroutes || p.hooks ? MF_SCRIPT_ROUTES : MF_SCRIPT_MODULE;
        s->files[i].hooks = p.hooks;
        if (p.nroutes) {
            int own = own_middleware(&p);
            if (own < 0)
                goto fail;
            s->files[i].middleware = (unsigned)own;
        }
    }
    if (s->middleware >= 0 && probe_shared_middleware(s, vm, err, errlen))
        goto fail;
    if (build_router(s, err, errlen))
        goto fail;
    mf_vm_free(vm);
    *out = s;
    return 0;
fail:
    mf_vm_free(vm);
    mf_scripts_release(s);
    return -1;
}

static const mf_script_file_t *find_file(const mf_scripts_t *s, const char *name)
{
    for (int i = 0; i < s->nfiles; i++)
        if (!strcmp(s->files[i].name, name))
            return &s->files[i];
    return NULL;
}

static void add_name(char *names, size_t namelen, const char *name, const char *what)
{
    size_t used = strlen(names);
    if (used < namelen)
        snprintf(names + used, namelen - used, "%s%s (%s)", used ? ", " : "", name, what);
}

mf_scripts_diff_t mf_scripts_diff(const mf_scripts_t *a, const mf_scripts_t *b, char *names,
                                  size_t namelen)
{
    mf_scripts_diff_t d = {0, 0, 0};
    names[0] = '\0';
    for (int i = 0; i < b->nfiles; i++) {
        const mf_script_file_t *f = &b->files[i], *old = find_file(a, f->name);
        if (!old) {
            d.added++;
            add_name(names, namelen, f->name, "added");
        } else if (old->len != f->len || memcmp(old->source, f->source, f->len)) {
            d.modified++;
            add_name(names, namelen, f->name, "modified");
        }
    }
    for (int i = 0; i < a->nfiles; i++) {
        if (!find_file(b, a->files[i].name)) {
            d.removed++;
            add_name(names, namelen, a->files[i].name, "removed");
        }
    }
    return d;
}
