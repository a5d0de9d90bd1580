/* W3C trace context (trace.c): the input as a traceparent header. When it parses, the ids must
 * be the lowercase hex the input carried and the traceparent the host formats from it must
 * parse back to the same trace; mf_trace_begin must always produce a valid traceparent. The
 * input is also checked as a tracestate value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "observe/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mf_trace_t t, back;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    /* An exact-size copy, so that a read past the value is caught. */
    char *exact = size ? malloc(size) : NULL;
    if (size)
        memcpy(exact, data, size);
    memset(&t, 0, sizeof t);
    if (mf_trace_parse(exact, size, &t) == 0 &&
        (strlen(t.trace_id) != 32 || strlen(t.parent_id) != 16 ||
         memcmp(t.trace_id, exact + 3, 32) || memcmp(t.parent_id, exact + 36, 16)))
        abort();
    free(exact);

    int continued = strlen(s) == size && mf_trace_parse(s, size, &back) == 0;
    mf_trace_begin(&t, s);
    if (strlen(t.traceparent) != MF_TRACEPARENT_LEN ||
        mf_trace_parse(t.traceparent, MF_TRACEPARENT_LEN, &back) != 0 ||
        strcmp(back.trace_id, t.trace_id) || strcmp(back.parent_id, t.span_id) ||
        back.sampled != t.sampled || (continued && !t.parent_id[0]))
        abort();
    int ok = mf_trace_state_ok(s);
    if (ok && (!s[0] || strlen(s) > MF_TRACESTATE_MAX))
        abort();
    free(s);
    return 0;
}
