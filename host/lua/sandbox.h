/* The sandbox of a worker's Lua state: the frozen host tables every request environment reads
 * through, the guarded replacements of the base functions that could write to them, and the
 * per-request environment itself. */
#ifndef MF_SANDBOX_H
#define MF_SANDBOX_H

#include <lua.h>

/* Builds the sandbox in a state opened with luaL_openlibs: the frozen standard libraries, the
 * guarded base functions and the environment metatable. Takes away io, os (but the pure
 * functions), ffi, jit, debug (but traceback), package, dofile, loadfile, module, newproxy.
 * Host modules are added after with mf_sandbox_set_global. */
void mf_sandbox_open(lua_State *L);

/* Replaces the table at idx by a read-only proxy, deeply: every table value reachable from it
 * is frozen too. Pushes the proxy. The original table is kept only by the proxy; `name` is
 * used in the error raised on a write. */
void mf_sandbox_freeze(lua_State *L, int idx, const char *name);

/* 1 when the value at idx is a frozen proxy. */
int mf_sandbox_is_frozen(lua_State *L, int idx);

/* Sets name = value (the value on top, popped) in the shared globals every environment reads. */
void mf_sandbox_set_global(lua_State *L, const char *name);

/* Pushes the shared globals table (the real one behind every environment's __index). */
void mf_sandbox_push_globals(lua_State *L);

/* Pushes the setmetatable stdlib modules see: it seals a metatable on its first use (its tables
 * frozen, getmetatable refused), since every request shares it. */
void mf_sandbox_push_sealing_setmetatable(lua_State *L);

/* Marks the thread at idx as the host's: coroutine.running() answers nil on it, so no script
 * can hold it to resume it. */
void mf_sandbox_hide_thread(lua_State *L, int idx);

/* Pushes a new request environment: an empty table whose _G is itself and whose reads fall
 * through to the shared globals. It also becomes the thread's environment (what load() and
 * getfenv(0) see) until mf_sandbox_leave_env. */
void mf_sandbox_enter_env(lua_State *L);
void mf_sandbox_leave_env(lua_State *L);

/* Turns the JIT compiler off for the Lua function at idx and every function defined in it, so
 * the instruction hook that enforces the request timeout can always interrupt it. */
void mf_sandbox_nojit(lua_State *L, int idx);

#endif
