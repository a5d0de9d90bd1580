#define _GNU_SOURCE /* memmem */
#include "lua/vm.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <microhttpd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "lua/api/api.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "base/random.h"
#include "http/response.h"
#include "lua/sandbox.h"
#include "lua/vm_private.h"
#include "lua/embedded.h"

static char modules_key;  /* registry: host modules by require name */
static char internal_key; /* registry: the primitives only stdlib modules reach (mayfly._*) */

mf_vm_t *mf_vm_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

const mf_options_t *mf_vm_options(mf_vm_t *vm)
{
    return vm->opts;
}

lua_State *mf_vm_state(mf_vm_t *vm)
{
    return vm->L;
}

mf_request_t *mf_vm_request(mf_vm_t *vm)
{
    return vm->req;
}

void mf_vm_set_ref(lua_State *L, int which)
{
    mf_vm_t *vm = mf_vm_of(L);
    if (vm->refs[which] != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, vm->refs[which]);
    vm->refs[which] = luaL_ref(L, LUA_REGISTRYINDEX);
}

void mf_vm_push_ref(lua_State *L, int which)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, mf_vm_of(L)->refs[which]);
}

int64_t mf_vm_deadline_ns(mf_vm_t *vm)
{
    return atomic_load_explicit(&vm->deadline_ns, memory_order_relaxed);
}

size_t mf_vm_memory(mf_vm_t *vm)
{
    return vm->mem;
}

/* Counts the state's memory on top of LuaJIT's own allocator (faster than malloc for the many
 * small objects a request makes); its userdata is how any C function finds its vm. */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    mf_vm_t *vm = ud;
    /* A run past MAYFLY_MAX_LUA_MEMORY of growth gets LuaJIT's "not enough memory" error,
     * which costs that run only. */
    if (nsize > osize && vm->cap_limit && vm->mem + (nsize - osize) > vm->cap_limit) {
        vm->cap_hit = 1;
        return NULL;
    }
    void *p = vm->base_alloc(vm->base_alloc_ud, ptr, osize, nsize);
    if (p || nsize == 0)
        vm->mem += nsize - osize;
    return p;
}

/* ---- the request timeout ---- */

/* Installed by the watchdog with a count of 1 once a request is late: it raises on every Lua
 * instruction, so no pcall, xpcall or coroutine.resume in the script can swallow it for long. */
static void on_timeout_hook(lua_State *L, lua_Debug *ar)
{
    mf_vm_t *vm = mf_vm_of(L);
    (void)ar;
    if (atomic_load(&vm->late_gen) == atomic_load(&vm->gen))
        luaL_error(L, "mayfly: request timed out after %dms", (int)vm->opts->request_timeout_ms);
    /* Left over from a request that ended before the watchdog's mark landed. */
    pthread_mutex_lock(&vm->hook_lock);
    lua_sethook(L, NULL, 0, 0);
    pthread_mutex_unlock(&vm->hook_lock);
}

void mf_vm_watch(mf_vm_t *vm, int64_t now_ns)
{
    int64_t deadline = atomic_load(&vm->deadline_ns);
    uint64_t gen = atomic_load(&vm->gen);
    if (!deadline || now_ns <= deadline)
        return;
    pthread_mutex_lock(&vm->hook_lock);
    if (atomic_load(&vm->gen) == gen && atomic_load(&vm->deadline_ns) == deadline) {
        atomic_store(&vm->late_gen, gen);
        /* Set again at every tick while late: a stale-hook clear may have raced it. */
        lua_sethook(vm->L, on_timeout_hook, LUA_MASKCOUNT, 1);
    }
    pthread_mutex_unlock(&vm->hook_lock);
}

/* Scripts run between run_begin and the end of their protected call (uncap), under the memory
 * cap; the host's own work around them is not capped. */
void mf_vm__uncap(mf_vm_t *vm)
{
    vm->cap_limit = 0;
}

void mf_vm__run_begin(mf_vm_t *vm, mf_request_t *r)
{
    vm->req = r;
    vm->cap_limit = vm->opts->max_lua_memory ? vm->mem + vm->opts->max_lua_memory : 0;
    vm->own_rng.seeded = 0;
    vm->rng = &vm->own_rng;
    atomic_store(&vm->gen, atomic_load(&vm->gen) + 1);
    atomic_store(&vm->deadline_ns, vm->opts->request_timeout_ms > 0
                                       ? mf_now_ns() + vm->opts->request_timeout_ms * 1000000
                                       : 0);
}

int mf_vm__is_late(mf_vm_t *vm)
{
    return atomic_load(&vm->late_gen) == atomic_load(&vm->gen);
}

/* Returns whether the run was late. */
int mf_vm__run_end(mf_vm_t *vm)
{
    int late = mf_vm__is_late(vm);
    mf_vm__uncap(vm);
    if (vm->cap_hit) {
        vm->cap_hit = 0;
        lua_gc(vm->L, LUA_GCCOLLECT, 0); /* give back what the runaway run left */
    }
    atomic_store(&vm->deadline_ns, 0);
    if (late) {
        pthread_mutex_lock(&vm->hook_lock);
        lua_sethook(vm->L, NULL, 0, 0);
        pthread_mutex_unlock(&vm->hook_lock);
    }
    vm->req = NULL;
    if (vm->loaded_ref != LUA_NOREF) {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, vm->loaded_ref);
        vm->loaded_ref = LUA_NOREF;
    }
    return late;
}

/* ---- math.random: per run, seeded unpredictably on first use ---- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(mf_rng_t *g)
{
    uint64_t *s = g->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Spreads one 64-bit seed over the four words (splitmix64), never all zero. */
static void rng_seed(mf_rng_t *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        g->s[i] = z ^ (z >> 31);
    }
    g->seeded = 1;
}

/* LuaJIT's semantics: random() in [0, 1), random(m) = floor(d * m) + 1, random(m, n) =
 * floor(d * (n - m + 1)) + m, without an interval check. */
static int l_math_random(lua_State *L)
{
    mf_rng_t *g = mf_vm_of(L)->rng;
    if (!g->seeded)
        rng_seed(g, mf_random_u64());
    double d = (double)(rng_next(g) >> 11) * (1.0 / 9007199254740992.0);
    int n = lua_gettop(L);
    if (n >= 1) {
        double m = luaL_checknumber(L, 1);
        if (n == 1)
            d = floor(d * m) + 1.0;
        else
            d = floor(d * (luaL_checknumber(L, 2) - m + 1.0)) + m;
    }
    lua_pushnumber(L, d);
    return 1;
}

/* math.randomseed(x) makes only the current run's sequence repeatable. */
static int l_math_randomseed(lua_State *L)
{
    union {
        double d;
        uint64_t u;
    } x = {.d = luaL_checknumber(L, 1)};
    rng_seed(mf_vm_of(L)->rng, x.u);
    return 0;
}

/* Replaces math.random and math.randomseed before the sandbox freezes math. */
static void wrap_random(lua_State *L)
{
    lua_getfield(L, LUA_GLOBALSINDEX, "math");
    lua_pushcfunction(L, l_math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, l_math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
}

/* ---- require ---- */

void mf_vm__push_modules(lua_State *L)
{
    lua_pushlightuserdata(L, &modules_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* require(name): host modules (shared, read-only); lua-cjson as a new instance; files of the
 * scripts folder, run in the request's environment once per request. */
static int l_require(lua_State *L)
{
    mf_vm_t *vm = mf_vm_of(L);
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);

    mf_vm__push_modules(L);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1))
        return 1;
    lua_settop(L, 1);

    /* Per-request cache, so a module required twice in one request is one value. */
    if (vm->loaded_ref == LUA_NOREF) {
        lua_newtable(L);
        vm->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->loaded_ref);
    int loaded = lua_gettop(L);
    lua_pushvalue(L, 1);
    lua_rawget(L, loaded);
    if (lua_toboolean(L, -1) && !lua_islightuserdata(L, -1))
        return 1;
    if (lua_islightuserdata(L, -1))
        return luaL_error(L, "mayfly: require '%s': loop in the requires between modules", name);
    lua_pop(L, 1);

    if (!strcmp(name, "cjson") || !strcmp(name, "cjson.safe")) {
        mf_json_push_new_instance(L, name[5] == '.');
    } else {
        int file = vm->scripts ? mf_scripts_find_module(vm->scripts, name, len) : -1;
        if (file < 0)
            return luaL_error(L,
                              "mayfly: module '%s' not found: not a host module and no %s.lua "
                              "in the scripts folder",
                              name, name);
        lua_pushvalue(L, 1);
        lua_pushlightuserdata(L, vm); /* marks "loading" to catch loops */
        lua_rawset(L, loaded);
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->chunks_ref);
        lua_rawgeti(L, -1, file + 1);
        lua_remove(L, -2);
        lua_pushvalue(L, LUA_GLOBALSINDEX);
        lua_setfenv(L, -2);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
        }
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, loaded);
    return 1;
}

void mf_vm_call_detached(lua_State *L, int idx)
{
    mf_vm_t *vm = mf_vm_of(L);
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfenv(L, idx);
    int old_env = lua_gettop(L);
    lua_State *co = lua_newthread(L); /* anchored on L's stack */
    mf_sandbox_hide_thread(L, -1);
    mf_sandbox_enter_env(co);
    lua_xmove(co, L, 1);
    lua_pushvalue(L, -1);
    lua_setfenv(L, idx);
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_xmove(L, co, 1);

    mf_request_t *req = vm->req;
    int loaded_ref = vm->loaded_ref;
    mf_rng_t *rng = vm->rng, own = {.seeded = 0};
    vm->req = NULL;
    vm->loaded_ref = LUA_NOREF;
    vm->rng = &own;
    int status = lua_resume(co, 0);
    if (vm->loaded_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, vm->loaded_ref);
    vm->req = req;
    vm->loaded_ref = loaded_ref;
    vm->rng = rng;
    lua_pushvalue(L, old_env);
    lua_setfenv(L, idx);

    if (status == LUA_YIELD) {
        lua_settop(L, old_env - 1);
        luaL_error(L, "mayfly.constant: the function yielded; a constant is computed at once");
    }
    if (status != 0) {
        lua_xmove(co, L, 1);
        lua_replace(L, old_env);
        lua_settop(L, old_env);
        lua_error(L);
    }
    if (lua_gettop(co) == 0)
        lua_pushnil(co);
    lua_settop(co, 1);
    lua_xmove(co, L, 1);
    lua_replace(L, old_env);
    lua_settop(L, old_env);
}

/* Registers the value on top (popped) as a host module: frozen, and findable by require; a
 * name starting "mayfly._" is an internal one, which only stdlib modules reach (see
 * open_stdlib), so no script holds a primitive that trusts its caller. */
static void add_module(lua_State *L, const char *name)
{
    mf_sandbox_freeze(L, -1, name);
    if (!strncmp(name, "mayfly._", 8)) {
        lua_pushlightuserdata(L, &internal_key);
        lua_rawget(L, LUA_REGISTRYINDEX);
    } else {
        mf_vm__push_modules(L);
    }
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 3);
}

/* internal(name): an internal module; handed to stdlib modules as their chunk's second
 * argument, never stored where a script can reach it. Looked up at each call, so a module that
 * is replaced (the config source) is always the current one. */
static int l_internal(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_pushlightuserdata(L, &internal_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    if (lua_isnil(L, -1))
        return luaL_error(L, "no internal module '%s'", lua_tostring(L, 1));
    return 1;
}

/* ---- building the state ---- */

static int open_stdlib(lua_State *L, char *err, size_t errlen)
{
    /* Host Lua modules run once, in an environment of their own over the shared globals, and
     * are frozen like the C ones; the objects they hand out get sealed metatables. Their
     * functions keep JIT compilation. */
    for (const mf_embedded_lua_t *m = mf_stdlib_modules; m->module; m++) {
        if (luaL_loadbuffer(L, m->source, m->len, m->chunkname) != 0) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            return -1;
        }
        lua_newtable(L);
        mf_sandbox_push_sealing_setmetatable(L);
        lua_setfield(L, -2, "setmetatable");
        lua_newtable(L);
        mf_sandbox_push_globals(L);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, -2);
        mf_sandbox_freeze(L, -1, m->module);
        lua_remove(L, -2);
        lua_setfenv(L, -2);
        lua_pushstring(L, m->module);
        lua_pushcfunction(L, l_internal);
        if (lua_pcall(L, 2, 1, 0) != 0) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            return -1;
        }
        add_module(L, m->module);
    }
    return 0;
}

static int build_state(mf_vm_t *vm, char *err, size_t errlen)
{
    lua_State *L = vm->L;
    luaL_openlibs(L);

    lua_getfield(L, LUA_GLOBALSINDEX, "debug");
    lua_getfield(L, -1, "traceback");
    mf_vm_set_ref(L, MF_REF_TRACEBACK);
    lua_pop(L, 1);
    if (mf_vm__open_runs(L, err, errlen))
        return -1;
    mf_request_open(L);
    wrap_random(L);
    mf_sandbox_open(L);
    lua_pushlightuserdata(L, &modules_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &internal_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    /* The standard libraries are modules too (require "string" works as in plain Lua). */
    mf_sandbox_push_globals(L);
    static const char *libs[] = {"string",    "table", "math",  "os",
                                 "coroutine", "bit",   "debug", NULL};
    for (int i = 0; libs[i]; i++) {
        mf_vm__push_modules(L);
        lua_getfield(L, -2, libs[i]);
        lua_setfield(L, -2, libs[i]);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* The fork's pure table extensions, by the names it registers them under. */
    static const char *table_ext[] = {"table.new",   "table.clear",   "table.clone",
                                      "table.nkeys", "table.isempty", "table.isarray",
                                      NULL};
    lua_getfield(L, LUA_GLOBALSINDEX, "package");
    lua_getfield(L, -1, "preload");
    for (int i = 0; table_ext[i]; i++) {
        lua_getfield(L, -1, table_ext[i]);
        if (lua_isfunction(L, -1)) {
            lua_pushstring(L, table_ext[i]);
            lua_call(L, 1, 1);
            mf_vm__push_modules(L);
            lua_insert(L, -2);
            lua_setfield(L, -2, table_ext[i]);
            lua_pop(L, 1);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);

    lua_pushcfunction(L, l_require);
    mf_sandbox_set_global(L, "require");
    lua_pushcfunction(L, mf_lapi_print);
    mf_sandbox_set_global(L, "print");

    /* C modules, then the mayfly table that gathers them. */
    luaopen_mayfly_json(L);
    add_module(L, "mayfly.json");
    luaopen_mayfly_env(L);
    add_module(L, "mayfly.env");
    luaopen_mayfly_log(L);
    add_module(L, "mayfly.log");
    luaopen_mayfly_redis(L);
    add_module(L, "mayfly.redis");
    luaopen_mayfly_http(L);
    add_module(L, "mayfly._http");
    luaopen_mayfly_crypto(L);
    add_module(L, "mayfly.crypto");
    luaopen_mayfly_metrics(L);
    add_module(L, "mayfly.metrics");
    mf_config_push_source(L, NULL);
    add_module(L, "mayfly._config_source");
    if (open_stdlib(L, err, errlen))
        return -1;

    mf_vm__push_modules(L);
    lua_newtable(L); /* mayfly */
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        const char *name = lua_tostring(L, -2);
        if (!strncmp(name, "mayfly.", 7) && name[7] != '_') {
            lua_pushstring(L, name + 7);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pushliteral(L, MAYFLY_VERSION);
    lua_setfield(L, -2, "version");
    luaopen_mayfly_constant(L);
    lua_setfield(L, -2, "constant");
    mf_sandbox_freeze(L, -1, "mayfly");
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "mayfly");
    mf_sandbox_set_global(L, "mayfly");
    lua_pop(L, 1);
    /* The short names every environment has. */
    static const char *const globals[][2] = {
        {"redis", "mayfly.redis"}, {"log", "mayfly.log"}, {"config", "mayfly.config"}};
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++) {
        lua_getfield(L, -1, globals[i][1]);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, globals[i][0]);
        mf_sandbox_set_global(L, globals[i][0]);
    }
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT, 0);
    /* The live heap (sandbox, host modules, compiled scripts) is re-marked by every GC cycle
     * while each request leaves only short-lived garbage: cycles started later cost less per
     * request, for a heap a few times larger (a few MiB per worker). */
    lua_gc(L, LUA_GCSETPAUSE, 1000);
    return 0;
}

/* Reached only by a Lua error outside any protected call: a bug in the host. */
static int on_panic(lua_State *L)
{
    fprintf(stderr, "mayfly: fatal: unprotected Lua error: %s\n",
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "(not a string)");
    abort();
}

/* Opens vm->L and builds the sandbox and host modules in it; the vm's registry slots must be
 * unset. Returns 0, or -1 with the state left open for the caller to close. */
static int open_state(mf_vm_t *vm, char *err, size_t errlen)
{
    vm->L = luaL_newstate();
    if (!vm->L) {
        snprintf(err, errlen, "cannot create a Lua state");
        return -1;
    }
    vm->base_alloc = lua_getallocf(vm->L, &vm->base_alloc_ud);
    lua_setallocf(vm->L, vm_alloc, vm);
    lua_atpanic(vm->L, on_panic);
    return build_state(vm, err, errlen);
}

/* Closes a state of vm's whose own allocator is alloc/ud; what it used is no longer counted. */
static void close_state(mf_vm_t *vm, lua_State *L, lua_Alloc alloc, void *ud, size_t mem)
{
    /* LuaJIT destroys its allocator's arena in lua_close only when that allocator is still the
     * state's: with vm_alloc installed it frees every object but leaves the arena's mapped
     * segments behind (about 170 KiB a state, one state per reload). The finalizers lua_close
     * runs do not need mf_vm_of. */
    lua_setallocf(L, alloc, ud);
    lua_close(L);
    vm->mem -= mem;
}

static void unset_slots(mf_vm_t *vm)
{
    vm->chunks_ref = LUA_NOREF;
    vm->loaded_ref = LUA_NOREF;
    for (int i = 0; i < MF_REF_COUNT; i++)
        vm->refs[i] = LUA_NOREF;
}

mf_vm_t *mf_vm_new(const mf_options_t *opts, char *err, size_t errlen)
{
    mf_vm_t *vm = mf_xcalloc(1, sizeof *vm);
    vm->opts = opts;
    unset_slots(vm);
    atomic_store(&vm->late_gen, UINT64_MAX); /* no generation is late yet */
    pthread_mutex_init(&vm->hook_lock, NULL);
    vm->rng = &vm->own_rng;
    if (open_state(vm, err, errlen))
        goto fail;
    return vm;
fail:
    mf_vm_free(vm);
    return NULL;
}

void mf_vm_free(mf_vm_t *vm)
{
    if (!vm)
        return;
    if (vm->L) {
        mf_vm__free_runs(vm);
        close_state(vm, vm->L, vm->base_alloc, vm->base_alloc_ud, vm->mem);
    }
    pthread_mutex_destroy(&vm->hook_lock);
    free(vm);
}

int mf_vm_renew(mf_vm_t *vm, const mf_scripts_t *s, const mf_config_t *c, char *err,
                size_t errlen)
{
    lua_State *old = vm->L;
    lua_Alloc old_alloc = vm->base_alloc;
    void *old_alloc_ud = vm->base_alloc_ud;
    size_t old_mem = vm->mem;
    int old_chunks = vm->chunks_ref, old_refs[MF_REF_COUNT];
    const mf_scripts_t *old_scripts = vm->scripts;
    memcpy(old_refs, vm->refs, sizeof old_refs);

    unset_slots(vm);
    /* The watchdog reads vm->L under hook_lock, and only while a run has a deadline: none has
     * one here (no run waits, none runs). */
    pthread_mutex_lock(&vm->hook_lock);
    int failed = open_state(vm, err, errlen);
    pthread_mutex_unlock(&vm->hook_lock);
    if (!failed)
        failed = mf_vm_compile(vm, s, err, errlen);
    if (failed) {
        if (vm->L)
            close_state(vm, vm->L, vm->base_alloc, vm->base_alloc_ud, vm->mem - old_mem);
        vm->L = old;
        vm->base_alloc = old_alloc;
        vm->base_alloc_ud = old_alloc_ud;
        vm->chunks_ref = old_chunks;
        memcpy(vm->refs, old_refs, sizeof old_refs);
        vm->scripts = old_scripts;
        return -1;
    }
    mf_vm_set_config(vm, c);
    mf_vm_warm(vm, MF_SCRIPTS_LOAD_LIMIT_MS);
    /* Finished coroutines belong to the old state. */
    mf_vm__free_runs(vm);
    close_state(vm, old, old_alloc, old_alloc_ud, old_mem);
    return 0;
}

/* ---- config ---- */

void mf_vm_set_config(mf_vm_t *vm, const mf_config_t *c)
{
    /* Between requests, with nothing on the stack: building it can only fail for memory, which
     * the panic handler reports. */
    mf_config_push_source(vm->L, c);
    add_module(vm->L, "mayfly._config_source");
}

void mf_vm_set_config_source(mf_vm_t *vm)
{
    add_module(vm->L, "mayfly._config_source");
}

/* ---- scripts ---- */

int mf_vm_compile(mf_vm_t *vm, const mf_scripts_t *s, char *err, size_t errlen)
{
    lua_State *L = vm->L;
    lua_createtable(L, s->nfiles, 0);
    for (int i = 0; i < s->nfiles; i++) {
        const mf_script_file_t *f = &s->files[i];
        if (luaL_loadbuffer(L, f->source, f->len, f->chunkname) != 0) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            lua_pop(L, 2);
            return -1;
        }
        mf_sandbox_nojit(L, -1);
        lua_rawseti(L, -2, i + 1);
    }
    if (vm->chunks_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, vm->chunks_ref);
    vm->chunks_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    mf_constant_reset(L); /* constants belong to a script version */
    vm->scripts = s;
    return 0;
}

/* Pushes the traceback handler and a fresh environment, runs file's chunk in it. Leaves
 * [traceback, env, result] on the stack and returns 0, or [traceback, env, error] and -1. */
static int run_chunk(mf_vm_t *vm, int file)
{
    lua_State *L = vm->L;
    mf_vm_push_ref(L, MF_REF_TRACEBACK);
    int msgh = lua_gettop(L);
    mf_sandbox_enter_env(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->chunks_ref);
    lua_rawgeti(L, -1, file + 1);
    lua_remove(L, -2);
    lua_pushvalue(L, -2);
    lua_setfenv(L, -2);
    lua_pushstring(L, vm->scripts->files[file].module);
    int rc = lua_pcall(L, 1, 1, msgh) ? -1 : 0;
    mf_vm__uncap(vm);
    return rc;
}

/* Loading runs in the thread that loads, without the watchdog: a counting hook bounds it. */
static __thread int64_t probe_deadline;
static __thread int64_t probe_limit_ms;

static void on_probe_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (mf_now_ns() > probe_deadline)
        luaL_error(L, "mayfly: loading the script took longer than %dms", (int)probe_limit_ms);
}

static void ignore_key(void *ud, const char *key, int type)
{
    (void)ud, (void)key, (void)type;
}

void mf_vm_warm(mf_vm_t *vm, int64_t limit_ms)
{
    char err[512];
    int is_table;
    for (int i = 0; vm->scripts && i < vm->scripts->nfiles; i++) {
        const mf_script_file_t *f = &vm->scripts->files[i];
        if (!memmem(f->source, f->len, "constant", 8))
            continue; /* nothing to keep: no need to run its top level once more */
        if (mf_vm_probe(vm, i, limit_ms, ignore_key, NULL, &is_table, err, sizeof err))
            mf_log_msg(MF_LOG_WARN, "%s: constants not computed at load: %.300s", f->name, err);
    }
}

int mf_vm_loading(mf_vm_t *vm)
{
    return vm->loading;
}

int mf_vm_may_declare(mf_vm_t *vm)
{
    return vm->loading || vm->in_hook;
}

int mf_vm_probe(mf_vm_t *vm, int file, int64_t limit_ms,
                void (*fn)(void *ud, const char *key, int type), void *ud, int *is_table, char *err,
                size_t errlen)
{
    lua_State *L = vm->L;
    int top = lua_gettop(L), rc = 0;
    if (limit_ms > 0) {
        probe_limit_ms = limit_ms;
        probe_deadline = mf_now_ns() + limit_ms * 1000000;
        lua_sethook(L, on_probe_hook, LUA_MASKCOUNT, 100000);
    }
    vm->loading = 1;
    int failed = run_chunk(vm, file);
    vm->loading = 0;
    if (limit_ms > 0)
        lua_sethook(L, NULL, 0, 0);
    if (failed) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        rc = -1;
        goto done;
    }
    *is_table = lua_istable(L, -1);
    if (*is_table) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING)
                fn(ud, lua_tostring(L, -2), lua_type(L, -1));
            lua_pop(L, 1);
        }
    }
done:
    lua_settop(L, top);
    mf_sandbox_leave_env(L);
    mf_vm__run_end(vm);
    return rc;
}
