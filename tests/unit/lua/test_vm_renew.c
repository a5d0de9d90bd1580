/* A reload starts from nothing: mf_vm_renew builds the worker's state anew, so whatever a run
 * left in the old one (through a hole no test knows yet) does not outlive the version, and the
 * old state's memory is given back. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <lua.h>

#include "observe/log.h"
#include "base/options.h"
#include "app/scripts_load.h"
#include "test.h"
#include "lua/vm.h"

static char dir[] = "/tmp/mayfly-renew-XXXXXX";

static mf_scripts_t *load_scripts(const mf_options_t *o)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/hello.lua", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs("return { [\"GET /hello\"] = function() return 'hi' end }\n", f);
    fclose(f);
    mf_scripts_t *s = NULL;
    if (mf_scripts_load(dir, o, &s, err, sizeof err))
        printf("  mf_scripts_load: %s\n", err);
    return s;
}

TEST(a_renewed_state_keeps_nothing_of_the_old_one)
{
    mf_options_t o;
    char err[256];
    ASSERT_EQ_INT(mf_options_load(&o, 0, NULL, err, sizeof err), 0);
    mf_scripts_t *s = load_scripts(&o);
    ASSERT_TRUE(s != NULL);
    mf_vm_t *vm = mf_vm_new(&o, err, sizeof err);
    ASSERT_TRUE(vm != NULL);
    ASSERT_EQ_INT(mf_vm_compile(vm, s, err, sizeof err), 0);

    /* What a hole in the sandbox could reach: the registry, the real globals. */
    lua_State *old = mf_vm_state(vm);
    lua_pushliteral(old, "planted");
    lua_setfield(old, LUA_REGISTRYINDEX, "mayfly_test_planted");
    lua_pushliteral(old, "planted");
    lua_setfield(old, LUA_GLOBALSINDEX, "mayfly_test_planted");

    ASSERT_EQ_INT(mf_vm_renew(vm, s, NULL, err, sizeof err), 0);
    lua_State *L = mf_vm_state(vm);
    lua_getfield(L, LUA_REGISTRYINDEX, "mayfly_test_planted");
    ASSERT_TRUE(lua_isnil(L, -1));
    lua_getfield(L, LUA_GLOBALSINDEX, "mayfly_test_planted");
    ASSERT_TRUE(lua_isnil(L, -1));
    lua_settop(L, 0);

    /* Renewed many times, the vm counts one state's memory, not the sum of them. */
    size_t one = mf_vm_memory(vm);
    for (int i = 0; i < 50; i++)
        ASSERT_EQ_INT(mf_vm_renew(vm, s, NULL, err, sizeof err), 0);
    size_t after = mf_vm_memory(vm);
    if (after > one * 2)
        printf("  memory grew from %zu to %zu bytes over 50 renewals\n", one, after);
    ASSERT_TRUE(after <= one * 2);
    mf_vm_free(vm);
    mf_scripts_release(s);
}

int main(void)
{
    mf_log_setup(MF_LOG_ERROR, 0);
    if (!mkdtemp(dir))
        return 1;
    RUN(a_renewed_state_keeps_nothing_of_the_old_one);
    char path[128];
    snprintf(path, sizeof path, "%s/hello.lua", dir);
    unlink(path);
    rmdir(dir);
    TEST_MAIN_END();
}
