/* A vm: its state's life (new, renewed for a version, freed), the allocator that counts and
 * caps its memory, the registry slots, and the request timeout the watchdog enforces. */
#include "lua/vm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "lua/config_source.h"
#include "lua/vm_private.h"

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

const mf_scripts_t *mf_vm_scripts(const mf_vm_t *vm)
{
    return vm->scripts;
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

void mf_vm_enforce_deadline(mf_vm_t *vm, int64_t now_ns)
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
    return mf_vm__build_state(vm, err, errlen);
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
    mf_vm__add_module(vm->L, "mayfly._config_source");
}

void mf_vm_set_config_source(mf_vm_t *vm)
{
    mf_vm__add_module(vm->L, "mayfly._config_source");
}

