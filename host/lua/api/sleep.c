/* mayfly.sleep(seconds): waits without holding the worker, in a run that may wait (a handler, a
 * stream); elsewhere (a hook, a load) the thread sleeps. Returns true, or nil, why when the
 * runtime cut it short (a stream that is to end: lua/binding.h's mf_vm_wait_refused). A
 * request's sleep ends at its deadline at the latest, where the run is cut as a late one. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include <lauxlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "lua/api/api.h"
#include "lua/binding.h"

typedef struct {
    mf_timer_t timer;
    mf_loop_t *loop;
    mf_vm_waiter_t w;
} sleep_t;

static void on_wake(void *ud)
{
    sleep_t *s = ud;
    mf_vm_waiter_t w = s->w;
    free(s);
    lua_pushboolean(mf_vm_state(mf_vm_run_vm(w.run)), 1);
    mf_vm_wake(w, 1);
}

static void on_cancel(void *ud)
{
    sleep_t *s = ud;
    mf_loop_timer_stop(s->loop, &s->timer);
    free(s);
}

static int64_t wake_time(int64_t now, double seconds, int64_t deadline)
{
    int64_t at = seconds >= 1e9 ? INT64_MAX / 2 : now + (int64_t)(seconds * 1e9);
    return deadline && deadline < at ? deadline : at;
}

static int l_sleep(lua_State *L)
{
    double seconds = luaL_checknumber(L, 1);
    luaL_argcheck(L, seconds >= 0 && !isnan(seconds), 1, "seconds must be 0 or more");
    mf_vm_t *vm = mf_vm_of(L);
    mf_vm_run_t *run = mf_vm_run_of(L);
    int64_t now = mf_now_ns();
    if (!run) {
        int64_t left = wake_time(now, seconds, mf_vm_deadline_ns(vm)) - now;
        if (left > 0)
            nanosleep(&(struct timespec){left / 1000000000, left % 1000000000}, NULL);
        lua_pushboolean(L, 1);
        return 1;
    }
    int refused = mf_vm_wait_refused(L, run);
    if (refused)
        return refused;
    sleep_t *s = mf_xmalloc(sizeof *s);
    s->loop = mf_vm_loop(vm);
    s->w = mf_vm_waiter(run);
    mf_timer_init(&s->timer, on_wake, s);
    mf_loop_timer_start(s->loop, &s->timer, wake_time(now, seconds, mf_vm_run_deadline(run)));
    mf_vm_wait_cancelable(run, on_cancel, s);
    return mf_vm_wait(L, run);
}

int luaopen_mayfly_sleep(lua_State *L)
{
    lua_pushcfunction(L, l_sleep);
    return 1;
}
