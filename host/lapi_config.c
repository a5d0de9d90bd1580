/* The raw config values behind the `config` module (stdlib/mayfly/config.lua): the config
 * folder as a ConfigMap mounts it (one file per key, the value is the text with one trailing
 * newline dropped; config.json merged underneath) and MAYFLY_CFG_<NAME> overrides. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "file.h"
#include "lapi.h"
#include "vm.h"

#define MAX_CONFIG_FILE (1024 * 1024)

extern char **environ;

static void load_folder(lua_State *L, const char *dir, int values)
{
    char path[4096];
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    /* config.json first: files of their own override its keys. */
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t len;
    char *json, why[256];
    if (!mf_file_read(path, MAX_CONFIG_FILE, &json, &len, why, sizeof why)) {
        mf_json_push_decode(L);
        lua_pushlstring(L, json, len);
        free(json);
        if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1)) {
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, values);
            }
        }
        lua_pop(L, 1);
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "config.json"))
            continue; /* ..data, ..2024_... and dotfiles are the volume's plumbing */
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text;
        if (mf_file_read(path, MAX_CONFIG_FILE, &text, &len, why, sizeof why))
            continue; /* folders and unreadable entries are not keys */
        if (len && text[len - 1] == '\n')
            len--;
        lua_pushstring(L, e->d_name);
        lua_pushlstring(L, text, len);
        free(text);
        lua_rawset(L, values);
    }
    closedir(d);
}

int luaopen_mayfly_config_values(lua_State *L)
{
    const mf_options_t *o = mf_vm_options(mf_vm_of(L));
    static const char prefix[] = "MAYFLY_CFG_";

    lua_createtable(L, 0, 2);
    lua_newtable(L);
    if (o->config_dir)
        load_folder(L, o->config_dir, lua_gettop(L));
    lua_setfield(L, -2, "values");
    /* Overrides are keyed by the variable's suffix; config.lua normalises names to match. */
    lua_newtable(L);
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, prefix, sizeof prefix - 1) != 0 || eq == *e + sizeof prefix - 1)
            continue;
        lua_pushlstring(L, *e + sizeof prefix - 1, (size_t)(eq - *e) - (sizeof prefix - 1));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "overrides");
    return 1;
}
