#include "http/request_log.h"

#include <string.h>

#include "observe/log.h"

void mf_request_log_begin(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                          mf_request_t *r)
{
    if (r)
        mf_log_begin_traced(l, level, msg, msglen, mf_request_id(r), mf_request_trace(r));
    else
        mf_log_begin(l, level, msg, msglen, NULL);
}

void mf_request_log_access(mf_request_t *r, int64_t duration_ns)
{
    mf_jsonbuf_t l;
    const char *method = r->method ? r->method : "";
    /* Written piece by piece, one line per request: the keys are literals, so only the values
     * a client or a script chose go through escaping. */
    mf_log_begin_traced(&l, MF_LOG_INFO, "request", 7, mf_request_id(r), mf_request_trace(r));
    mf_jsonbuf_lit(&l, ",\"method\":\"");
    mf_jsonbuf_escape(&l, method, strlen(method));
    mf_jsonbuf_lit(&l, "\",\"path\":\"");
    mf_jsonbuf_escape(&l, r->target, r->path_len);
    mf_jsonbuf_lit(&l, "\"");
    if (r->route) {
        mf_jsonbuf_lit(&l, ",\"route\":\"");
        mf_jsonbuf_escape(&l, r->route, strlen(r->route));
        mf_jsonbuf_lit(&l, "\"");
    }
    mf_jsonbuf_lit(&l, ",\"status\":");
    mf_jsonbuf_append_int(&l, r->status);
    mf_jsonbuf_lit(&l, ",\"duration_ms\":");
    mf_jsonbuf_append_milli(&l, duration_ns / 1000);
    mf_log_end_buffered(&l);
}
