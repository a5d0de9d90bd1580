/* The request object: a fuzzed request (target, header fields, body) served through the router
 * and tests/fuzz/scripts/fuzz_request.lua, whose handlers read every field (query parsing,
 * percent-decoding, headers, request id, trace context, req:json()) and return them.
 * Input: "[POST ]target\nname: value\n...\n\nbody" (lines end at LF; NUL ends a string). */
#include <stdint.h>

#include "fuzz.h"

#define MAX_FIELDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2);
    const char *fields[2 * MAX_FIELDS + 2];
    int nfields = 0;
    memcpy(buf + 1, data, size);
    buf[size + 1] = '\0';
    buf[0] = '/'; /* a target always starts with '/': the HTTP layer refuses others */

    char *line = buf + 1, *end = buf + 1 + size, *body = end;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    char *target = buf;
    if (nl)
        *nl = '\0';
    const char *method = "GET";
    if (!strncmp(line, "POST ", 5)) {
        method = "POST";
        target = line + 4; /* the space becomes the '/' */
        *target = '/';
    } else if (line[0] == '/') {
        target = line;
    }
    for (char *p = nl ? nl + 1 : end; p < end;) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        if (e)
            *e = '\0';
        if (!*p) { /* an empty line: the body follows */
            body = e ? e + 1 : end;
            break;
        }
        char *colon = strchr(p, ':');
        if (colon && nfields < MAX_FIELDS) {
            *colon = '\0';
            fields[2 * nfields] = p;
            fields[2 * nfields + 1] = colon[1] == ' ' ? colon + 2 : colon + 1;
            nfields++;
        }
        p = e ? e + 1 : end;
    }
    fields[2 * nfields] = NULL;
    fields[2 * nfields + 1] = NULL;
    fuzz_request(method, target, fields, body, (size_t)(end - body));
    free(buf);
    return 0;
}
