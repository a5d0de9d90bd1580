/* mayfly.metrics: counters, gauges and histograms declared by scripts and exported with the
 * host's own metrics. Declarations register when a version loads (every file's top level runs
 * once then) or in hooks; a request finds them, so no request can leave a name in the registry
 * for another. A file's chunk runs every request, so a declaration is a lookup in this state's
 * cache after the first; label sets are cached per metric the same way, and updates write the
 * calling worker's shard without locks. */
#include <math.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/api/api.h"
#include "lua/binding.h"
#include "observe/metrics.h"

typedef struct {
    mf_metric_t *m;
    int cached; /* entries in the label-set cache (the userdata's environment) */
} metric_ud_t;

static const char *const mt_names[] = {"mayfly.metrics.counter", "mayfly.metrics.gauge",
                                       "mayfly.metrics.histogram"};

/* The label set cache stops growing here: values longer than a label keeps could otherwise
 * make new keys for one series without end. */
#define MAX_CACHED (4 * MF_METRICS_MAX_SERIES)

/* ---- declaration ---- */

/* Reads the array at idx into names (strings anchored by the table). Returns the count. */
static int read_labels(lua_State *L, int idx, const char **names) /* may raise */
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    int n = (int)lua_objlen(L, idx);
    if (n > MF_METRICS_MAX_LABELS)
        luaL_error(L, "mayfly.metrics: at most %d labels", MF_METRICS_MAX_LABELS);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "mayfly.metrics: label names are strings (label %d is a %s)", i + 1,
                       luaL_typename(L, -1));
        names[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return n;
}

static int read_buckets(lua_State *L, int idx, double *b) /* may raise */
{
    if (lua_isnoneornil(L, idx))
        return -1;
    luaL_checktype(L, idx, LUA_TTABLE);
    int n = (int)lua_objlen(L, idx);
    if (n < 1 || n > MF_METRICS_MAX_BUCKETS)
        luaL_error(L, "mayfly.metrics: 1 to %d buckets", MF_METRICS_MAX_BUCKETS);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "mayfly.metrics: bucket bounds are numbers");
        b[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return n;
}

/* counter/gauge/histogram(name, help, labels[, buckets]): upvalue 1 is this state's cache of
 * declared metrics by name, upvalue 2 the kind. */
static int declare(lua_State *L)
{
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    const char *name = luaL_checkstring(L, 1);
    const char *help = luaL_checkstring(L, 2);
    const char *labels[MF_METRICS_MAX_LABELS];
    double buckets[MF_METRICS_MAX_BUCKETS];
    int nlabels = read_labels(L, 3, labels);
    int nbuckets = kind == MF_METRIC_HISTOGRAM ? read_buckets(L, 4, buckets) : -1;
    const double *b = nbuckets > 0 ? buckets : NULL;
    char err[512];
    mf_metric_t *m;

    lua_pushvalue(L, 1);
    lua_rawget(L, lua_upvalueindex(1));
    metric_ud_t *ud = lua_touserdata(L, -1);
    if (ud && mf_metric_same(ud->m, kind, help, labels, nlabels, b, nbuckets))
        return 1;
    /* While a version loads or a hook runs a declaration registers the metric; anywhere else
     * (a request, a constant computed in one) it may only find one. */
    int may_declare = mf_vm_may_declare(mf_vm_of(L));
    if ((may_declare ? mf_metrics_declare : mf_metrics_find)(kind, name, help, labels, nlabels, b,
                                                             nbuckets, &m, err, sizeof err))
        return luaL_error(L, "mayfly.metrics: %s", err);
    ud = lua_newuserdata(L, sizeof *ud);
    ud->m = m;
    ud->cached = 0;
    luaL_getmetatable(L, mt_names[kind]);
    lua_setmetatable(L, -2);
    lua_newtable(L);
    lua_setfenv(L, -2);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, lua_upvalueindex(1));
    return 1;
}

/* ---- updates ---- */

/* The series of the label table at idx: every declared label given (a string or a number),
 * no other. Returns the index, or -1 when the metric has no room for another label set. */
static int series_of(lua_State *L, metric_ud_t *ud, int idx) /* may raise */
{
    mf_metric_t *m = ud->m;
    int n = mf_metric_nlabels(m);
    if (n == 0) {
        if (!lua_isnoneornil(L, idx)) {
            luaL_checktype(L, idx, LUA_TTABLE);
            lua_pushnil(L);
            if (lua_next(L, idx))
                luaL_error(L, "mayfly.metrics: %s has no labels", mf_metric_name(m));
        }
        return 0;
    }
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "mayfly.metrics: %s needs its labels (a table)", mf_metric_name(m));
    int top = lua_gettop(L);
    const char *values[MF_METRICS_MAX_LABELS];
    size_t lens[MF_METRICS_MAX_LABELS];
    lua_checkstack(L, 2 * n + 8);
    for (int i = 0; i < n; i++) { /* the values stay on the stack, at top + 1 + i */
        lua_getfield(L, idx, mf_metric_label(m, i));
        int t = lua_type(L, -1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            luaL_error(L, "mayfly.metrics: %s: label '%s' is %s (a string or number is needed)",
                       mf_metric_name(m), mf_metric_label(m, i),
                       t == LUA_TNIL ? "missing" : luaL_typename(L, -1));
        values[i] = lua_tolstring(L, -1, &lens[i]);
    }
    int count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
    }
    if (count != n)
        luaL_error(L, "mayfly.metrics: %s takes exactly the labels it was declared with",
                   mf_metric_name(m));
    /* The cache key: length-prefixed values, so that no two label sets share one. */
    for (int i = 0; i < n; i++) {
        lua_pushfstring(L, "%d:", (int)lens[i]);
        lua_pushvalue(L, top + 1 + i);
    }
    lua_concat(L, 2 * n);
    lua_getfenv(L, 1);
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    int series;
    if (lua_isnumber(L, -1)) {
        series = (int)lua_tointeger(L, -1);
    } else {
        series = mf_metric_series(m, values, lens);
        if (series >= 0 && ud->cached < MAX_CACHED) {
            lua_pushvalue(L, -3);
            lua_pushinteger(L, series);
            lua_rawset(L, -4);
            ud->cached++;
        }
    }
    lua_settop(L, top);
    return series;
}

static double check_value(lua_State *L, int idx, int nonnegative) /* may raise */
{
    double v = luaL_checknumber(L, idx);
    if (!isfinite(v) || (nonnegative && v < 0))
        luaL_argerror(L, idx, nonnegative ? "a finite number >= 0" : "a finite number");
    return v;
}

/* An update returns nothing: whether its label set was kept depends on what other requests
 * counted, which no request may learn. A dropped one is counted for the operators. */
static int done(lua_State *L, mf_metric_t *m, int series)
{
    (void)L;
    if (series < 0)
        mf_metric_dropped(m);
    return 0;
}

static int l_counter_inc(lua_State *L)
{
    metric_ud_t *ud = luaL_checkudata(L, 1, mt_names[MF_METRIC_COUNTER]);
    double v = lua_isnoneornil(L, 2) ? 1 : check_value(L, 2, 1);
    int series = series_of(L, ud, 3);
    if (series >= 0)
        mf_metric_add(mf_metrics_shard(), ud->m, series, v);
    return done(L, ud->m, series);
}

static int gauge_update(lua_State *L, double sign, int set)
{
    metric_ud_t *ud = luaL_checkudata(L, 1, mt_names[MF_METRIC_GAUGE]);
    double v = set ? check_value(L, 2, 0) : lua_isnoneornil(L, 2) ? 1 : check_value(L, 2, 0);
    int series = series_of(L, ud, 3);
    if (series >= 0 && set)
        mf_metric_gauge_set(ud->m, series, v);
    else if (series >= 0)
        mf_metric_gauge_add(ud->m, series, sign * v);
    return done(L, ud->m, series);
}

static int l_gauge_set(lua_State *L)
{
    return gauge_update(L, 1, 1);
}
static int l_gauge_inc(lua_State *L)
{
    return gauge_update(L, 1, 0);
}
static int l_gauge_dec(lua_State *L)
{
    return gauge_update(L, -1, 0);
}

static int l_histogram_observe(lua_State *L)
{
    metric_ud_t *ud = luaL_checkudata(L, 1, mt_names[MF_METRIC_HISTOGRAM]);
    double v = check_value(L, 2, 0);
    int series = series_of(L, ud, 3);
    if (series >= 0)
        mf_metric_observe(mf_metrics_shard(), ud->m, series, v);
    return done(L, ud->m, series);
}

static int l_metric_tostring(lua_State *L)
{
    metric_ud_t *ud = lua_touserdata(L, 1);
    lua_pushfstring(L, "mayfly.metrics: %s", mf_metric_name(ud->m));
    return 1;
}

int luaopen_mayfly_metrics(lua_State *L)
{
    static const luaL_Reg counter[] = {{"inc", l_counter_inc}, {NULL, NULL}};
    static const luaL_Reg gauge[] = {
        {"set", l_gauge_set}, {"inc", l_gauge_inc}, {"dec", l_gauge_dec}, {NULL, NULL}};
    static const luaL_Reg histogram[] = {{"observe", l_histogram_observe}, {NULL, NULL}};
    static const luaL_Reg *const methods[] = {counter, gauge, histogram};
    static const char *const fns[] = {"counter", "gauge", "histogram"};

    for (int kind = 0; kind < 3; kind++) {
        luaL_newmetatable(L, mt_names[kind]);
        lua_newtable(L);
        luaL_register(L, NULL, methods[kind]);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_metric_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "mayfly: metric");
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, 3);
    lua_newtable(L); /* the state's declared metrics, by name */
    for (int kind = 0; kind < 3; kind++) {
        lua_pushvalue(L, -1);
        lua_pushinteger(L, kind);
        lua_pushcclosure(L, declare, 2);
        lua_setfield(L, -3, fns[kind]);
    }
    lua_pop(L, 1);
    return 1;
}
