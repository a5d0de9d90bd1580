/* Between the files of the vm (vm.c: the state and the request run; vm_hooks.c: runs of a
 * file's hooks): the vm's fields and the run bracket. Nothing else includes this. */
#ifndef MF_VM_PRIVATE_H
#define MF_VM_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <lua.h>

#include "vm.h"

struct mf_vm {
    lua_State *L;
    const mf_options_t *opts;
    size_t mem;
    lua_Alloc base_alloc; /* LuaJIT's own allocator, which vm_alloc accounts for */
    void *base_alloc_ud;

    const mf_scripts_t *scripts; /* the version requests run on */
    int chunks_ref;              /* registry: array of compiled chunks, by file index */

    mf_request_t *req; /* the request being served */
    int loaded_ref;    /* registry: this request's require() cache, LUA_NOREF until used */

    /* The request timeout. The worker publishes gen and deadline_ns per request without locks;
     * the watchdog marks a late request by storing its gen in late_gen and installs the hook.
     * hook_lock orders the two threads' lua_sethook calls. */
    _Atomic uint64_t gen;
    _Atomic int64_t deadline_ns; /* 0 while idle */
    _Atomic uint64_t late_gen;
    pthread_mutex_t hook_lock;
    int rng_seeded;   /* math.random has its seed for this request */
    size_t cap_limit; /* while a script runs: the memory it may grow the state to; 0: none */
    int cap_hit;      /* the run was refused memory */
    int refs[MF_REF_COUNT];
};

/* A script run: begins with the request (NULL: a hook or a load), its deadline and memory cap;
 * uncap right after its protected call; end (returns whether it was late). */
void mf_vm__run_begin(mf_vm_t *vm, mf_request_t *r);
void mf_vm__uncap(mf_vm_t *vm);
int mf_vm__is_late(mf_vm_t *vm);
int mf_vm__run_end(mf_vm_t *vm);
/* Pushes the registry's table of host modules by require name. */
void mf_vm__push_modules(lua_State *L);

#endif
