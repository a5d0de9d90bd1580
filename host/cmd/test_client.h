/* mayfly test's client: the requests of mayfly.testing, run in-process on the runner's vm as
 * `mayfly serve` runs them, on an event loop the client owns and turns while a spec waits for a
 * response, so that handlers wait (mayfly.sleep, Redis, outbound HTTP) as they do in a worker.
 * A streamed response is read as a client reads it: its bytes are taken when the spec asks for
 * them (a writer the spec does not read waits for room, as behind a slow client), and a stream
 * the spec leaves sees its client gone. */
#ifndef MF_CMD_TEST_CLIENT_H
#define MF_CMD_TEST_CLIENT_H

#include <stddef.h>

#include <lua.h>

#include "lua/scripts.h"
#include "lua/vm.h"

typedef struct mf_test_client mf_test_client_t;

/* A client of vm and the version it runs (both must outlive it); gives vm a loop of the
 * client's own. Returns NULL with the reason in err when the kernel refuses a loop. */
mf_test_client_t *mf_test_client_new(mf_vm_t *vm, size_t max_body, char *err, size_t errlen);
/* Leaves every open stream, turns the loop until their runs ended (a few seconds at most), and
 * takes the loop back from the vm. NULL is a no-op. Call it before the vm is freed. */
void mf_test_client_free(mf_test_client_t *c);

/* ---- the natives of mayfly.testing's requests (testing.lua); c is not NULL unless said ---- */

/* start(method, target, {name, value, ...}, body) -> status, {{name, value}, ...}, body, id:
 * runs the request through the router and turns the loop until its response (or a streamed
 * one's head) is in. A streamed response has no body yet and the id of its stream; another has
 * no id. */
int mf_test_client_start(lua_State *L, mf_test_client_t *c); /* may raise */
/* pull(id, timeout_s) -> the bytes the stream holds (turning the loop until some come, at most
 * timeout_s: 0 turns it once without waiting), or nil, "ended" | "cut" once the body is over
 * (cut: its function raised), or false when the time ran out. */
int mf_test_client_pull(lua_State *L, mf_test_client_t *c); /* may raise */
/* close(id, timeout_s) -> true once the stream's run ended, false when it still runs after
 * timeout_s: the client leaves, as one that disconnects. */
int mf_test_client_close(lua_State *L, mf_test_client_t *c); /* may raise */
/* drain(): every open stream ends as on the drain (out:draining() is true, its waits return at
 * once). */
int mf_test_client_drain(lua_State *L, mf_test_client_t *c);
/* close_all(timeout_s) -> how many runs still went on after timeout_s: every open stream's
 * client leaves (the end of a test). c may be NULL (no request was made). */
int mf_test_client_close_all(lua_State *L, mf_test_client_t *c);

#endif
