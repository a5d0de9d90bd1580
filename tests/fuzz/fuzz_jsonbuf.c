/* JSON escaping (jsonbuf.c), which every log line and error body goes through: the input as a
 * string value (any bytes: invalid UTF-8, control bytes, quotes) and as a key. The oracle is
 * lua-cjson: the object must decode, and when the input is valid UTF-8 the decoded
 * string must equal it; otherwise every byte of the output must still be valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <sanitizer/lsan_interface.h>

#include "base/jsonbuf.h"

static lua_State *state(void)
{
    static lua_State *L;
    if (!L) {
        /* cjson's buffers are referenced from LuaJIT's heap, which LeakSanitizer does not scan. */
        __lsan_disable();
        L = luaL_newstate();
        luaopen_cjson(L);
        lua_getfield(L, -1, "decode");
        lua_setglobal(L, "decode");
        lua_settop(L, 0);
        __lsan_enable();
    }
    return L;
}

static int valid_utf8(const unsigned char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = mf_utf8_seq(s + i, len - i)))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = state();
    char *key = malloc(size + 1);
    size_t len;
    mf_jsonbuf_t j;
    memcpy(key, data, size);
    key[size] = '\0';

    mf_jsonbuf_open(&j);
    mf_jsonbuf_str(&j, "v", (const char *)data, size);
    mf_jsonbuf_cstr(&j, key, "k");
    mf_jsonbuf_num(&j, "n", (double)size);
    char *out = mf_jsonbuf_close(&j, &len);
    if (strlen(out) != len || !valid_utf8((const unsigned char *)out, len))
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20)
            abort();

    lua_getglobal(L, "decode");
    lua_pushlstring(L, out, len);
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1))
        abort();
    lua_getfield(L, -1, "v");
    size_t got_len;
    const char *got = lua_tolstring(L, -1, &got_len);
    if (!got)
        abort();
    if (strcmp(key, "v") && valid_utf8(data, size) && (got_len != size || memcmp(got, data, size)))
        abort();
    lua_settop(L, 0);
    free(out);
    free(key);
    return 0;
}
