/* math.random and math.randomseed: a sequence per run (mf_rng_t), seeded unpredictably on first
 * use, so one request's randomseed makes its own sequence repeatable whatever other runs do
 * meanwhile. xoshiro256**. */
#include <math.h>
#include <stdint.h>

#include <lauxlib.h>

#include "base/random.h"
#include "lua/vm_private.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(mf_rng_t *g)
{
    uint64_t *s = g->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Spreads one 64-bit seed over the four words (splitmix64), never all zero. */
static void rng_seed(mf_rng_t *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        g->s[i] = z ^ (z >> 31);
    }
    g->seeded = 1;
}

/* LuaJIT's semantics: random() in [0, 1), random(m) = floor(d * m) + 1, random(m, n) =
 * floor(d * (n - m + 1)) + m, without an interval check. */
static int l_math_random(lua_State *L)
{
    mf_rng_t *g = mf_vm_of(L)->rng;
    if (!g->seeded)
        rng_seed(g, mf_random_u64());
    double d = (double)(rng_next(g) >> 11) * (1.0 / 9007199254740992.0);
    int n = lua_gettop(L);
    if (n >= 1) {
        double m = luaL_checknumber(L, 1);
        if (n == 1)
            d = floor(d * m) + 1.0;
        else
            d = floor(d * (luaL_checknumber(L, 2) - m + 1.0)) + m;
    }
    lua_pushnumber(L, d);
    return 1;
}

/* math.randomseed(x) makes only the current run's sequence repeatable. */
static int l_math_randomseed(lua_State *L)
{
    union {
        double d;
        uint64_t u;
    } x = {.d = luaL_checknumber(L, 1)};
    rng_seed(mf_vm_of(L)->rng, x.u);
    return 0;
}

/* Replaces math.random and math.randomseed before the sandbox freezes math. */
void mf_vm__open_random(lua_State *L)
{
    lua_getfield(L, LUA_GLOBALSINDEX, "math");
    lua_pushcfunction(L, l_math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, l_math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
}
