/* Redis replies to Lua (lua/api/redis.c): the input is fed to hiredis's reply reader as if it came
 * from the server, and every reply tree the reader builds is converted with
 * mf_redis_push_reply, as redis.call and redis.pipeline do (top level and nested). Huge arrays
 * are skipped (resp.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua/api/api.h"
#include "resp.h"

typedef struct {
    const redisReply *reply;
    int top;
} conv_t;

static int convert(lua_State *L)
{
    conv_t *c = lua_touserdata(L, 1);
    mf_redis_push_reply(L, c->reply, c->top);
    return 0;
}

/* Converts every complete reply the reader holds. Returns -1 on a protocol error. */
static int drain(lua_State *L, redisReader *rd)
{
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(rd, &reply) != REDIS_OK)
            return -1;
        if (!reply)
            return 0;
        for (int top = 0; top <= 1; top++) {
            conv_t c = {reply, top};
            if (lua_cpcall(L, convert, &c) != 0)
                lua_pop(L, 1);
            lua_settop(L, 0);
        }
        freeReplyObject(reply);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    if (!L)
        L = luaL_newstate();
    if (fuzz_resp_huge_array(data, size))
        return 0;
    redisReader *rd = redisReaderCreate();
    /* Fed in two pieces, as replies arrive from a socket. */
    size_t half = size / 2;
    if (redisReaderFeed(rd, (const char *)data, half) == REDIS_OK && drain(L, rd) == 0 &&
        redisReaderFeed(rd, (const char *)data + half, size - half) == REDIS_OK)
        drain(L, rd);
    redisReaderFree(rd);
    return 0;
}
