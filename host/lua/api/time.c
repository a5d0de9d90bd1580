/* mayfly.time: the clock and the dates of HTTP (RFC 9110, 5.6.7).
 * now(): the Unix time in seconds, with a fraction. http_date([t]): t (default now) as an
 * IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT". parse_http_date(s): the Unix time of an
 * IMF-fixdate, or of the obsolete RFC 850 and asctime forms recipients must still read; nil,
 * err for anything else. Dates are computed here, not with gmtime/strftime, so neither the
 * time zone nor the locale of the process can change them. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "lua/api/api.h"

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_names_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The years an IMF-fixdate can write: 0001 to 9999. */
#define FIRST_TIME (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define LAST_TIME 253402300799LL    /* 9999-12-31T23:59:59Z */

/* ---- the proleptic Gregorian calendar, in days since 1970-01-01 ---- */

/* Years counted from March, so the leap day ends its year; 146097 days in 400 years. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- now, http_date ---- */

static int l_time_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

static int l_time_http_date(lua_State *L)
{
    double t;
    if (lua_isnoneornil(L, 1)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        t = (double)ts.tv_sec;
    } else if (lua_type(L, 1) == LUA_TNUMBER) {
        t = lua_tonumber(L, 1);
    } else {
        return luaL_error(L, "mayfly.time.http_date: expected a Unix time (a number), got %s",
                          luaL_typename(L, 1));
    }
    /* (NaN fails both comparisons) */
    if (!(t >= (double)FIRST_TIME && t < (double)LAST_TIME + 1))
        return luaL_error(L, "mayfly.time.http_date: %f is outside the years 1 to 9999", t);
    int64_t secs = (int64_t)floor(t);
    int64_t days = floor_div(secs, 86400), rest = secs - days * 86400, y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    char out[32];
    snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             day_names[(int)((days % 7 + 11) % 7)], d, month_names[m - 1], (int)y,
             (int)(rest / 3600), (int)(rest / 60 % 60), (int)(rest % 60));
    lua_pushstring(L, out);
    return 1;
}

/* ---- parse_http_date ---- */

typedef struct {
    const char *p, *end;
} cursor_t;

static int take(cursor_t *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n))
        return 0;
    c->p += n;
    return 1;
}

/* Exactly n digits. */
static int digits(cursor_t *c, int n, int *out)
{
    int v = 0;
    if (c->end - c->p < n)
        return 0;
    for (int i = 0; i < n; i++) {
        if (c->p[i] < '0' || c->p[i] > '9')
            return 0;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 1;
}

static int month(cursor_t *c, int *m)
{
    for (int i = 0; i < 12; i++)
        if (take(c, month_names[i])) {
            *m = i + 1;
            return 1;
        }
    return 0;
}

static int time_of_day(cursor_t *c, int *h, int *mi, int *s)
{
    return digits(c, 2, h) && take(c, ":") && digits(c, 2, mi) && take(c, ":") && digits(c, 2, s);
}

/* A two-digit year of RFC 850 is the most recent year with those digits that is not more than
 * 50 years ahead of this one (RFC 9110, 5.6.7). */
static int64_t full_year(int yy)
{
    int64_t y, now_days = floor_div((int64_t)time(NULL), 86400);
    int m, d;
    civil_from_days(now_days, &y, &m, &d);
    int64_t candidate = y - y % 100 + yy;
    if (candidate > y + 50)
        candidate -= 100;
    return candidate;
}

/* 0 with *out, or -1: not one of the three forms, or no such date. The day name is read but not
 * checked against the date, as most recipients do. */
static int parse_http_date(const char *s, size_t len, int64_t *out)
{
    cursor_t c = {s, s + len};
    int m = 0, d = 0, h = 0, mi = 0, sec = 0, yy, day = -1;
    int64_t y = 0;
    for (int i = 0; i < 7 && day < 0; i++) {
        cursor_t at = c;
        if (take(&at, day_names_long[i]) && take(&at, ", ")) {
            day = i; /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
            c = at;
            if (!(digits(&c, 2, &d) && take(&c, "-") && month(&c, &m) && take(&c, "-") &&
                  digits(&c, 2, &yy) && take(&c, " ") && time_of_day(&c, &h, &mi, &sec) &&
                  take(&c, " GMT")))
                return -1;
            y = full_year(yy);
        } else if (take(&c, day_names[i])) {
            day = i;
            int yyyy;
            if (take(&c, ", ")) { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
                if (!(digits(&c, 2, &d) && take(&c, " ") && month(&c, &m) && take(&c, " ") &&
                      digits(&c, 4, &yyyy) && take(&c, " ") && time_of_day(&c, &h, &mi, &sec) &&
                      take(&c, " GMT")))
                    return -1;
            } else { /* asctime: Sun Nov  6 08:49:37 1994 */
                if (!(take(&c, " ") && month(&c, &m) && take(&c, " ")))
                    return -1;
                if (take(&c, " ")) {
                    if (!digits(&c, 1, &d))
                        return -1;
                } else if (!digits(&c, 2, &d)) {
                    return -1;
                }
                if (!(take(&c, " ") && time_of_day(&c, &h, &mi, &sec) && take(&c, " ") &&
                      digits(&c, 4, &yyyy)))
                    return -1;
            }
            y = yyyy;
        }
    }
    /* A leap second (60) is allowed by the grammar; it counts as the next minute's first. */
    if (day < 0 || c.p != c.end || y < 1 || d < 1 || d > days_in_month(y, m) || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    *out = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

static int l_time_parse_http_date(lua_State *L)
{
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "mayfly.time.parse_http_date: expected a string, got %s",
                          luaL_typename(L, 1));
    const char *s = lua_tolstring(L, 1, &len);
    int64_t t;
    if (parse_http_date(s, len, &t)) {
        lua_pushnil(L);
        lua_pushliteral(L, "not an HTTP date (IMF-fixdate, RFC 850 or asctime)");
        return 2;
    }
    lua_pushnumber(L, (double)t);
    return 1;
}

int luaopen_mayfly_time(lua_State *L)
{
    static const luaL_Reg fns[] = {{"now", l_time_now},
                                   {"http_date", l_time_http_date},
                                   {"parse_http_date", l_time_parse_http_date},
                                   {NULL, NULL}};
    lua_createtable(L, 0, 3);
    luaL_register(L, NULL, fns);
    return 1;
}
