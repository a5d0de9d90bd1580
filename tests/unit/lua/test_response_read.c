/* The response reader: what a handler returns becomes the status, body, Content-Type and
 * headers the HTTP layer sends. A header value it let through with CR or LF in it would let a
 * script (or whoever feeds it data) add headers or split the response. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "http/response.h"
#include "lua/json.h"
#include "lua/response_read.h"
#include "test.h"

static lua_State *L;
static mf_response_t resp;
static char err_msg[512];

/* Reads the value `return <expr>` makes as a handler's result, the way a run does:
 * mf_response_read_lua inside a protected call, mf_response_from_stack on what it returned
 * (left on L's stack, which resp points into, until the next read). Returns 0, or -1 with the
 * error in err_msg. */
static int read_result(const char *expr)
{
    char code[1024];
    lua_settop(L, 0);
    snprintf(code, sizeof code, "return %s", expr);
    lua_pushcfunction(L, mf_response_read_lua);
    if (luaL_loadstring(L, code) || lua_pcall(L, 0, 1, 0)) {
        snprintf(err_msg, sizeof err_msg, "the test's Lua: %s", lua_tostring(L, -1));
        return -1;
    }
    if (lua_pcall(L, 1, 4, 0)) {
        snprintf(err_msg, sizeof err_msg, "%s", lua_tostring(L, -1));
        return -1;
    }
    mf_response_from_stack(L, 1, &resp);
    return 0;
}

/* Header i as "name: value". */
static const char *header(int i)
{
    static char line[256];
    const char *name, *value;
    mf_response_header(&resp, i, &name, &value);
    snprintf(line, sizeof line, "%s: %s", name, value);
    return line;
}

#define ASSERT_READS(expr)                                                                         \
    do {                                                                                           \
        int rc_ = read_result(expr);                                                               \
        if (rc_)                                                                                   \
            printf("  %s: %s\n", expr, err_msg);                                                   \
        ASSERT_EQ_INT(rc_, 0);                                                                     \
    } while (0)

/* The result is refused with an error containing part. */
#define ASSERT_INVALID(expr, part)                                                                 \
    do {                                                                                           \
        ASSERT_EQ_INT(read_result(expr), -1);                                                      \
        if (!strstr(err_msg, "invalid response: ") || !strstr(err_msg, part))                      \
            printf("  %s: %s\n", expr, err_msg);                                                   \
        ASSERT_TRUE(strstr(err_msg, "invalid response: ") != NULL);                                \
        ASSERT_TRUE(strstr(err_msg, part) != NULL);                                                \
    } while (0)

/* ---- what a handler may return ---- */

TEST(nil_is_204_without_a_body)
{
    ASSERT_READS("nil");
    ASSERT_EQ_INT(resp.status, 204);
    ASSERT_EQ_INT(resp.body_len, 0);
    ASSERT_TRUE(resp.ctype == NULL);
    ASSERT_EQ_INT(resp.nheaders, 0);
}

TEST(a_string_is_a_200_text_body)
{
    ASSERT_READS("'hello'");
    ASSERT_EQ_INT(resp.status, 200);
    ASSERT_EQ_MEM(resp.body, resp.body_len, "hello", (size_t)5);
    ASSERT_EQ_STR(resp.ctype, MF_CTYPE_TEXT);
    ASSERT_EQ_INT(resp.nheaders, 0);
    /* Bytes as they are, NULs included. */
    ASSERT_READS("'a\\0b'");
    ASSERT_EQ_MEM(resp.body, resp.body_len, "a\0b", (size_t)3);
}

TEST(a_table_gives_status_and_body)
{
    ASSERT_READS("{status = 201, body = 'made'}");
    ASSERT_EQ_INT(resp.status, 201);
    ASSERT_EQ_MEM(resp.body, resp.body_len, "made", (size_t)4);
    ASSERT_EQ_STR(resp.ctype, MF_CTYPE_TEXT);
    ASSERT_READS("{body = 42}");
    ASSERT_EQ_INT(resp.status, 200);
    ASSERT_EQ_MEM(resp.body, resp.body_len, "42", (size_t)2);
    /* No body: an empty one, still with the host's Content-Type. */
    ASSERT_READS("{status = 404}");
    ASSERT_EQ_INT(resp.status, 404);
    ASSERT_EQ_INT(resp.body_len, 0);
    ASSERT_EQ_STR(resp.ctype, MF_CTYPE_TEXT);
    ASSERT_READS("{status = 599}");
    ASSERT_EQ_INT(resp.status, 599);
}

TEST(json_is_encoded_with_its_content_type)
{
    ASSERT_READS("{status = 202, json = {ok = true}}");
    ASSERT_EQ_INT(resp.status, 202);
    ASSERT_EQ_MEM(resp.body, resp.body_len, "{\"ok\":true}", (size_t)11);
    ASSERT_EQ_STR(resp.ctype, MF_CTYPE_JSON);
    /* json= wins over body=. */
    ASSERT_READS("{json = {1, 2}, body = 'ignored'}");
    ASSERT_EQ_MEM(resp.body, resp.body_len, "[1,2]", (size_t)5);
}

TEST(a_content_type_header_replaces_the_hosts)
{
    ASSERT_READS("{body = '<p>', headers = {['content-type'] = 'text/html'}}");
    ASSERT_TRUE(resp.ctype == NULL);
    ASSERT_EQ_INT(resp.nheaders, 1);
    ASSERT_EQ_STR(header(0), "content-type: text/html");
    ASSERT_READS("{json = {}, headers = {['Content-Type'] = 'application/problem+json'}}");
    ASSERT_TRUE(resp.ctype == NULL);
    ASSERT_EQ_STR(header(0), "Content-Type: application/problem+json");
}

TEST(no_body_with_204_or_304)
{
    ASSERT_READS("{status = 204, body = 'dropped'}");
    ASSERT_EQ_INT(resp.body_len, 0);
    ASSERT_TRUE(resp.ctype == NULL);
    ASSERT_READS("{status = 304, json = {a = 1}}");
    ASSERT_EQ_INT(resp.status, 304);
    ASSERT_EQ_INT(resp.body_len, 0);
    ASSERT_TRUE(resp.ctype == NULL);
}

/* ---- headers ---- */

TEST(headers_are_strings_and_lists_of_them)
{
    ASSERT_READS("{headers = {['X-Count'] = 5}}");
    ASSERT_EQ_INT(resp.nheaders, 1);
    ASSERT_EQ_STR(header(0), "X-Count: 5");
    /* A list: one header line each, in order. */
    ASSERT_READS("{headers = {['Set-Cookie'] = {'a=1', 'b=2', 3}}}");
    ASSERT_EQ_INT(resp.nheaders, 3);
    ASSERT_EQ_STR(header(0), "Set-Cookie: a=1");
    ASSERT_EQ_STR(header(1), "Set-Cookie: b=2");
    ASSERT_EQ_STR(header(2), "Set-Cookie: 3");
    ASSERT_READS("{headers = {['X-Tab'] = 'a\\tb', ['X-Empty'] = ''}}");
    ASSERT_EQ_INT(resp.nheaders, 2);
    ASSERT_READS("{headers = {}}");
    ASSERT_EQ_INT(resp.nheaders, 0);
}

TEST(the_hosts_framing_headers_are_dropped)
{
    ASSERT_READS("{body = 'x', headers = {['Content-Length'] = '999', "
                 "['transfer-encoding'] = 'chunked', ['X-Kept'] = '1'}}");
    ASSERT_EQ_INT(resp.nheaders, 1);
    ASSERT_EQ_STR(header(0), "X-Kept: 1");
    ASSERT_EQ_MEM(resp.body, resp.body_len, "x", (size_t)1);
}

TEST(headers_that_could_split_the_response_are_refused)
{
    ASSERT_INVALID("{headers = {['X-A'] = 'a\\r\\nSet-Cookie: evil=1'}}", "header 'X-A' refused");
    ASSERT_INVALID("{headers = {['X-A'] = 'a\\nb'}}", "refused");
    ASSERT_INVALID("{headers = {['X-A'] = 'a\\rb'}}", "refused");
    ASSERT_INVALID("{headers = {['X-A'] = 'a\\0b'}}", "refused");
    ASSERT_INVALID("{headers = {['X-A'] = 'a\\127b'}}", "refused");
    ASSERT_INVALID("{headers = {['X-A'] = {'ok', 'a\\r\\nb'}}}", "refused");
    ASSERT_INVALID("{headers = {['X-A\\r\\nSet-Cookie'] = 'x'}}", "refused");
    ASSERT_INVALID("{headers = {['Bad Name'] = 'x'}}", "refused");
    ASSERT_INVALID("{headers = {['X:Y'] = 'x'}}", "refused");
    ASSERT_INVALID("{headers = {['X\\0Y'] = 'x'}}", "refused");
    ASSERT_INVALID("{headers = {[''] = 'x'}}", "refused");
}

/* ---- results it cannot send ---- */

TEST(other_results_are_refused_with_the_reason)
{
    ASSERT_INVALID("true", "handler returned a boolean");
    ASSERT_INVALID("42", "handler returned a number");
    ASSERT_INVALID("print", "handler returned a function");
    ASSERT_INVALID("{status = 199}", "invalid status 199");
    ASSERT_INVALID("{status = 600}", "invalid status 600");
    ASSERT_INVALID("{status = 200.5}", "invalid status");
    ASSERT_INVALID("{status = 0/0}", "invalid status");
    ASSERT_INVALID("{status = 1e300}", "invalid status");
    ASSERT_INVALID("{status = '200'}", "invalid status 200");
    ASSERT_INVALID("{body = {}}", "body is a table");
    ASSERT_INVALID("{body = true}", "body is a boolean");
    ASSERT_INVALID("{json = {f = print}}", "json= cannot be encoded");
    ASSERT_INVALID("{headers = 'X-A: 1'}", "headers is a string");
    ASSERT_INVALID("{headers = {'X-A: 1'}}", "header names must be strings");
    ASSERT_INVALID("{headers = {['X-A'] = true}}", "header 'X-A' has a boolean value");
    ASSERT_INVALID("{headers = {['X-A'] = {{'nested'}}}}", "a table value in its list");
}

int main(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    mf_json_open(L);
    RUN(nil_is_204_without_a_body);
    RUN(a_string_is_a_200_text_body);
    RUN(a_table_gives_status_and_body);
    RUN(json_is_encoded_with_its_content_type);
    RUN(a_content_type_header_replaces_the_hosts);
    RUN(no_body_with_204_or_304);
    RUN(headers_are_strings_and_lists_of_them);
    RUN(the_hosts_framing_headers_are_dropped);
    RUN(headers_that_could_split_the_response_are_refused);
    RUN(other_results_are_refused_with_the_reason);
    lua_close(L);
    TEST_MAIN_END();
}
