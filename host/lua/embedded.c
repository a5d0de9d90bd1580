#include "lua/embedded.h"

#include <string.h>

const mf_embedded_lua_t *mf_embedded_lua_find(const mf_embedded_lua_t *list, const char *module)
{
    for (; list->module; list++)
        if (!strcmp(list->module, module))
            return list;
    return NULL;
}
