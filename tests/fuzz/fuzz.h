/* Shared by the libFuzzer harnesses: a mayfly vm serving tests/fuzz/scripts/, and a way to run
 * one in-process request through it the way the HTTP layer does (router, vm, response). One
 * harness per file; each defines LLVMFuzzerTestOneInput and may use these helpers. */
#ifndef MF_FUZZ_H
#define MF_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sanitizer/lsan_interface.h>

#include "app/dispatch.h"
#include "app/scripts_load.h"
#include "base/syntax.h"
#include "http/response.h"
#include "lua/vm.h"
#include "observe/log.h"

typedef struct {
    mf_options_t opts;
    mf_scripts_t *scripts;
    mf_vm_t *vm;
} fuzz_vm_t;

static fuzz_vm_t fuzz_the_vm;

/* Closes the vm before LeakSanitizer's check at exit (atexit handlers run in reverse order, and
 * the sanitizer registered its check first). Buffers that userdata in LuaJIT's heap own, such
 * as lua-cjson's kept encode buffer, which grows with the largest value a run encoded, are freed
 * by their finalizers here instead of being reported as leaked: LeakSanitizer does not scan
 * LuaJIT's memory, and lsan.supp's suppressions, which match function names, do not apply
 * where no symbolizer is installed. */
static void fuzz_vm_close(void)
{
    mf_vm_free(fuzz_the_vm.vm);
    fuzz_the_vm.vm = NULL;
    mf_scripts_release(fuzz_the_vm.scripts);
    fuzz_the_vm.scripts = NULL;
}

/* The process's vm, built on first use and closed at exit by fuzz_vm_close. */
static inline fuzz_vm_t *fuzz_vm(void)
{
    fuzz_vm_t *f = &fuzz_the_vm;
    char err[1024];
    if (f->vm)
        return f;
    /* What the vm allocates with malloc is referenced from LuaJIT's heap, which LeakSanitizer
     * does not scan (LuaJIT maps its own memory): without this, every object the state keeps
     * would be reported as a leak of the input that happened to build the vm. */
    __lsan_disable();
    mf_options_load(&f->opts, 0, NULL, err, sizeof err);
    f->opts.scripts_dir = MAYFLY_FUZZ_SCRIPTS;
    mf_log_setup(MF_LOG_ERROR, 0);
    mf_log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC)); /* lines are built, not shown */
    if (mf_scripts_load(f->opts.scripts_dir, &f->opts, &f->scripts, err, sizeof err) ||
        !(f->vm = mf_vm_new(&f->opts, err, sizeof err)) ||
        mf_vm_compile(f->vm, f->scripts, err, sizeof err)) {
        fprintf(stderr, "fuzz: cannot build the vm: %s\n", err);
        abort();
    }
    __lsan_enable();
    atexit(fuzz_vm_close);
    return f;
}

/* Turns the response into libmicrohttpd's, as the HTTP layer would, and checks what the
 * conversion promised: a status in range and headers that passed validation. */
static inline void fuzz_sink(void *ud, const mf_response_t *resp)
{
    char err[256];
    (void)ud;
    if (resp->status < 200 || resp->status > 599)
        abort();
    for (int i = 0; i < resp->nheaders; i++) {
        const char *name, *value;
        mf_response_header(resp, i, &name, &value);
        if (!mf_syntax_http_header(name, strlen(name), value, strlen(value)))
            abort();
    }
    struct MHD_Response *m = mf_response_to_mhd(resp, err, sizeof err);
    if (m)
        MHD_destroy_response(m);
}

/* Serves method target (path and query, NUL-terminated) with header fields (name, value, ...,
 * NULL) and body as the HTTP layer would; returns the router's answer (MF_ROUTER_OK when a
 * handler ran). */
static inline int fuzz_request(const char *method, const char *target, const char *const *fields,
                               const char *body, size_t body_len)
{
    fuzz_vm_t *f = fuzz_vm();
    mf_request_t r;
    mf_request_begin_local(&r, method, target, fields, body, body_len, SIZE_MAX);
    int rc = mf_dispatch_start(f->vm, -1, &r, fuzz_sink, NULL, NULL, 0);
    mf_request_end(&r);
    /* Finalizers run now, so what a request allocated is freed within its input. */
    lua_gc(mf_vm_state(f->vm), LUA_GCCOLLECT, 0);
    return rc < 0 ? rc : MF_ROUTER_OK;
}

#endif
