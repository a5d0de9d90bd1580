#include "lua/json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua-cjson.h>

/* Shipped in the library but not declared by Debian's header. */
extern int luaopen_cjson_safe(lua_State *L);

static char cjson_module_key, cjson_safe_module_key, encode_key, decode_key;

void mf_json_open(lua_State *L)
{
    /* The module tables themselves are never handed to scripts: only instances made by new(),
     * so cjson.encode_keep_buffer and friends act on one request's instance. */
    lua_pushlightuserdata(L, &cjson_module_key);
    luaopen_cjson(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &cjson_safe_module_key);
    luaopen_cjson_safe(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    mf_json_push_new_instance(L, 0);
    lua_pushlightuserdata(L, &encode_key);
    lua_getfield(L, -2, "encode");
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &decode_key);
    lua_getfield(L, -2, "decode");
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}

void mf_json_push_encode(lua_State *L)
{
    lua_pushlightuserdata(L, &encode_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

void mf_json_push_decode(lua_State *L)
{
    lua_pushlightuserdata(L, &decode_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

void mf_json_push_new_instance(lua_State *L, int safe)
{
    lua_pushlightuserdata(L, safe ? &cjson_safe_module_key : &cjson_module_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "new");
    lua_remove(L, -2);
    lua_call(L, 0, 1);
}

int mf_json_encode(lua_State *L, int idx)
{
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(L) + idx + 1;
    mf_json_push_encode(L);
    lua_pushvalue(L, idx);
    return lua_pcall(L, 1, 1, 0) == 0 ? 0 : -1;
}

/* ---- numbers ----
 * lua-cjson converts every number through three functions of its fpconv.o. They are defined
 * here, in a file the host always links, so the linker resolves lua-cjson's calls to these and
 * leaves the archive's fpconv.o out. The answers are the archive's own, snprintf("%.<p>g") and
 * strtod: the numbers APIs mostly carry (integers, short decimals) are converted exactly without
 * libc's arbitrary-precision code, which cost ~2,000 instructions a number; anything else still
 * goes to libc. mayfly never sets a locale (scripts have no os.setlocale): the decimal point is
 * '.', as the archive's fpconv_init would find. */

void fpconv_init(void);
int fpconv_g_fmt(char *str, double num, int precision);
double fpconv_strtod(const char *nptr, char **endptr);

#define G_FMT_BUFSIZE 32 /* what lua-cjson leaves for one number (FPCONV_G_FMT_BUFSIZE) */
#define EXACT_INT 9007199254740992.0 /* 2^53: integers up to it are exact doubles */

static const double powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

void fpconv_init(void)
{
}

/* Writes v's digits ending just before end; returns where they begin. */
static char *digits_before(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* What "%.<precision>g" prints for num when that is plain digits: num an integer below
 * 10^precision, or a decimal in [1e-4, 10^precision) whose shortest form D that reads back as
 * num has at most precision significant digits. Such a D is what %g prints: num lies within
 * half an ulp (2^-53 relative) of D, far closer than half a step of precision digits (at least
 * 5e-15 relative), so rounding num to precision digits gives D, and %g writes an exponent only
 * below 1e-4 or from 10^precision. Returns the length written, or -1 for anything else. */
static int g_fmt_plain(char *str, double num, int precision)
{
    double a = fabs(num);
    if (precision < 1 || precision > 14 || !(a < powers_of_ten[precision])) /* NaN too */
        return -1;
    char buf[G_FMT_BUFSIZE], *end = buf + sizeof buf, *p;
    uint64_t whole = (uint64_t)a;
    if ((double)whole == a) {
        p = digits_before(end, whole);
    } else {
        if (a < 1e-4)
            return -1;
        uint64_t limit = (uint64_t)powers_of_ten[precision], m = 0;
        int k = 1;
        for (;; k++) {
            /* Scaling may round; the division back decides, and it is exact to the last bit:
             * m and 10^k are exact doubles and IEEE division rounds correctly. */
            double scaled = a * powers_of_ten[k];
            if (scaled >= EXACT_INT || k > 18)
                return -1;
            m = (uint64_t)(scaled + 0.5);
            if (m >= limit) /* more significant digits than precision */
                return -1;
            if ((double)m / powers_of_ten[k] == a)
                break;
        }
        while (m % 10 == 0) { /* %g keeps no trailing zero */
            m /= 10;
            k--;
        }
        p = digits_before(end, m);
        int n = (int)(end - p);
        if (n <= k) { /* below 1: "0." and the zeros before the digits */
            while (n < k) {
                *--p = '0';
                n++;
            }
            *--p = '.';
            *--p = '0';
        } else {
            memmove(p - 1, p, (size_t)(n - k));
            end[-k - 1] = '.';
            p--;
        }
    }
    if (signbit(num))
        *--p = '-';
    int len = (int)(end - p);
    memcpy(str, p, (size_t)len);
    str[len] = '\0';
    return len;
}

int fpconv_g_fmt(char *str, double num, int precision)
{
    int len = g_fmt_plain(str, num, precision);
    if (len >= 0)
        return len;
    char fmt[8];
    snprintf(fmt, sizeof fmt, "%%.%dg", precision);
    return snprintf(str, G_FMT_BUFSIZE, fmt, num);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads the digits at *p on into m (up to 19 significant ones: no more fit) and counts the
 * significant ones; returns how many digits there were. */
static int read_digits(const char **p, uint64_t *m, int *significant)
{
    const char *first = *p;
    for (; is_digit(**p); (*p)++) {
        if (*m || **p != '0')
            (*significant)++;
        if (*significant <= 19)
            *m = *m * 10 + (uint64_t)(**p - '0');
    }
    return (int)(*p - first);
}

/* strtod for a number as JSON writes it, -?digits(.digits)?([eE][+-]?digits)?, with at most
 * 19 significant digits making at most 2^53 and a decimal exponent within 22 of it: the digits
 * and 10^|exponent| are exact doubles, so one multiplication or division rounds correctly (the
 * fast path of Clinger's algorithm). Anything else (longer, hex, inf, a number strtod would
 * read further) goes to strtod. */
double fpconv_strtod(const char *nptr, char **endptr)
{
    const char *p = nptr;
    int negative = *p == '-';
    p += negative;
    uint64_t m = 0;
    int significant = 0, fraction = 0, exponent = 0;
    if (!read_digits(&p, &m, &significant))
        return strtod(nptr, endptr);
    if (*p == '.') {
        p++;
        if (!(fraction = read_digits(&p, &m, &significant)))
            return strtod(nptr, endptr);
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        int exponent_negative = *p == '-';
        p += *p == '-' || *p == '+';
        const char *first = p;
        for (; is_digit(*p); p++)
            if (exponent < 10000)
                exponent = exponent * 10 + (*p - '0');
        if (p == first)
            return strtod(nptr, endptr);
        if (exponent_negative)
            exponent = -exponent;
    }
    exponent -= fraction;
    char next = *p | 0x20;
    if (significant > 19 || m > ((uint64_t)1 << 53) || exponent < -22 || exponent > 22 ||
        (next >= 'a' && next <= 'z') || *p == '.')
        return strtod(nptr, endptr);
    double v = (double)m;
    v = exponent < 0 ? v / powers_of_ten[-exponent] : v * powers_of_ten[exponent];
    *endptr = (char *)p;
    return negative ? -v : v;
}
