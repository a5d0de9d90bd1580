/* mayfly.env: what a replica knows of where it runs, read once at start. */
#include <stdlib.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/api/api.h"

static void set_from_env(lua_State *L, const char *field, const char *const *vars,
                         const char *fallback)
{
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            lua_pushstring(L, v);
            lua_setfield(L, -2, field);
            return;
        }
    }
    if (fallback) {
        lua_pushstring(L, fallback);
        lua_setfield(L, -2, field);
    }
}

int luaopen_mayfly_env(lua_State *L)
{
    static const char *const pod[] = {"POD_NAME", "HOSTNAME", NULL};
    static const char *const ns[] = {"POD_NAMESPACE", "NAMESPACE", NULL};
    static const char *const node[] = {"NODE_NAME", NULL};
    static const char *const ip[] = {"POD_IP", NULL};
    char host[256] = "";

    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    lua_createtable(L, 0, 6);
    set_from_env(L, "pod_name", pod, host[0] ? host : NULL);
    set_from_env(L, "namespace", ns, NULL);
    set_from_env(L, "node_name", node, NULL);
    set_from_env(L, "pod_ip", ip, NULL);
    lua_pushstring(L, host);
    lua_setfield(L, -2, "hostname");
    lua_pushliteral(L, MAYFLY_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
