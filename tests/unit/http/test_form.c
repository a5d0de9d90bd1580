/* Form bodies: Content-Type's media type and boundary, and multipart/form-data read as curl and
 * browsers send it, with what the parser refuses and its limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/form.h"
#include "test.h"

/* ---- Content-Type ---- */

TEST(media_types)
{
    ASSERT_TRUE(mf_form_media_type_is("multipart/form-data; boundary=x", "multipart/form-data"));
    ASSERT_TRUE(mf_form_media_type_is("Multipart/Form-Data", "multipart/form-data"));
    ASSERT_TRUE(mf_form_media_type_is(" application/x-www-form-urlencoded ;charset=UTF-8",
                                      "application/x-www-form-urlencoded"));
    ASSERT_TRUE(!mf_form_media_type_is("multipart/form-datax", "multipart/form-data"));
    ASSERT_TRUE(!mf_form_media_type_is("multipart/form", "multipart/form-data"));
    ASSERT_TRUE(!mf_form_media_type_is("text/plain", "multipart/form-data"));
    ASSERT_TRUE(!mf_form_media_type_is("multipart/form-data x", "multipart/form-data"));
    ASSERT_TRUE(!mf_form_media_type_is(NULL, "multipart/form-data"));
    ASSERT_TRUE(!mf_form_media_type_is("", "multipart/form-data"));
}

static const struct {
    const char *content_type, *boundary; /* NULL: refused */
} boundaries[] = {
    {"multipart/form-data; boundary=------------------------d74496d66958873e",
     "------------------------d74496d66958873e"},
    {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
     "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
    {"multipart/form-data; charset=utf-8; BOUNDARY=\"a b:c\"", "a b:c"},
    {"multipart/form-data;boundary=abc ", "abc"},
    {"multipart/form-data; boundary=\"abc\" ; charset=x", "abc"},
    {"multipart/form-data; x=\"a;b\"; boundary=z", "z"}, /* a ';' inside a quoted parameter */
    {"multipart/form-data", NULL},
    {"multipart/form-data; boundary=", NULL},
    {"multipart/form-data; boundary=\"\"", NULL},
    {"multipart/form-data; boundary=\"abc", NULL},
    {"multipart/form-data; boundary=\"ab \"", NULL}, /* a space may not end it */
    {"multipart/form-data; boundary=a\\b", NULL},    /* not a bchar */
    {"multipart/form-data; boundary=a\"b", NULL},
    {"multipart/form-data; boundary", NULL},
    {"multipart/form-data; boundary=12345678901234567890123456789012345678901234567890"
     "123456789012345678901",
     NULL}, /* 71 characters */
};

TEST(boundary_parameter)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++) {
        const char *b = NULL;
        size_t len = 0;
        int rc = mf_form_boundary(boundaries[i].content_type, &b, &len);
        if (!boundaries[i].boundary) {
            if (rc == 0)
                printf("  accepted: %s\n", boundaries[i].content_type);
            ASSERT_EQ_INT(rc, -1);
        } else {
            ASSERT_EQ_INT(rc, 0);
            ASSERT_EQ_MEM(b, len, boundaries[i].boundary, strlen(boundaries[i].boundary));
        }
    }
}

/* ---- multipart/form-data ---- */

typedef struct {
    int n;
    char names[8][64], filenames[8][64], types[8][64];
    int has_filename[8], has_type[8], nheaders[8];
    char bodies[8][128];
    size_t body_lens[8];
} parts_t;

static void collect(void *ctx, const mf_form_part_t *p)
{
    parts_t *ps = ctx;
    int i = ps->n++;
    if (i >= 8)
        return;
    snprintf(ps->names[i], sizeof ps->names[i], "%.*s", (int)p->name_len, p->name);
    ps->has_filename[i] = p->filename != NULL;
    if (p->filename)
        snprintf(ps->filenames[i], sizeof ps->filenames[i], "%.*s", (int)p->filename_len,
                 p->filename);
    ps->has_type[i] = p->content_type != NULL;
    if (p->content_type)
        snprintf(ps->types[i], sizeof ps->types[i], "%.*s", (int)p->content_type_len,
                 p->content_type);
    ps->nheaders[i] = p->nheaders;
    ps->body_lens[i] = p->body_len < sizeof ps->bodies[i] ? p->body_len : sizeof ps->bodies[i];
    memcpy(ps->bodies[i], p->body, ps->body_lens[i]);
}

/* Parses len bytes of body from an exact-size copy (a read past the end is caught under
 * AddressSanitizer); returns the parser's result, *err set on failure. */
static int parse(const char *body, size_t len, const char *boundary, parts_t *ps, const char **err)
{
    char *exact = malloc(len ? len : 1);
    memcpy(exact, body, len);
    memset(ps, 0, sizeof *ps);
    *err = NULL;
    int rc = mf_form_multipart_parse(exact, len, boundary, strlen(boundary), collect, ps, err);
    free(exact);
    return rc;
}

#define B "------------------------d74496d66958873e"

/* What curl -F 'a=1' -F 'f=@file;type=text/plain' sends, but the file holds a line that is the
 * boundary and more: a boundary may not appear in a part. */
static const char curl_body[] = "--" B "\r\n"
                                "Content-Disposition: form-data; name=\"a\"\r\n"
                                "\r\n"
                                "1\r\n"
                                "--" B "\r\n"
                                "Content-Disposition: form-data; name=\"f\"; filename=\"b.bin\"\r\n"
                                "Content-Type: text/plain\r\n"
                                "\r\n"
                                "x\0y\r\n\r\n--" B "x\r\n--\r\nend\0"
                                "\r\n"
                                "--" B "--\r\n";

TEST(what_curl_sends)
{
    parts_t ps;
    const char *err;
    ASSERT_EQ_INT(parse(curl_body, sizeof curl_body - 1, B, &ps, &err), -1);
    ASSERT_EQ_STR(err, "a boundary line does not end in CRLF");

    /* As it should be: the file holds NUL bytes, CRLFs and a line that starts like the
     * boundary. */
    static const char ok_body[] =
        "--" B "\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n"
        "\r\n"
        "1\r\n"
        "--" B "\r\n"
        "Content-Disposition: form-data; name=\"f\"; filename=\"b.bin\"\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "x\0y\r\n\r\n--------------------------d74496d6\r\n--\r\nend\0"
        "\r\n"
        "--" B "--\r\n";
    ASSERT_EQ_INT(parse(ok_body, sizeof ok_body - 1, B, &ps, &err), 0);
    ASSERT_EQ_INT(ps.n, 2);
    ASSERT_EQ_STR(ps.names[0], "a");
    ASSERT_TRUE(!ps.has_filename[0] && !ps.has_type[0]);
    ASSERT_EQ_INT(ps.nheaders[0], 1);
    ASSERT_EQ_MEM(ps.bodies[0], ps.body_lens[0], "1", 1);
    ASSERT_EQ_STR(ps.names[1], "f");
    ASSERT_EQ_STR(ps.filenames[1], "b.bin");
    ASSERT_EQ_STR(ps.types[1], "text/plain");
    ASSERT_EQ_INT(ps.nheaders[1], 2);
    static const char content[] = "x\0y\r\n\r\n--------------------------d74496d6\r\n--\r\nend\0";
    ASSERT_EQ_MEM(ps.bodies[1], ps.body_lens[1], content, sizeof content - 1);
}

static int parse_str(const char *body, const char *boundary, parts_t *ps, const char **err)
{
    return parse(body, strlen(body), boundary, ps, err);
}

TEST(framing)
{
    parts_t ps;
    const char *err;
    /* A preamble, transport padding after a boundary, an epilogue. */
    ASSERT_EQ_INT(parse_str("preamble\r\n--X \t\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                            "v\r\n--X-- epilogue\r\nmore",
                            "X", &ps, &err),
                  0);
    ASSERT_EQ_INT(ps.n, 1);
    ASSERT_EQ_MEM(ps.bodies[0], ps.body_lens[0], "v", 1);
    /* An empty form: the closing boundary alone, as browsers send it. */
    ASSERT_EQ_INT(parse_str("--X--\r\n", "X", &ps, &err), 0);
    ASSERT_EQ_INT(ps.n, 0);
    /* An empty part body, and a part without the final CRLF after the closing boundary. */
    ASSERT_EQ_INT(parse_str("--X\r\ncontent-disposition: FORM-DATA; NAME=\"\"\r\n\r\n\r\n--X--",
                            "X", &ps, &err),
                  0);
    ASSERT_EQ_INT(ps.n, 1);
    ASSERT_EQ_STR(ps.names[0], "");
    ASSERT_EQ_INT(ps.body_lens[0], 0);
}

static const struct {
    const char *body, *err;
} malformed[] = {
    {"", "no boundary line"},
    {"--Y\r\n", "no boundary line"},
    {"--X", "no closing boundary"},
    {"--X\r\nContent-Disposition: form-data; name=a\r\n\r\nv", "no closing boundary"},
    {"--X\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--X", "no closing boundary"},
    {"--X\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--X\r\n",
     "the body ends in a part's headers"},
    {"--X\r\nContent-Disposition: form-data; name=a", "the body ends in a part's headers"},
    {"--Xy\r\n", "a boundary line does not end in CRLF"},
    {"--X\n", "a boundary line does not end in CRLF"},
    {"--X\r\nContent-Disposition form-data; name=a\r\n\r\nv\r\n--X--",
     "a part's header line has no colon"},
    {"--X\r\nContent Disposition: form-data; name=a\r\n\r\nv\r\n--X--",
     "a part's header name is not a token"},
    {"--X\r\n: form-data; name=a\r\n\r\nv\r\n--X--", "a part's header name is not a token"},
    {"--X\r\nContent-Disposition: form-data; name=a\nX-A: 1\r\n\r\nv\r\n--X--",
     "a part's header value holds a control byte"},
    {"--X\r\n\r\nv\r\n--X--", "a part has no Content-Disposition"},
    {"--X\r\nContent-Type: text/plain\r\n\r\nv\r\n--X--", "a part has no Content-Disposition"},
    {"--X\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition is not form-data"},
    {"--X\r\nContent-Disposition: form-data\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition has no name"},
    {"--X\r\nContent-Disposition: form-data; filename=f\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition has no name"},
    {"--X\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition is malformed"},
    {"--X\r\nContent-Disposition: form-data; name=\"a\"b\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition is malformed"},
    {"--X\r\nContent-Disposition: form-data; name\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition is malformed"},
    {"--X\r\nContent-Disposition: form-data; name=\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition is malformed"},
    {"--X\r\nContent-Disposition: form-data name=a\r\n\r\nv\r\n--X--",
     "a part's Content-Disposition is malformed"},
};

TEST(malformed_bodies)
{
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        parts_t ps;
        const char *err;
        int rc = parse_str(malformed[i].body, "X", &ps, &err);
        if (rc != -1 || !err || strcmp(err, malformed[i].err))
            printf("  body: %s\n", malformed[i].body);
        ASSERT_EQ_INT(rc, -1);
        ASSERT_EQ_STR(err, malformed[i].err);
    }
}

TEST(names_and_filenames)
{
    parts_t ps;
    const char *err;
    /* \" and \\ are escapes; a backslash before anything else stays (a Windows path); the first
     * of a repeated parameter wins; filename* is not read; an empty filename is kept. */
    ASSERT_EQ_INT(parse_str("--X\r\nContent-Disposition: form-data ; name=\"a\\\"b\\\\c\" ;"
                            "filename=\"C:\\dir\\f.txt\"; name=other; filename*=UTF-8''x\r\n"
                            "\r\nv\r\n--X\r\n"
                            "Content-Disposition: form-data; name=e; filename=\"\"\r\n\r\n\r\n"
                            "--X--",
                            "X", &ps, &err),
                  0);
    ASSERT_EQ_INT(ps.n, 2);
    ASSERT_EQ_STR(ps.names[0], "a\"b\\c");
    ASSERT_EQ_STR(ps.filenames[0], "C:\\dir\\f.txt");
    ASSERT_EQ_STR(ps.names[1], "e");
    ASSERT_TRUE(ps.has_filename[1]);
    ASSERT_EQ_STR(ps.filenames[1], "");
}

/* ---- limits ---- */

static char *repeat_parts(int n, size_t *len)
{
    static const char part[] = "--X\r\nContent-Disposition: form-data; name=p\r\n\r\nv\r\n";
    size_t plen = sizeof part - 1;
    char *body = malloc((size_t)n * plen + 8);
    for (int i = 0; i < n; i++)
        memcpy(body + (size_t)i * plen, part, plen);
    memcpy(body + (size_t)n * plen, "--X--", 5);
    *len = (size_t)n * plen + 5;
    return body;
}

TEST(at_most_1000_parts)
{
    parts_t ps;
    const char *err;
    size_t len;
    char *body = repeat_parts(MF_FORM_MAX_PARTS, &len);
    int rc = parse(body, len, "X", &ps, &err);
    free(body);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(ps.n, MF_FORM_MAX_PARTS);
    body = repeat_parts(MF_FORM_MAX_PARTS + 1, &len);
    rc = parse(body, len, "X", &ps, &err);
    free(body);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(err, "more than 1000 parts");
}

/* A part whose header block, blank line included, is size bytes. */
static char *part_with_headers(size_t size, size_t *len)
{
    static const char cd[] = "Content-Disposition: form-data; name=a\r\n";
    char *body = malloc(size + 64);
    size_t o = (size_t)sprintf(body, "--X\r\n%s", cd);
    size_t pad = size - (sizeof cd - 1) - 2 - (sizeof "X-Pad: \r\n" - 1);
    o += (size_t)sprintf(body + o, "X-Pad: ");
    memset(body + o, 'p', pad);
    o += pad;
    o += (size_t)sprintf(body + o, "\r\n\r\nv\r\n--X--");
    *len = o;
    return body;
}

TEST(header_block_at_most_8k)
{
    parts_t ps;
    const char *err;
    size_t len;
    char *body = part_with_headers(MF_FORM_MAX_PART_HEADER_BYTES, &len);
    int rc = parse(body, len, "X", &ps, &err);
    free(body);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(ps.nheaders[0], 2);
    body = part_with_headers(MF_FORM_MAX_PART_HEADER_BYTES + 1, &len);
    rc = parse(body, len, "X", &ps, &err);
    free(body);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_EQ_STR(err, "a part's headers are longer than 8 KiB");
}

TEST(at_most_32_headers)
{
    char body[2048];
    parts_t ps;
    const char *err;
    for (int n = MF_FORM_MAX_PART_HEADERS; n <= MF_FORM_MAX_PART_HEADERS + 1; n++) {
        size_t o = (size_t)sprintf(body, "--X\r\nContent-Disposition: form-data; name=a\r\n");
        for (int i = 1; i < n; i++)
            o += (size_t)sprintf(body + o, "X-%d: %d\r\n", i, i);
        sprintf(body + o, "\r\nv\r\n--X--");
        int rc = parse_str(body, "X", &ps, &err);
        ASSERT_EQ_INT(rc, n <= MF_FORM_MAX_PART_HEADERS ? 0 : -1);
        if (rc)
            ASSERT_EQ_STR(err, "a part has more than 32 headers");
    }
}

TEST(a_bad_boundary_is_refused)
{
    parts_t ps;
    const char *err;
    ASSERT_EQ_INT(parse_str("--\r\n", "", &ps, &err), -1);
    ASSERT_EQ_INT(parse_str("--a\\b--", "a\\b", &ps, &err), -1);
}

int main(void)
{
    RUN(media_types);
    RUN(boundary_parameter);
    RUN(what_curl_sends);
    RUN(framing);
    RUN(malformed_bodies);
    RUN(names_and_filenames);
    RUN(at_most_1000_parts);
    RUN(header_block_at_most_8k);
    RUN(at_most_32_headers);
    RUN(a_bad_boundary_is_refused);
    TEST_MAIN_END();
}
