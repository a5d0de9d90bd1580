/* The detached run behind mayfly.constant (binding.h: mf_vm_call_detached). */
#include <lauxlib.h>

#include "lua/sandbox.h"
#include "lua/vm_private.h"

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
