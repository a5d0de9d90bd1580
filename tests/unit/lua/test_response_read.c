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

/* ---- the response middleware's after sees ---- */

/* The table mf_response_table_lua makes of `return <expr>` (called with role and file when
 * role is not NULL), written with sorted keys: {body="x",headers={},status=200}. Returns 0, or
 * -1 with the error in err_msg. */
static int table_of(const char *expr, const char *role, char *out, size_t outlen)
{
    static const char *const show =
        "local function show(v)\n"
        "  if type(v) == 'string' then return '\"' .. v .. '\"' end\n"
        "  if type(v) ~= 'table' then return tostring(v) end\n"
        "  local keys, parts = {}, {}\n"
        "  for k in pairs(v) do keys[#keys + 1] = k end\n"
        "  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)\n"
        "  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. '=' .. show(v[k]) end\n"
        "  return '{' .. table.concat(parts, ',') .. '}'\n"
        "end\n"
        "return show(...)";
    char code[1024];
    lua_settop(L, 0);
    snprintf(code, sizeof code, "return %s", expr);
    if (luaL_loadstring(L, show) || luaL_loadstring(L, code)) {
        snprintf(err_msg, sizeof err_msg, "the test's Lua: %s", lua_tostring(L, -1));
        return -1;
    }
    lua_pushcfunction(L, mf_response_table_lua);
    lua_insert(L, -2);
    if (lua_pcall(L, 0, 1, 0)) {
        snprintf(err_msg, sizeof err_msg, "the test's Lua: %s", lua_tostring(L, -1));
        return -1;
    }
    if (role) {
        lua_pushstring(L, role);
        lua_pushliteral(L, "f.lua");
    }
    if (lua_pcall(L, role ? 3 : 1, 1, 0) || lua_pcall(L, 1, 1, 0)) {
        snprintf(err_msg, sizeof err_msg, "%s", lua_tostring(L, -1));
        return -1;
    }
    snprintf(out, outlen, "%s", lua_tostring(L, -1));
    return 0;
}

#define ASSERT_TABLE(expr, want)                                                                   \
    do {                                                                                           \
        char got_[512];                                                                            \
        int rc_ = table_of(expr, NULL, got_, sizeof got_);                                         \
        if (rc_)                                                                                   \
            printf("  %s: %s\n", expr, err_msg);                                                   \
        ASSERT_EQ_INT(rc_, 0);                                                                     \
        ASSERT_EQ_STR(got_, want);                                                                 \
    } while (0)

TEST(every_result_becomes_one_shape_of_table)
{
    ASSERT_TABLE("'hi'", "{body=\"hi\",headers={},status=200}");
    ASSERT_TABLE("nil", "{headers={},status=204}");
    ASSERT_TABLE("{body = 42}", "{body=\"42\",headers={},status=200}");
    ASSERT_TABLE("{status = 404}", "{headers={},status=404}");
    /* json= stays a value, for an after to read or change; it wins over body= as it does when
     * the response is sent. */
    ASSERT_TABLE("{status = 202, json = {a = {1, 2}}, body = 'ignored'}",
                 "{headers={},json={a={1=1,2=2}},status=202}");
    /* What the table had besides: dropped. */
    ASSERT_TABLE("{body = 'x', extra = 1}", "{body=\"x\",headers={},status=200}");
    /* Already the shape: the same again. */
    ASSERT_TABLE("{status = 201, headers = {['x-a'] = {'1', '2'}}, body = 'x'}",
                 "{body=\"x\",headers={x-a={1=\"1\",2=\"2\"}},status=201}");
}

TEST(its_headers_have_lower_case_names_and_string_values)
{
    ASSERT_TABLE("{headers = {['X-Count'] = 5, ['Set-Cookie'] = {'a=1', 'b=2'}}}",
                 "{headers={set-cookie={1=\"a=1\",2=\"b=2\"},x-count=\"5\"},status=200}");
    ASSERT_TABLE("{headers = {['Content-Length'] = '9', ['X-Kept'] = 'k'}}",
                 "{headers={x-kept=\"k\"},status=200}");
    /* Two spellings of one name: one list of both (in the order the table gave them). */
    char got[512];
    ASSERT_EQ_INT(
        table_of("{headers = {['X-A'] = '1', ['x-a'] = {'2', '3'}}}", NULL, got, sizeof got), 0);
    ASSERT_TRUE(strstr(got, "headers={x-a={1=") != NULL);
    ASSERT_TRUE(strstr(got, "3=") != NULL);
}

TEST(results_it_cannot_read_name_the_middleware)
{
    char got[512];
    ASSERT_EQ_INT(table_of("true", "after", got, sizeof got), -1);
    ASSERT_EQ_STR(err_msg, "invalid response from the after in f.lua: returned a boolean; "
                           "return a string or a table");
    ASSERT_EQ_INT(table_of("{status = 99}", "before", got, sizeof got), -1);
    ASSERT_TRUE(strstr(err_msg, "invalid response from the before in f.lua: invalid status 99") ==
                err_msg);
    /* A handler's, without a role: as mf_response_read_lua says it. */
    ASSERT_EQ_INT(table_of("42", NULL, got, sizeof got), -1);
    ASSERT_EQ_STR(err_msg, "invalid response: handler returned a number; return a string or a "
                           "table");
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
    RUN(every_result_becomes_one_shape_of_table);
    RUN(its_headers_have_lower_case_names_and_string_values);
    RUN(results_it_cannot_read_name_the_middleware);
    lua_close(L);
    TEST_MAIN_END();
}
