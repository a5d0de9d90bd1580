#include "http/request.h"

#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "base/random.h"

static int request_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= MF_REQUEST_ID_MAX ||
            !(c == '-' || c == '_' || c == '.' || c == ':' || (c >= '0' && c <= '9') ||
              ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return 0;
    }
    return n > 0;
}

const char *mf_request_id(mf_request_t *r)
{
    if (!r->id[0]) {
        const char *given = mf_request_header(r, "X-Request-Id");
        if (given && request_id_ok(given))
            strcpy(r->id, given);
        else
            mf_random_hex(r->id, 16);
    }
    return r->id;
}

const char *mf_request_field(const mf_request_t *r, const char *name)
{
    for (const char *const *f = r->fields; f && f[0]; f += 2)
        if (!strcasecmp(f[0], name))
            return f[1];
    return NULL;
}

const char *mf_request_header(const mf_request_t *r, const char *name)
{
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name)
                   : mf_request_field(r, name);
}

const mf_trace_t *mf_request_trace(mf_request_t *r)
{
    if (!r->trace_done) {
        mf_trace_begin(&r->trace, mf_request_header(r, "traceparent"));
        r->trace_done = 1;
    }
    return &r->trace;
}
