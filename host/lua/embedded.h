/* Lua code embedded into the binary at build time (cmake/embed_lua.cmake). */
#ifndef MF_EMBEDDED_LUA_H
#define MF_EMBEDDED_LUA_H

#include <stddef.h>

typedef struct {
    const char *module;    /* "mayfly.config" */
    const char *chunkname; /* "@stdlib/mayfly/config.lua" */
    const char *source;
    size_t len;
} mf_embedded_lua_t;

/* Each ends with an entry whose module is NULL. */
extern const mf_embedded_lua_t mf_stdlib_modules[]; /* stdlib/: modules scripts require */
extern const mf_embedded_lua_t mf_host_lua[];       /* host/lua/: the host's own tools */

/* The entry of list named module, or NULL. */
const mf_embedded_lua_t *mf_embedded_lua_find(const mf_embedded_lua_t *list, const char *module);

#endif
