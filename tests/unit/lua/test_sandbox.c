/* The sandbox every request runs in: what sandbox.h promises, checked from Lua run the way a
 * request runs (a thread of a vm's state, in a fresh environment from mf_sandbox_enter_env).
 * A hole here lets one request change what every later request of the worker sees. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "base/options.h"
#include "lua/sandbox.h"
#include "lua/vm.h"
#include "observe/log.h"
#include "test.h"

static mf_vm_t *vm;
static lua_State *L;
/* What the last run returned (tostring of its first result) or raised. */
static char result[512];

/* Runs code on a new thread of the vm's state in a fresh request environment, with the nargs
 * values on top of L (popped) as its `...`. Returns 0 when it returned, else 1 (result holds
 * the error). hide: the thread is marked as the host's first. */
static int run_with(const char *code, int nargs, int hide)
{
    lua_State *co = lua_newthread(L);
    lua_insert(L, -nargs - 1);
    if (hide)
        mf_sandbox_hide_thread(L, -nargs - 1);
    mf_sandbox_enter_env(co);
    lua_pop(co, 1);
    int failed = luaL_loadstring(co, code) != 0;
    if (!failed) {
        lua_xmove(L, co, nargs);
        failed = lua_pcall(co, nargs, 1, 0) != 0;
    } else {
        lua_pop(L, nargs);
    }
    const char *s =
        lua_isboolean(co, -1) ? (lua_toboolean(co, -1) ? "true" : "false") : lua_tostring(co, -1);
    snprintf(result, sizeof result, "%s", s ? s : luaL_typename(co, -1));
    mf_sandbox_leave_env(co);
    lua_pop(L, 1);
    return failed;
}

static int run(const char *code)
{
    return run_with(code, 0, 0);
}

/* call (a run) raised an error containing part. */
#define ASSERT_RAISES(call, part)                                                                  \
    do {                                                                                           \
        ASSERT_EQ_INT((call), 1);                                                                  \
        if (!strstr(result, part))                                                                 \
            printf("  error: %s\n", result);                                                       \
        ASSERT_TRUE(strstr(result, part) != NULL);                                                 \
    } while (0)
#define ASSERT_REFUSED(code, part) ASSERT_RAISES(run(code), part)

/* call (a run) returned what tostring makes want. */
#define ASSERT_RETURNS(call, want)                                                                 \
    do {                                                                                           \
        int failed_ = (call);                                                                      \
        if (failed_)                                                                               \
            printf("  raised: %s\n", result);                                                      \
        ASSERT_EQ_INT(failed_, 0);                                                                 \
        ASSERT_EQ_STR(result, want);                                                               \
    } while (0)
#define ASSERT_LUA(code) ASSERT_RETURNS(run(code), "true")

/* Pushes {n = 5, a = {b = {}}, list = {1, 2, 3}, [{}] = "table key"} with a.self = the table
 * itself and shared = a, frozen as "cfg". */
static void push_frozen_cfg(void)
{
    lua_newtable(L);
    int t = lua_gettop(L);
    lua_pushinteger(L, 5);
    lua_setfield(L, t, "n");
    lua_newtable(L);
    lua_newtable(L);
    lua_setfield(L, -2, "b");
    lua_pushvalue(L, t);
    lua_setfield(L, -2, "self");
    lua_pushvalue(L, -1);
    lua_setfield(L, t, "shared");
    lua_setfield(L, t, "a");
    lua_newtable(L);
    for (int i = 1; i <= 3; i++) {
        lua_pushinteger(L, i);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, t, "list");
    lua_newtable(L);
    lua_pushliteral(L, "table key");
    lua_rawset(L, t);
    mf_sandbox_freeze(L, t, "cfg");
    lua_remove(L, t);
}

static int run_on_cfg(const char *code)
{
    push_frozen_cfg();
    return run_with(code, 1, 0);
}

/* ---- frozen tables ---- */

TEST(freeze_pushes_a_proxy_and_is_frozen_tells_it_apart)
{
    lua_newtable(L);
    lua_pushinteger(L, 1);
    lua_setfield(L, -2, "x");
    mf_sandbox_freeze(L, -1, "t");
    ASSERT_EQ_INT(mf_sandbox_is_frozen(L, -1), 1);
    ASSERT_EQ_INT(mf_sandbox_is_frozen(L, -2), 0);
    ASSERT_TRUE(!lua_rawequal(L, -1, -2));
    mf_sandbox_freeze(L, -1, "again"); /* a proxy freezes to itself */
    ASSERT_TRUE(lua_rawequal(L, -1, -2));
    lua_pop(L, 3);

    lua_pushliteral(L, "s");
    ASSERT_EQ_INT(mf_sandbox_is_frozen(L, -1), 0);
    lua_newtable(L);
    lua_newtable(L);
    lua_setmetatable(L, -2); /* a metatable alone does not make a table frozen */
    ASSERT_EQ_INT(mf_sandbox_is_frozen(L, -1), 0);
    lua_pop(L, 2);
}

TEST(a_frozen_table_reads_through)
{
    ASSERT_RETURNS(run_on_cfg("local t = ...; return t.n == 5 and t.list[3] == 3 "
                              "and type(t.a.b) == 'table'"),
                   "true");
    ASSERT_RETURNS(
        run_on_cfg("local t = ...; return rawget(t, 'n') == 5 and rawget(t.list, 2) == 2"), "true");
}

TEST(a_frozen_table_refuses_writes_at_every_depth)
{
    ASSERT_RAISES(run_on_cfg("local t = ...; t.n = 6"), "assignment to 'n' in cfg refused");
    ASSERT_RAISES(run_on_cfg("local t = ...; t.new = 1"), "assignment to 'new' in cfg refused");
    /* t.a is t.shared too: the name the freezing walk met first is in the message. */
    ASSERT_RAISES(run_on_cfg("local t = ...; t.a.b.c = 1"), ".b refused");
    ASSERT_RAISES(run_on_cfg("local t = ...; t.list[4] = 4"), "in cfg.list refused");
    /* Whatever refused, the value is still the one frozen. */
    ASSERT_RETURNS(run_on_cfg("local t = ...; pcall(function() t.n = 6 end); return t.n"), "5");
}

TEST(raw_and_library_writers_are_refused_too)
{
    ASSERT_RAISES(run_on_cfg("local t = ...; rawset(t, 'n', 6)"), "rawset refused");
    ASSERT_RAISES(run_on_cfg("local t = ...; rawset(t.a, 'x', 1)"), "rawset refused");
    ASSERT_RAISES(run_on_cfg("local t = ...; table.insert(t.list, 4)"), "table.insert refused");
    ASSERT_RAISES(run_on_cfg("local t = ...; table.move({9}, 1, 1, 1, t.list)"),
                  "table.move refused");
    ASSERT_RAISES(run_on_cfg("local t = ...; table.move(t.list, 1, 3, 2)"), "table.move refused");
}

TEST(a_frozen_tables_metatable_is_out_of_reach)
{
    ASSERT_RETURNS(run_on_cfg("local t = ...; return getmetatable(t)"), "mayfly: read-only cfg");
    ASSERT_RAISES(run_on_cfg("local t = ...; setmetatable(t, nil)"), "setmetatable refused");
    ASSERT_RAISES(run_on_cfg("local t = ...; setmetatable(t.a, {})"), "setmetatable refused");
    /* Nor through debug, which keeps only traceback. */
    ASSERT_LUA("return debug.getmetatable == nil and debug.setmetatable == nil "
               "and debug.getregistry == nil and debug.getupvalue == nil "
               "and type(debug.traceback) == 'function'");
}

TEST(iterating_a_frozen_table_sees_its_contents)
{
    ASSERT_RETURNS(run_on_cfg("local t = ...; local n = 0; for _ in pairs(t) do n = n + 1 end; "
                              "local s = 0; for _, v in ipairs(t.list) do s = s + v end; "
                              "return n .. ' ' .. s"),
                   "5 6"); /* n, a, shared, list, the table key */
    ASSERT_RETURNS(run_on_cfg("local t = ...; local k, v = next(t.list); return k + v"), "2");
}

TEST(keys_and_shared_tables_are_frozen_once)
{
    ASSERT_RAISES(run_on_cfg("local t = ...; for k in pairs(t) do "
                             "if type(k) == 'table' then k.x = 1 end end"),
                  "in cfg[key] refused");
    ASSERT_RETURNS(run_on_cfg("local t = ...; for k in pairs(t) do "
                              "if type(k) == 'table' then return t[k] end end"),
                   "table key");
    /* One proxy per table: a cycle leads back to the proxy, a shared table is one proxy. */
    ASSERT_RETURNS(run_on_cfg("local t = ...; return t.a.self == t and t.shared == t.a"), "true");
}

/* ---- the request environment and the shared globals ---- */

TEST(an_environment_is_its_own_global_table)
{
    ASSERT_LUA("x = 1; return _G.x == 1 and _G._G == _G and getfenv(0) == _G "
               "and getfenv(1) == _G and getfenv() == _G");
    /* and the next one starts empty */
    ASSERT_LUA("return x == nil and rawget(_G, 'string') == nil and string ~= nil");
}

TEST(the_shared_globals_cannot_be_altered_from_an_environment)
{
    /* What one environment replaces or deletes is its own. */
    ASSERT_LUA("string = false; print = false; _G.pairs = 'mine'; mayfly = false; "
               "return string == false and pairs == 'mine'");
    ASSERT_LUA("return type(string.format) == 'function' and type(print) == 'function' "
               "and type(pairs) == 'function' and type(mayfly) == 'table'");
    /* The libraries are frozen. */
    ASSERT_REFUSED("string.format = nil", "assignment to 'format' in string refused");
    ASSERT_REFUSED("math.pi = 3", "in math refused");
    ASSERT_REFUSED("table.insert = nil", "in table refused");
    ASSERT_REFUSED("os.time = nil", "in os refused");
    ASSERT_REFUSED("coroutine.wrap = nil", "in coroutine refused");
    ASSERT_REFUSED("bit.band = nil", "in bit refused");
    ASSERT_REFUSED("mayfly.json = nil", "in mayfly refused");
    ASSERT_REFUSED("rawset(string, 'format', print)", "rawset refused");
    ASSERT_LUA("return type(string.format) == 'function' and math.pi > 3.14");
    /* The environment's metatable (the way to the shared globals) is protected. */
    ASSERT_LUA("return getmetatable(_G) == 'mayfly: request environment'");
    ASSERT_REFUSED("setmetatable(_G, nil)", "the metatable is protected");
    ASSERT_REFUSED("setmetatable(_G, {__index = {}})", "the metatable is protected");
}

TEST(the_string_metatable_is_read_only)
{
    ASSERT_LUA("return ('abc'):upper() == 'ABC' and getmetatable('').__index == string");
    ASSERT_REFUSED("getmetatable('').__index = {}", "in string metatable refused");
    ASSERT_REFUSED("getmetatable('').__index.upper = nil", "in string refused");
    ASSERT_LUA("return ('abc'):upper() == 'ABC'");
}

TEST(set_global_reaches_every_new_environment)
{
    lua_pushliteral(L, "shared value");
    mf_sandbox_set_global(L, "test_shared");
    ASSERT_LUA("return test_shared == 'shared value'");
    mf_sandbox_push_globals(L);
    lua_getfield(L, -1, "test_shared");
    ASSERT_EQ_STR(lua_tostring(L, -1), "shared value");
    lua_pop(L, 2);
    ASSERT_LUA("test_shared = 'mine'; return test_shared == 'mine'");
    ASSERT_LUA("return test_shared == 'shared value'");
    lua_pushnil(L);
    mf_sandbox_set_global(L, "test_shared");
}

TEST(the_idle_environment_keeps_nothing)
{
    lua_State *co = lua_newthread(L);
    mf_sandbox_enter_env(co);
    lua_pop(co, 1);
    mf_sandbox_leave_env(co);
    ASSERT_EQ_INT(luaL_loadstring(co, "x = 1"), 0);
    ASSERT_TRUE(lua_pcall(co, 0, 0, 0) != 0);
    ASSERT_TRUE(strstr(lua_tostring(co, -1), "in the idle environment refused") != NULL);
    lua_pop(L, 1);
}

/* ---- guarded base functions ---- */

TEST(getfenv_never_hands_out_a_host_environment)
{
    /* A C function's environment is the real _G: the caller gets its own. */
    ASSERT_LUA("return getfenv(print) == _G and getfenv(string.format) == _G");
    ASSERT_LUA("return getfenv(0) == _G");
    /* A Lua function of the host (with a frozen environment): the caller's own too. */
    ASSERT_EQ_INT(luaL_loadstring(L, "return 1"), 0);
    lua_newtable(L);
    mf_sandbox_freeze(L, -1, "host env");
    lua_setfenv(L, -3);
    lua_pop(L, 1);
    ASSERT_RETURNS(run_with("local f = ...; return getfenv(f) == _G", 1, 0), "true");
    /* LuaJIT writes some library functions in Lua; the sandbox rehomed them. */
    ASSERT_LUA("return getfenv(table.remove) == _G");
    /* A script's own function: its real environment. */
    ASSERT_LUA("local e = {}; local f = setfenv(function() end, e); return getfenv(f) == e");
    ASSERT_REFUSED("getfenv(50)", "invalid level");
}

TEST(setfenv_refuses_host_functions)
{
    ASSERT_REFUSED("setfenv(print, {})", "host functions have no environment");
    ASSERT_REFUSED("setfenv(table.remove, {})", "the function belongs to the host");
    ASSERT_EQ_INT(luaL_loadstring(L, "return 1"), 0);
    lua_newtable(L);
    mf_sandbox_freeze(L, -1, "host env");
    lua_setfenv(L, -3);
    lua_pop(L, 1);
    ASSERT_RAISES(run_with("local f = ...; setfenv(f, {})", 1, 0),
                  "the function belongs to the host");
    ASSERT_LUA("local t = {1, 2}; table.remove(t); return #t == 1");
    /* A script's own functions and its thread's environment are its to change. */
    ASSERT_LUA("local f = function() return y end; setfenv(f, {y = 7}); return f() == 7");
    ASSERT_LUA("local e = setmetatable({}, {__index = _G}); setfenv(0, e); "
               "return getfenv(0) == e");
}

TEST(load_takes_text_only_in_the_requests_environment)
{
    ASSERT_LUA("x = 5; return load('return x')() == 5 and loadstring('return x')() == 5");
    ASSERT_LUA("return load('return y', 'chunk', 't', {y = 3})() == 3");
    ASSERT_REFUSED("loadstring(string.dump(function() end))", "binary chunks cannot be loaded");
    ASSERT_REFUSED("load(string.dump(function() end))", "binary chunks cannot be loaded");
    ASSERT_REFUSED("load('return 1', 'c', 'b')", "binary chunks cannot be loaded");
    ASSERT_LUA("local f, err = load('return +'); return f == nil and type(err) == 'string'");
}

TEST(the_unsafe_libraries_are_gone)
{
    ASSERT_LUA("return io == nil and ffi == nil and jit == nil and package == nil "
               "and dofile == nil and loadfile == nil and module == nil and newproxy == nil");
    ASSERT_LUA("return os.execute == nil and os.exit == nil and os.remove == nil "
               "and os.rename == nil and os.tmpname == nil and os.setlocale == nil");
    ASSERT_LUA("return type(os.time()) == 'number' and type(os.clock()) == 'number' "
               "and type(os.date('%Y')) == 'string' and os.difftime(2, 1) == 1");
    ASSERT_REFUSED("collectgarbage()", "only collectgarbage('count')");
    ASSERT_REFUSED("collectgarbage('stop')", "only collectgarbage('count')");
    ASSERT_LUA("return collectgarbage('count') > 0");
}

TEST(a_hidden_thread_is_not_handed_out)
{
    ASSERT_RETURNS(run_with("return coroutine.running() == nil", 0, 1), "true");
    ASSERT_LUA("return type(coroutine.running()) == 'thread'");
    ASSERT_LUA("return type(coroutine.wrap(function() return coroutine.running() end)()) "
               "== 'thread'");
}

/* ---- the setmetatable host modules see ---- */

TEST(the_sealing_setmetatable_seals_a_metatable_on_first_use)
{
    mf_sandbox_push_sealing_setmetatable(L);
    ASSERT_RAISES(run_with("local smt = ...; local mt = {__index = {m = function() return 1 end}}; "
                           "local o = smt({}, mt); "
                           "assert(o.m() == 1 and getmetatable(o) == 'mayfly: host object'); "
                           "mt.__index.m = nil",
                           1, 0),
                  "in a host object's methods refused");
    /* A metatable that says what it is keeps its own __metatable. */
    mf_sandbox_push_sealing_setmetatable(L);
    ASSERT_RETURNS(run_with("local smt = ...; "
                            "return getmetatable(smt({}, {__metatable = 'mine'}))",
                            1, 0),
                   "mine");
    mf_sandbox_push_sealing_setmetatable(L);
    ASSERT_RAISES(run_with("local smt = ...; smt({}, string)", 1, 0),
                  "a read-only host table cannot be a metatable");
}

int main(void)
{
    mf_options_t o;
    char err[256];
    mf_log_setup(MF_LOG_ERROR, 0);
    if (mf_options_load(&o, 0, NULL, err, sizeof err) != 0 ||
        !(vm = mf_vm_new(&o, err, sizeof err))) {
        printf("setup: %s\n", err);
        return 1;
    }
    L = mf_vm_state(vm);

    RUN(freeze_pushes_a_proxy_and_is_frozen_tells_it_apart);
    RUN(a_frozen_table_reads_through);
    RUN(a_frozen_table_refuses_writes_at_every_depth);
    RUN(raw_and_library_writers_are_refused_too);
    RUN(a_frozen_tables_metatable_is_out_of_reach);
    RUN(iterating_a_frozen_table_sees_its_contents);
    RUN(keys_and_shared_tables_are_frozen_once);
    RUN(an_environment_is_its_own_global_table);
    RUN(the_shared_globals_cannot_be_altered_from_an_environment);
    RUN(the_string_metatable_is_read_only);
    RUN(set_global_reaches_every_new_environment);
    RUN(the_idle_environment_keeps_nothing);
    RUN(getfenv_never_hands_out_a_host_environment);
    RUN(setfenv_refuses_host_functions);
    RUN(load_takes_text_only_in_the_requests_environment);
    RUN(the_unsafe_libraries_are_gone);
    RUN(a_hidden_thread_is_not_handed_out);
    RUN(the_sealing_setmetatable_seals_a_metatable_on_first_use);
    mf_vm_free(vm);
    TEST_MAIN_END();
}
