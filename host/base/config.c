#include "base/config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/hash.h"

#define MAX_CONFIG_FILE (1024 * 1024)

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const mf_config_entry_t *)a)->key, ((const mf_config_entry_t *)b)->key);
}

/* config.json must decode to an object: checked here, in a state of its own, so that a bad file
 * never reaches a worker. */
static int check_json(const char *json, size_t len, char *err, size_t errlen)
{
    lua_State *L = luaL_newstate();
    int rc = -1;
    if (!L) {
        snprintf(err, errlen, "config.json: cannot create a Lua state");
        return -1;
    }
    luaopen_cjson(L);
    lua_getfield(L, -1, "decode");
    lua_pushlstring(L, json, len);
    if (lua_pcall(L, 1, 1, 0) != 0)
        snprintf(err, errlen, "config.json: %s", lua_tostring(L, -1));
    else if (!lua_istable(L, -1))
        snprintf(err, errlen, "config.json: expected a JSON object");
    else
        rc = 0;
    lua_close(L);
    return rc;
}

static void compute_version(mf_config_t *c)
{
    uint64_t h = MF_HASH_INIT;
    for (int i = 0; i < c->nentries; i++) {
        h = mf_hash(h, c->entries[i].key, strlen(c->entries[i].key) + 1);
        h = mf_hash(h, c->entries[i].value, c->entries[i].len);
    }
    h = mf_hash(h, "config.json", 12);
    if (c->json)
        h = mf_hash(h, c->json, c->json_len);
    snprintf(c->version, sizeof c->version, "%016llx", (unsigned long long)h);
}

int mf_config_load(const char *dir, mf_config_t **out, char *err, size_t errlen)
{
    mf_config_t *c = mf_xcalloc(1, sizeof *c);
    char *snap = NULL;
    DIR *d = NULL;
    int cap = 0;

    atomic_init(&c->refs, 1);
    if (!dir)
        goto done;
    snap = mf_file_snapshot_dir(dir);
    d = opendir(snap);
    if (!d) {
        snprintf(err, errlen, "config folder %s: %s", dir, strerror(errno));
        goto fail;
    }
    for (struct dirent *e; (e = readdir(d));) {
        char path[4096], why[256], *text;
        size_t len;
        if (e->d_name[0] == '.')
            continue; /* ..data, ..2024_01_01... and dotfiles are the volume's plumbing */
        snprintf(path, sizeof path, "%s/%s", snap, e->d_name);
        if (mf_file_read(path, MAX_CONFIG_FILE, &text, &len, why, sizeof why))
            continue; /* folders and unreadable entries are not keys */
        if (!strcmp(e->d_name, "config.json")) {
            c->json = text;
            c->json_len = len;
            continue;
        }
        if (len && text[len - 1] == '\n')
            text[--len] = '\0';
        if (c->nentries == cap) {
            cap = cap ? cap * 2 : 16;
            c->entries = mf_xrealloc(c->entries, (size_t)cap * sizeof *c->entries);
        }
        c->entries[c->nentries++] = (mf_config_entry_t){mf_xstrdup(e->d_name), text, len};
    }
    if (c->entries)
        qsort(c->entries, (size_t)c->nentries, sizeof *c->entries, cmp_entries);
    if (c->json && check_json(c->json, c->json_len, err, errlen))
        goto fail;
done:
    compute_version(c);
    if (d)
        closedir(d);
    free(snap);
    *out = c;
    return 0;
fail:
    if (d)
        closedir(d);
    free(snap);
    mf_config_release(c);
    return -1;
}

void mf_config_retain(mf_config_t *c)
{
    if (c)
        atomic_fetch_add(&c->refs, 1);
}

void mf_config_release(mf_config_t *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (int i = 0; i < c->nentries; i++) {
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    free(c->json);
    free(c);
}
