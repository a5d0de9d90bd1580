/* Values the request path pushes often, kept in registry slots of the state (by integer, no
 * hashing). Each slot has one owner, which sets it once while the state is built. */
#ifndef MF_LUA_REFS_H
#define MF_LUA_REFS_H

#include <lua.h>

enum {
    MF_REF_TRACEBACK,     /* debug.traceback: the message handler of every protected call */
    MF_REF_DISPATCH,      /* run.lua's coroutine body (run.c) */
    MF_REF_ENV_MT,        /* the request environment's metatable (sandbox.c) */
    MF_REF_IDLE_ENV,      /* the frozen environment of a thread between runs (sandbox.c) */
    MF_REF_REQUEST_MT,    /* the request object's metatable (request_object.c) */
    MF_REF_REQUEST_JSON,  /* req:json (request_object.c) */
    MF_REF_HTTP_ERROR_MT, /* errors answered with a status (http_error.c) */
    MF_REF_CONSTANTS,     /* mayfly.constant's cache (api/constant.c) */
    MF_REF_STREAM_OUT_MT, /* a streamed response's out object's metatable (run_stream.c) */
    MF_REF_COUNT
};

/* Pops the value on top into slot which. */
void mf_vm_set_ref(lua_State *L, int which);
/* Pushes the value of slot which (nil when unset). */
void mf_vm_push_ref(lua_State *L, int which);

#endif
