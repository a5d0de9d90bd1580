/* The bodies HTML forms send: which media type a Content-Type names, and multipart/form-data
 * (RFC 7578 over RFC 2046, 5.1) read in place, with no allocation. The body is already bounded
 * by MAYFLY_MAX_BODY; the limits below bound the work one body can cause. */
#ifndef MF_HTTP_FORM_H
#define MF_HTTP_FORM_H

#include <stddef.h>

#define MF_FORM_MAX_PARTS 1000
/* A part's header lines, CRLFs and the blank line ending them included. */
#define MF_FORM_MAX_PART_HEADER_BYTES 8192
#define MF_FORM_MAX_PART_HEADERS 32
#define MF_FORM_MAX_BOUNDARY 70 /* RFC 2046 */

typedef struct {
    const char *name; /* as sent, pointing into the body */
    size_t name_len;
    const char *value; /* without the spaces around it */
    size_t value_len;
} mf_form_header_t;

/* One part, valid during the callback only. name and filename are Content-Disposition's
 * parameters with a quoted string's quotes removed and its escapes \" and \\ undone (a
 * backslash before anything else is kept, as browsers send file names with backslashes
 * unescaped); no other decoding (browsers send '"' as %22, CR and LF as %0D and %0A). */
typedef struct {
    const mf_form_header_t *headers;
    int nheaders;
    const char *name;
    size_t name_len;
    const char *filename; /* NULL when the part has no filename parameter */
    size_t filename_len;
    const char *content_type; /* NULL when the part has no Content-Type */
    size_t content_type_len;
    const char *body;
    size_t body_len;
} mf_form_part_t;

typedef void (*mf_form_on_part_fn)(void *ctx, const mf_form_part_t *part);

/* 1 when the Content-Type value (NULL: none) names the media type type (lower case), whatever
 * its parameters; names compare without regard to case. */
int mf_form_media_type_is(const char *content_type, const char *type);

/* Points *boundary at the boundary parameter of a multipart Content-Type value (quoted or not)
 * and returns 0; -1 when there is none or it is not 1 to 70 of RFC 2046's bchars. */
int mf_form_boundary(const char *content_type, const char **boundary, size_t *len);

/* Reads the multipart/form-data body [body, body + len) delimited by boundary, calling on_part
 * for each part in order. A preamble and an epilogue are ignored. Returns 0, or -1 with *err (a
 * static message) when the body is malformed: no boundary line, a boundary line that does not
 * end in CRLF, a header line without a colon or with a name that is not a token or a value with
 * a control byte, headers past the limits, a part without Content-Disposition: form-data and a
 * name, no closing boundary, more than MF_FORM_MAX_PARTS parts. Parts already delivered stay
 * delivered. on_part may raise (a Lua error): nothing here holds a resource. */
int mf_form_multipart_parse(const char *body, size_t len, const char *boundary, size_t boundary_len,
                            mf_form_on_part_fn on_part, void *ctx, const char **err);

#endif
