/* mayfly._jwks: the JWKS documents mayfly.jwt fetched, kept by the process per URL, for every
 * request of every worker, and who fetches next. The fetch itself is Lua's (stdlib's jwt.lua,
 * through mayfly.http, in the run that needs the document); this file decides which run that
 * is, so a worker's requests do not each fetch, and lets the others wait for it:
 *
 *   get(url, known_gen)       -> gen, due, body  (gen 0: no document; body only when gen is not
 *                                known_gen; due: no document, or past its max-age)
 *   claim(url, why, known_gen, hold_s) -> token, or nil and "busy" (a fetch is under way),
 *                                "later" (one was tried too recently) or "changed" (the document
 *                                is no longer the one known_gen names, or is fresh: look again)
 *   store(url, token, body, max_age_s) -> gen;   release(url, token): the claim's fetch failed
 *   wait(url)                 -> true when the fetch under way ended (or none was), false when
 *                                the wait ran out; nil at once when this call cannot wait (not a
 *                                handler's run: the caller fetches for itself)
 *
 * why is "due" (no document, or past its max-age) or "kid" (a token's key is not in it). One
 * claim holds per URL at a time, for hold_s at most (a run that dies holding one blocks no one
 * for longer); fetches start at least MIN_GAP_NS apart (NO_DOC_GAP_NS while there is no
 * document). Only the document text is shared: each state parses it itself (jwt.lua keeps what
 * it parsed per document generation).
 *
 * A waiting run is woken from the thread whose fetch ended, through its own loop's posted work,
 * or by a timer on its own loop when the claim's hold or its request's deadline comes first.
 * Not a store a request can fill: an entry holds what its URL's server published (stdlib's
 * jwt.lua stores only what it fetched), at most MAX_URLS of them (the least recently used idle
 * one makes room). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "lua/api/api.h"
#include "lua/binding.h"

#define MAX_URLS 32
#define MAX_URL_LEN 2048
#define MAX_BODY (1024 * 1024)
#define MIN_GAP_NS (5 * INT64_C(1000000000))
#define NO_DOC_GAP_NS (1 * INT64_C(1000000000))
#define MAX_HOLD_S 60

typedef struct waiter waiter_t;
typedef struct entry entry_t;

/* A run waiting for an entry's fetch. Freed by whichever of its timer and the fetch's end
 * comes second (both run on the waiter's loop). */
struct waiter {
    mf_vm_waiter_t wake;
    mf_loop_t *loop;
    mf_timer_t timer;
    entry_t *entry; /* under the cache's lock: NULL once the fetch's end took it off the list */
    waiter_t *next; /* the entry's list, under the cache's lock */
    int woken;      /* the loop's thread only */
};

struct entry {
    char *url; /* NULL: a free slot */
    char *body;
    size_t body_len;
    uint64_t gen; /* of body; 0: none yet */
    int64_t fresh_until_ns;
    int64_t last_attempt_ns; /* when the last claim began; 0: never */
    int64_t last_used_ns;
    uint64_t claim; /* 0: no fetch under way */
    int64_t claim_until_ns;
    waiter_t *waiters;
};

static struct {
    pthread_mutex_t mu;
    entry_t entries[MAX_URLS];
    uint64_t last_gen; /* generations never repeat, across evictions too */
    uint64_t last_claim;
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- entries (under the lock) ---- */

static entry_t *find(const char *url)
{
    for (int i = 0; i < MAX_URLS; i++)
        if (cache.entries[i].url && !strcmp(cache.entries[i].url, url))
            return &cache.entries[i];
    return NULL;
}

static int claimed(const entry_t *e, int64_t now)
{
    return e->claim && now < e->claim_until_ns;
}

/* The entry of url, made in a free slot or in the least recently used idle one; NULL when every
 * slot has a fetch under way or runs waiting. */
static entry_t *find_or_make(const char *url, int64_t now)
{
    entry_t *e = find(url), *victim = NULL;
    if (e)
        return e;
    for (int i = 0; i < MAX_URLS && !e; i++) {
        entry_t *c = &cache.entries[i];
        if (!c->url)
            e = c;
        else if (!claimed(c, now) && !c->waiters &&
                 (!victim || c->last_used_ns < victim->last_used_ns))
            victim = c;
    }
    if (!e && victim) {
        free(victim->url);
        free(victim->body);
        e = victim;
    }
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->url = mf_xstrdup(url);
    return e;
}

/* ---- waking ---- */

static void wake(waiter_t *w, int fetch_ended)
{
    lua_State *L = mf_vm_state(mf_vm_run_vm(w->wake.run));
    lua_pushboolean(L, fetch_ended);
    mf_vm_wake(w->wake, 1);
}

static void on_fetch_ended(void *ud)
{
    waiter_t *w = ud;
    if (!w->woken) {
        mf_loop_timer_stop(w->loop, &w->timer);
        wake(w, 1);
    }
    free(w);
}

static void on_wait_over(void *ud)
{
    waiter_t *w = ud;
    pthread_mutex_lock(&cache.mu);
    entry_t *e = w->entry;
    if (e) {
        waiter_t **p = &e->waiters;
        while (*p != w)
            p = &(*p)->next;
        *p = w->next;
    }
    pthread_mutex_unlock(&cache.mu);
    if (e) {
        wake(w, 0);
        free(w);
    } else {
        /* The fetch ended and its post is on the way: that frees w. */
        w->woken = 1;
        wake(w, 1);
    }
}

/* Takes e's waiters off it (under the lock); the caller hands them to wake_all after unlocking. */
static waiter_t *take_waiters(entry_t *e)
{
    waiter_t *list = e->waiters;
    e->waiters = NULL;
    for (waiter_t *w = list; w; w = w->next)
        w->entry = NULL;
    return list;
}

static void wake_all(waiter_t *list)
{
    while (list) {
        waiter_t *next = list->next; /* read first: the post may free list at once */
        mf_loop_post(list->loop, on_fetch_ended, list);
        list = next;
    }
}

/* ---- the functions ---- */

/* Generations and claim tokens: whole numbers below 2^53, exact as Lua numbers. */
static uint64_t check_id(lua_State *L, int idx) /* may raise */
{
    lua_Number n = luaL_optnumber(L, idx, 0);
    luaL_argcheck(L, n >= 0 && n < 9007199254740992.0 && n == (lua_Number)(uint64_t)n, idx,
                  "a generation or claim of this module");
    return (uint64_t)n;
}

static const char *check_url(lua_State *L, int idx) /* may raise */
{
    size_t len;
    const char *url = luaL_checklstring(L, idx, &len);
    luaL_argcheck(L, len > 0 && len <= MAX_URL_LEN && strlen(url) == len, idx,
                  "a URL of 1 to 2048 characters");
    return url;
}

static int l_jwks_get(lua_State *L) /* may raise */
{
    const char *url = check_url(L, 1);
    uint64_t known = check_id(L, 2);
    lua_settop(L, 2);
    for (;;) {
        pthread_mutex_lock(&cache.mu);
        int64_t now = mf_now_ns();
        entry_t *e = find(url);
        uint64_t gen = e ? e->gen : 0;
        int due = !gen || now >= e->fresh_until_ns;
        if (e)
            e->last_used_ns = now;
        if (!gen || gen == known) {
            pthread_mutex_unlock(&cache.mu);
            lua_pushnumber(L, (lua_Number)gen);
            lua_pushboolean(L, due);
            return 2;
        }
        /* The body is copied into a userdata made without the lock held (making it may raise),
         * then looked up again: a document replaced meanwhile may have another length. */
        size_t len = e->body_len;
        if (lua_gettop(L) == 3 && lua_objlen(L, 3) == len) {
            memcpy(lua_touserdata(L, 3), e->body, len);
            pthread_mutex_unlock(&cache.mu);
            lua_pushnumber(L, (lua_Number)gen);
            lua_pushboolean(L, due);
            lua_pushlstring(L, lua_touserdata(L, 3), len);
            return 3;
        }
        pthread_mutex_unlock(&cache.mu);
        lua_settop(L, 2);
        lua_newuserdata(L, len);
    }
}

static int64_t check_seconds(lua_State *L, int idx, lua_Number max) /* may raise */
{
    lua_Number s = luaL_checknumber(L, idx);
    luaL_argcheck(L, s >= 0 && s <= max, idx, "seconds out of range");
    return (int64_t)(s * 1e9);
}

static int l_jwks_claim(lua_State *L) /* may raise */
{
    static const char *const whys[] = {"due", "kid", NULL};
    const char *url = check_url(L, 1);
    int why_kid = luaL_checkoption(L, 2, NULL, whys);
    uint64_t known = check_id(L, 3);
    int64_t hold = check_seconds(L, 4, MAX_HOLD_S);
    const char *refusal = NULL;
    uint64_t token = 0;

    pthread_mutex_lock(&cache.mu);
    int64_t now = mf_now_ns();
    entry_t *e = find_or_make(url, now);
    if (!e) {
        refusal = "later";
    } else if (claimed(e, now)) {
        refusal = "busy";
    } else if (e->gen != known || (!why_kid && e->gen && now < e->fresh_until_ns)) {
        refusal = "changed";
    } else if (e->last_attempt_ns &&
               now - e->last_attempt_ns < (e->gen ? MIN_GAP_NS : NO_DOC_GAP_NS)) {
        refusal = "later";
    } else {
        token = ++cache.last_claim;
        e->claim = token;
        e->claim_until_ns = now + hold;
        e->last_attempt_ns = now;
    }
    if (e)
        e->last_used_ns = now;
    pthread_mutex_unlock(&cache.mu);
    if (!token) {
        lua_pushnil(L);
        lua_pushstring(L, refusal);
        return 2;
    }
    lua_pushnumber(L, (lua_Number)token);
    return 1;
}

static int l_jwks_store(lua_State *L) /* may raise */
{
    const char *url = check_url(L, 1);
    uint64_t token = check_id(L, 2);
    size_t len;
    const char *body = luaL_checklstring(L, 3, &len);
    luaL_argcheck(L, len > 0 && len <= MAX_BODY, 3, "a document of 1 byte to 1 MiB");
    int64_t max_age = check_seconds(L, 4, 86400);
    char *copy = mf_xmalloc(len);
    memcpy(copy, body, len);

    pthread_mutex_lock(&cache.mu);
    int64_t now = mf_now_ns();
    entry_t *e = find_or_make(url, now);
    uint64_t gen = 0;
    waiter_t *woken = NULL;
    if (e) {
        free(e->body);
        e->body = copy;
        e->body_len = len;
        gen = e->gen = ++cache.last_gen;
        e->fresh_until_ns = now + max_age;
        e->last_used_ns = now;
        if (token && e->claim == token)
            e->claim = 0;
        woken = take_waiters(e);
    }
    pthread_mutex_unlock(&cache.mu);
    if (!e)
        free(copy);
    wake_all(woken);
    lua_pushnumber(L, (lua_Number)gen);
    return 1;
}

static int l_jwks_release(lua_State *L) /* may raise */
{
    const char *url = check_url(L, 1);
    uint64_t token = check_id(L, 2);
    waiter_t *woken = NULL;
    pthread_mutex_lock(&cache.mu);
    entry_t *e = find(url);
    if (e && token && e->claim == token) {
        e->claim = 0;
        woken = take_waiters(e);
    }
    pthread_mutex_unlock(&cache.mu);
    wake_all(woken);
    return 0;
}

static int l_jwks_wait(lua_State *L) /* may raise */
{
    const char *url = check_url(L, 1);
    mf_vm_run_t *run = mf_vm_run_of(L);
    if (!run) {
        lua_pushnil(L);
        return 1;
    }
    waiter_t *w = mf_xmalloc(sizeof *w);
    memset(w, 0, sizeof *w);
    w->loop = mf_vm_loop(mf_vm_run_vm(run));
    mf_timer_init(&w->timer, on_wait_over, w);

    pthread_mutex_lock(&cache.mu);
    int64_t now = mf_now_ns();
    entry_t *e = find(url);
    int64_t until = e && claimed(e, now) ? e->claim_until_ns : 0;
    if (until) {
        w->wake = mf_vm_waiter(run);
        w->entry = e;
        w->next = e->waiters;
        e->waiters = w;
    }
    pthread_mutex_unlock(&cache.mu);
    if (!until) {
        free(w);
        lua_pushboolean(L, 1); /* nothing under way: look again */
        return 1;
    }
    int64_t deadline = mf_vm_run_deadline(run);
    if (deadline && deadline < until)
        until = deadline;
    /* Armed before the wait begins: the timer fires at the earliest in the loop's next turn. */
    mf_loop_timer_start(w->loop, &w->timer, until);
    return mf_vm_wait(L, run);
}

int luaopen_mayfly_jwks_cache(lua_State *L)
{
    static const luaL_Reg fns[] = {{"get", l_jwks_get},     {"claim", l_jwks_claim},
                                   {"store", l_jwks_store}, {"release", l_jwks_release},
                                   {"wait", l_jwks_wait},   {NULL, NULL}};
    lua_createtable(L, 0, 5);
    luaL_register(L, NULL, fns);
    return 1;
}
