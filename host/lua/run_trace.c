/* The spans of runs and hooks: which span a binding's call goes under, the scripts' own spans
 * (mayfly.trace.span) and the root spans of hooks and jobs. */
#include <stdio.h>
#include <string.h>

#include "http/request.h"
#include "lua/vm_private.h"
#include "observe/span.h"

/* The open spans of what runs now, and the span they go under when none is open. */
static mf_vm_spans_t *running_spans(mf_vm_t *vm, mf_span_t **root)
{
    if (vm->current && vm->current->r) {
        *root = mf_request_span(vm->current->r);
        return &vm->current->spans;
    }
    *root = vm->hook_span;
    return vm->hook_span ? &vm->hook_spans : NULL;
}

mf_span_t *mf_vm_span(lua_State *L)
{
    if (!mf_span_enabled())
        return NULL;
    mf_span_t *root;
    mf_vm_spans_t *spans = running_spans(mf_vm_of(L), &root);
    return spans && spans->n ? spans->open[spans->n - 1] : root;
}

uint64_t mf_vm_span_open(lua_State *L, const char *name, size_t len)
{
    if (!mf_span_enabled())
        return 0;
    mf_vm_t *vm = mf_vm_of(L);
    mf_span_t *root;
    mf_vm_spans_t *spans = running_spans(vm, &root);
    if (!root || spans->n == MF_VM_OPEN_SPANS)
        return 0;
    mf_span_t *parent = spans->n ? spans->open[spans->n - 1] : root;
    mf_span_t *s = mf_span_begin_child(parent, MF_SPAN_INTERNAL, name, len);
    s->resets = 1; /* mayfly.trace.set may set a key again */
    spans->open[spans->n] = s;
    spans->serial[spans->n] = ++vm->last_span_serial;
    return spans->serial[spans->n++];
}

void mf_vm_span_close(lua_State *L, uint64_t serial, const char *error, size_t len)
{
    mf_span_t *root;
    mf_vm_spans_t *spans = running_spans(mf_vm_of(L), &root);
    if (!spans || !serial)
        return;
    int at = spans->n - 1;
    while (at >= 0 && spans->serial[at] != serial)
        at--;
    if (at < 0)
        return;
    while (spans->n - 1 > at) /* opened inside it and never closed: a coroutine left behind */
        mf_span_end(spans->open[--spans->n]);
    mf_span_t *s = spans->open[--spans->n];
    if (error)
        mf_span_error(s, error, len);
    mf_span_end(s);
}

void mf_vm__close_spans(mf_vm_spans_t *spans)
{
    while (spans->n)
        mf_span_end(spans->open[--spans->n]);
}

void mf_vm__span_exception(mf_vm_run_t *run, const char *text, size_t len, const char *traceback)
{
    mf_span_t *s = mf_request_span(run->r);
    if (!s)
        return;
    mf_span_event(s, "exception", 9);
    mf_span_event_str(s, "exception.type", "lua", 3);
    mf_span_event_str(s, "exception.message", text, len);
    if (traceback)
        mf_span_event_str(s, "exception.stacktrace", traceback, strlen(traceback));
    mf_span_error(s, text, len);
}

/* ---- hooks and jobs: roots of traces of their own ---- */

void mf_vm__hook_span_begin(mf_vm_t *vm, const char *file, const char *hook, const char *job)
{
    vm->hook_spans.n = 0;
    vm->hook_span = NULL;
    if (!file)
        return;
    char name[MF_SPAN_NAME_MAX + 1];
    int n = job ? snprintf(name, sizeof name, "every %s", job)
                : snprintf(name, sizeof name, "%s", hook);
    mf_span_t *s = mf_span_begin_root(MF_SPAN_INTERNAL, name,
                                      n < (int)sizeof name ? (size_t)n : sizeof name - 1);
    mf_span_set_str(s, "mayfly.hook", job ? "every" : hook, strlen(job ? "every" : hook));
    if (job)
        mf_span_set_str(s, "mayfly.job", job, strlen(job));
    mf_span_set_str(s, "code.filepath", file, strlen(file));
    vm->hook_span = s;
}

void mf_vm__hook_span_end(mf_vm_t *vm, const char *error)
{
    mf_vm__close_spans(&vm->hook_spans);
    if (error) {
        mf_span_event(vm->hook_span, "exception", 9);
        mf_span_event_str(vm->hook_span, "exception.message", error, strlen(error));
        mf_span_error(vm->hook_span, error, strlen(error));
    }
    mf_span_end(vm->hook_span);
    vm->hook_span = NULL;
}
