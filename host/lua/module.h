/* The host modules a state is built with. The state (state.c) walks one table, defined by
 * lua/api/modules.c: lua/ knows the shape of an entry, never the modules themselves, so the
 * bindings of lua/api/ depend on lua/ and not the other way round (as nginx's core walks the
 * ngx_modules[] its build generates). */
#ifndef MF_LUA_MODULE_H
#define MF_LUA_MODULE_H

#include <lua.h>

typedef enum {
    MF_MODULE_REQUIRE, /* found by require(name); "mayfly.x" also as mayfly.x ("mayfly._x":
                          internal, reached only by stdlib modules) */
    MF_MODULE_GLOBAL,  /* a global of every environment (print) */
    MF_MODULE_FIELD,   /* a field of the mayfly table only (mayfly.constant) */
} mf_module_kind_t;

typedef struct {
    const char *name; /* "mayfly.json", "print", "constant" */
    mf_module_kind_t kind;
    int (*open)(lua_State *L); /* pushes the module's value, unfrozen: the state freezes it */
} mf_lua_module_t;

/* Ends with an entry whose name is NULL; opened in this order, before stdlib/'s modules. */
extern const mf_lua_module_t mf_lua_modules[];

#endif
