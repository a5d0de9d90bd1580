#include "http/response.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include <microhttpd.h>

#include "base/jsonbuf.h"
#include "observe/log.h"

/* conn: where a streamed body is sent (NULL: none can be). */
static struct MHD_Response *to_mhd(const mf_response_t *r, struct MHD_Connection *conn, char *err,
                                   size_t errlen)
{
    if (r->stream && !conn) {
        snprintf(err, errlen, "a streamed response with no connection to send it");
        return NULL;
    }
    struct MHD_Response *resp =
        r->stream ? mf_stream_response(r->stream, conn)
                  : MHD_create_response_from_buffer(r->body_len, (void *)r->body,
                                                    MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        snprintf(err, errlen, "out of memory building the response");
        return NULL;
    }
    for (int i = 0; i < r->nheaders; i++) {
        const char *name, *value;
        mf_response_header(r, i, &name, &value);
        if (MHD_add_response_header(resp, name, value) != MHD_YES) {
            snprintf(err, errlen, "header '%.64s' refused by the HTTP layer", name);
            MHD_destroy_response(resp);
            return NULL;
        }
    }
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    return resp;
}

struct MHD_Response *mf_response_to_mhd(const mf_response_t *r, char *err, size_t errlen)
{
    return to_mhd(r, NULL, err, errlen);
}

struct MHD_Response *mf_response_for_request(mf_request_t *r, const mf_response_t *resp)
{
    char err[256];
    struct MHD_Response *m = to_mhd(resp, r->conn, err, sizeof err);
    if (!m) {
        if (resp->stream) /* nobody will read it: its writer learns at once */
            mf_stream_leave(resp->stream);
        mf_log_msg(MF_LOG_ERROR, "%s", err);
        r->status = 500;
        m = mf_response_error("internal server error", mf_request_id(r));
    }
    return m;
}

char *mf_response_error_json(const char *message, const char *request_id, size_t *len)
{
    mf_jsonbuf_t j;
    mf_jsonbuf_open(&j);
    mf_jsonbuf_cstr(&j, "error", message);
    if (request_id)
        mf_jsonbuf_cstr(&j, "request_id", request_id);
    return mf_jsonbuf_close(&j, len);
}

struct MHD_Response *mf_response_error(const char *message, const char *request_id)
{
    size_t len;
    char *json = mf_response_error_json(message, request_id, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, json, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        fprintf(stderr, "mayfly: fatal: out of memory building an error response\n");
        abort();
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, MF_CTYPE_JSON);
    return resp;
}
