/* Unit tests for host/router.c. Handlers are the route key strings themselves, so a match can
 * be checked with ASSERT_EQ_STR(m.handler, "GET /a"). */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

#include "test.h"

/* Adds every key (NULL-terminated list) with the key itself as handler; fails on any error. */
static void add_all(mf_router_t *r, const char *const *keys)
{
    char err[128];

    for (; *keys; keys++) {
        void *conflict = (void *)1;
        int rc = mf_router_add(r, *keys, (void *)*keys, &conflict, err, sizeof(err));

        if (rc != MF_ROUTER_OK)
            printf("    add \"%s\": %s\n", *keys, err);
        ASSERT_EQ_INT(rc, MF_ROUTER_OK);
        ASSERT_TRUE(conflict == NULL);
    }
}

static mf_router_t *build(const char *const *keys)
{
    mf_router_t *r = mf_router_new();

    add_all(r, keys);
    return r;
}

static int match(const mf_router_t *r, const char *method, const char *path, mf_route_match_t *m)
{
    return mf_router_match(r, method, path, strlen(path), m, NULL, 0);
}

/* ---- syntax ---- */

TEST(invalid_keys)
{
    static const char *const bad[] = {
        "",                                                        /* nothing */
        "GET",                                                     /* no path */
        "GET/a",                                                   /* no space */
        "get /a",                                                  /* lowercase method */
        "GeT /a",                                                  /* mixed case */
        "G3T /a",                                                  /* digit in method */
        " GET /a",                                                 /* leading space */
        "ABCDEFGHIJKLMNOPQRSTU /a",                                /* 21-letter method */
        "GET  /a",                                                 /* two spaces */
        "GET\t/a",                                                 /* tab */
        "GET a",                                                   /* path without '/' */
        "GET ",                                                    /* empty path */
        "GET //",                                                  /* empty segment at root */
        "GET //a",                                                 /* leading empty segment */
        "GET /a/",                                                 /* trailing slash */
        "GET /a//b",                                               /* empty segment inside */
        "GET /:",                                                  /* param without name */
        "GET /:1a",                                                /* name starts with digit */
        "GET /:a-b",                                               /* bad name char */
        "GET /a/:x.json",                                          /* param with suffix */
        "GET /:*",                                                 /* '*' as a name */
        "GET /*x",                                                 /* '*' not alone */
        "GET /**",                                                 /* ditto */
        "GET /*/a",                                                /* '*' not last */
        "GET /a/*/",                                               /* '*' then trailing slash */
        "GET /a/*/*",                                              /* two rests */
        "GET /:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/:q", /* 17 params */
        "GET /:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/*",  /* 16 + rest */
        NULL,
    };
    mf_router_t *r = mf_router_new();
    size_t i;

    for (i = 0; bad[i]; i++) {
        char err[256] = "";
        void *conflict = (void *)1;
        int rc = mf_router_add(r, bad[i], (void *)bad[i], &conflict, err, sizeof(err));

        if (rc != MF_ROUTER_EINVAL)
            printf("    accepted \"%s\"\n", bad[i]);
        ASSERT_EQ_INT(rc, MF_ROUTER_EINVAL);
        ASSERT_TRUE(conflict == NULL);
        ASSERT_TRUE(err[0] != '\0');
        ASSERT_TRUE(strchr(err, '\n') == NULL);
    }
    ASSERT_EQ_INT(mf_router_count(r), 0);
    mf_router_free(r);
}

TEST(valid_edge_keys)
{
    static const char *const good[] = {
        "GET /",
        "ABCDEFGHIJKLMNOPQRST /a", /* 20 letters, any token */
        "GET /a*b",                /* '*' and ':' inside a literal */
        "GET /a:b",
        "GET /_/:_",
        "GET /:A_9/x",
        "GET /caf\xc3\xa9/a b", /* any bytes but '/' */
        "GET /*",
        "GET /:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p",
        "GET /:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/*",
        NULL,
    };
    mf_router_t *r = build(good);

    ASSERT_EQ_INT(mf_router_count(r), 10);
    mf_router_free(r);
}

TEST(error_buffer_edge_cases)
{
    mf_router_t *r = mf_router_new();
    char small[8];

    /* NULL err, NULL conflict */
    ASSERT_EQ_INT(mf_router_add(r, "get /", NULL, NULL, NULL, 0), MF_ROUTER_EINVAL);
    /* truncated but terminated */
    memset(small, 'x', sizeof(small));
    ASSERT_EQ_INT(mf_router_add(r, "GET /a/", NULL, NULL, small, sizeof(small)), MF_ROUTER_EINVAL);
    ASSERT_EQ_INT(strlen(small), sizeof(small) - 1);
    ASSERT_EQ_INT(mf_router_add(r, "GET /a", NULL, NULL, small, 0), MF_ROUTER_OK);
    ASSERT_EQ_INT(mf_router_add(r, "GET /a", NULL, NULL, NULL, 0), MF_ROUTER_ECONFLICT);
    ASSERT_EQ_INT(mf_router_count(r), 1);
    mf_router_free(r);
    mf_router_free(NULL);
}

/* ---- conflicts ---- */

static void expect_conflict(mf_router_t *r, const char *key, const char *with)
{
    char err[256] = "";
    void *conflict = NULL;

    ASSERT_EQ_INT(mf_router_add(r, key, (void *)"new", &conflict, err, sizeof(err)),
                  MF_ROUTER_ECONFLICT);
    ASSERT_EQ_STR(conflict, with);
    ASSERT_TRUE(strstr(err, with) != NULL); /* the message names the earlier route */
}

TEST(conflicts)
{
    static const char *const keys[] = {
        "GET /a",   "GET /a/:x", "GET /a/:x/b", "GET /s/*",    "GET /", "POST /a/:y",
        "GET /a/b", "GET /a/*",  "HEAD /a",     "GET /a/:q/c", NULL,
    };
    mf_router_t *r = build(keys);
    mf_route_match_t m;

    expect_conflict(r, "GET /a", "GET /a");
    expect_conflict(r, "GET /a/:y", "GET /a/:x"); /* names do not matter */
    expect_conflict(r, "GET /a/:other/b", "GET /a/:x/b");
    expect_conflict(r, "POST /a/:z", "POST /a/:y");
    expect_conflict(r, "GET /s/*", "GET /s/*");
    expect_conflict(r, "GET /", "GET /");
    expect_conflict(r, "HEAD /a", "HEAD /a");
    ASSERT_EQ_INT(mf_router_count(r), 10);

    /* the router is unchanged: the first registration still wins */
    ASSERT_EQ_INT(match(r, "GET", "/a/1", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/:x");
    ASSERT_EQ_MEM(m.params[0].name, m.params[0].name_len, "x", 1);
    mf_router_free(r);
}

/* ---- matching ---- */

TEST(priority_literal_param_wildcard)
{
    static const char *const keys[] = {"GET /a/*", "GET /a/:x", "GET /a/b", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;

    ASSERT_EQ_INT(match(r, "GET", "/a/b", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/b");
    ASSERT_EQ_INT(m.nparams, 0);
    ASSERT_EQ_INT(match(r, "GET", "/a/c", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/:x");
    ASSERT_EQ_INT(match(r, "GET", "/a/b/c", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/*");
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "b/c", 3);
    ASSERT_EQ_INT(match(r, "GET", "/a", &m), MF_ROUTER_OK); /* empty rest */
    ASSERT_EQ_STR(m.handler, "GET /a/*");
    ASSERT_EQ_INT(m.params[0].value_len, 0);
    mf_router_free(r);
}

TEST(backtracking)
{
    static const char *const keys[] = {
        "GET /a/:x/c", "GET /a/b/d",  "GET /p/q/r/s",  "GET /p/:x/r/t",
        "GET /p/*",    "GET /z/b/:c", "GET /z/:b/c/d", NULL,
    };
    mf_router_t *r = build(keys);
    mf_route_match_t m;

    ASSERT_EQ_INT(match(r, "GET", "/a/b/c", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/:x/c");
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "b", 1);
    ASSERT_EQ_INT(match(r, "GET", "/a/b/d", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/b/d");
    ASSERT_EQ_INT(match(r, "GET", "/a/b/e", &m), MF_ROUTER_NOT_FOUND);
    /* deep failure on the literal branch, then the param branch, then the rest */
    ASSERT_EQ_INT(match(r, "GET", "/p/q/r/t", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /p/:x/r/t");
    ASSERT_EQ_INT(m.nparams, 1); /* no stale value left from the abandoned branch */
    ASSERT_EQ_INT(match(r, "GET", "/p/q/r/u", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /p/*");
    ASSERT_EQ_INT(m.nparams, 1);
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "q/r/u", 5);
    /* a param pushed then popped on the way */
    ASSERT_EQ_INT(match(r, "GET", "/z/b/c/d", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /z/:b/c/d");
    ASSERT_EQ_INT(m.nparams, 1);
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "b", 1);
    mf_router_free(r);
}

TEST(rest_match)
{
    static const char *const keys[] = {"GET /static/*", "GET /*", "GET /x", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    static const struct {
        const char *path, *handler, *rest;
    } cases[] = {
        {"/static/css/site.css", "GET /static/*", "css/site.css"},
        {"/static/a", "GET /static/*", "a"},
        {"/static", "GET /static/*", ""},
        {"/static/", "GET /static/*", ""},
        {"/static//css//a.css/", "GET /static/*", "css//a.css/"}, /* raw remainder */
        {"/", "GET /*", ""},
        {"", "GET /*", ""},
        {"/y/z", "GET /*", "y/z"},
        {"/x/y", "GET /*", "x/y"}, /* literal x has no child: back to the root rest */
        {"/statics", "GET /*", "statics"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_EQ_INT(match(r, "GET", cases[i].path, &m), MF_ROUTER_OK);
        ASSERT_EQ_STR(m.handler, cases[i].handler);
        ASSERT_EQ_INT(m.nparams, 1);
        ASSERT_EQ_MEM(m.params[0].name, m.params[0].name_len, "*", 1);
        ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, cases[i].rest,
                      strlen(cases[i].rest));
        /* the value points into the caller's buffer, even when empty */
        ASSERT_TRUE(m.params[0].value >= cases[i].path &&
                    m.params[0].value <= cases[i].path + strlen(cases[i].path));
    }
    ASSERT_EQ_INT(match(r, "GET", "/x", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /x");
    mf_router_free(r);
}

TEST(root_path)
{
    static const char *const keys[] = {"GET /", "GET /a", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;

    ASSERT_EQ_INT(match(r, "GET", "/", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /");
    ASSERT_EQ_INT(m.nparams, 0);
    ASSERT_EQ_INT(match(r, "GET", "", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /");
    ASSERT_EQ_INT(match(r, "GET", "///", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /");
    ASSERT_EQ_INT(mf_router_match(r, "GET", NULL, 0, &m, NULL, 0), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /");
    ASSERT_EQ_INT(match(r, "GET", "/b", &m), MF_ROUTER_NOT_FOUND);
    ASSERT_TRUE(m.handler == NULL && m.route == NULL && m.nparams == 0);
    mf_router_free(r);

    r = mf_router_new(); /* empty router */
    ASSERT_EQ_INT(match(r, "GET", "/", &m), MF_ROUTER_NOT_FOUND);
    mf_router_free(r);
}

TEST(repeated_and_trailing_slashes)
{
    static const char *const keys[] = {"GET /a/b", "GET /u/:id/posts", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    const char *p = "//u//42///posts//";

    ASSERT_EQ_INT(match(r, "GET", "//a//b/", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/b");
    ASSERT_EQ_INT(match(r, "GET", "a/b", &m), MF_ROUTER_OK); /* leading slash optional */
    ASSERT_EQ_INT(match(r, "GET", p, &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /u/:id/posts");
    ASSERT_TRUE(m.params[0].value == p + 5);
    ASSERT_EQ_INT(m.params[0].value_len, 2);
    /* a param never matches an empty segment */
    ASSERT_EQ_INT(match(r, "GET", "/u//posts", &m), MF_ROUTER_NOT_FOUND);
    ASSERT_EQ_INT(match(r, "GET", "/a", &m), MF_ROUTER_NOT_FOUND); /* prefix node only */
    ASSERT_EQ_INT(match(r, "GET", "/a/b/c", &m), MF_ROUTER_NOT_FOUND);
    mf_router_free(r);
}

TEST(case_sensitive_and_byte_exact)
{
    static const char *const keys[] = {"GET /About", "GET /caf\xc3\xa9", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    const char nul_path[] = {'/', 'A', 'b', 'o', 'u', 't', '\0', 'x'};

    ASSERT_EQ_INT(match(r, "GET", "/About", &m), MF_ROUTER_OK);
    ASSERT_EQ_INT(match(r, "GET", "/about", &m), MF_ROUTER_NOT_FOUND);
    ASSERT_EQ_INT(match(r, "GET", "/Abou", &m), MF_ROUTER_NOT_FOUND);
    ASSERT_EQ_INT(match(r, "GET", "/Aboutt", &m), MF_ROUTER_NOT_FOUND);
    ASSERT_EQ_INT(match(r, "GET", "/caf\xc3\xa9", &m), MF_ROUTER_OK);
    ASSERT_EQ_INT(match(r, "GET", "/caf%C3%A9", &m), MF_ROUTER_NOT_FOUND); /* never decoded */
    /* an embedded NUL is just a byte */
    ASSERT_EQ_INT(mf_router_match(r, "GET", nul_path, sizeof(nul_path), &m, NULL, 0),
                  MF_ROUTER_NOT_FOUND);
    ASSERT_EQ_INT(mf_router_match(r, "GET", nul_path, 6, &m, NULL, 0), MF_ROUTER_OK);
    /* methods are exact too */
    ASSERT_EQ_INT(match(r, "get", "/About", &m), MF_ROUTER_METHOD_NOT_ALLOWED);
    mf_router_free(r);
}

TEST(percent_escapes_kept_raw)
{
    static const char *const keys[] = {"GET /files/:name", "GET /a%20b", "GET /d/*", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;

    ASSERT_EQ_INT(match(r, "GET", "/files/a%2Fb%20c", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /files/:name");
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "a%2Fb%20c", 9);
    ASSERT_EQ_INT(match(r, "GET", "/a%20b", &m), MF_ROUTER_OK);
    ASSERT_EQ_INT(match(r, "GET", "/a b", &m), MF_ROUTER_NOT_FOUND);
    ASSERT_EQ_INT(match(r, "GET", "/d/%2e%2e/x", &m), MF_ROUTER_OK);
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "%2e%2e/x", 8);
    mf_router_free(r);
}

TEST(param_values_point_into_path)
{
    static const char *const keys[] = {"GET /u/:id/p/:post/*", "GET /u/:id", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    const char buf[] = "/u/42/p/7/a/b?ignored"; /* path_len stops before '?' */
    size_t len = (size_t)(strchr(buf, '?') - buf);

    ASSERT_EQ_INT(mf_router_match(r, "GET", buf, len, &m, NULL, 0), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.route, "GET /u/:id/p/:post/*");
    ASSERT_EQ_INT(m.nparams, 3);
    ASSERT_EQ_MEM(m.params[0].name, m.params[0].name_len, "id", 2);
    ASSERT_TRUE(m.params[0].value == buf + 3);
    ASSERT_EQ_INT(m.params[0].value_len, 2);
    ASSERT_EQ_MEM(m.params[1].name, m.params[1].name_len, "post", 4);
    ASSERT_TRUE(m.params[1].value == buf + 8);
    ASSERT_EQ_INT(m.params[1].value_len, 1);
    ASSERT_EQ_MEM(m.params[2].name, m.params[2].name_len, "*", 1);
    ASSERT_TRUE(m.params[2].value == buf + 10);
    ASSERT_EQ_INT(m.params[2].value_len, 3);
    /* a path_len cutting a buffer short */
    ASSERT_EQ_INT(mf_router_match(r, "GET", buf, 5, &m, NULL, 0), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.route, "GET /u/:id");
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "42", 2);
    mf_router_free(r);
}

TEST(param_names_per_method)
{
    static const char *const keys[] = {"GET /u/:id", "POST /u/:uid", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;

    ASSERT_EQ_INT(match(r, "GET", "/u/1", &m), MF_ROUTER_OK);
    ASSERT_EQ_MEM(m.params[0].name, m.params[0].name_len, "id", 2);
    ASSERT_EQ_INT(match(r, "POST", "/u/1", &m), MF_ROUTER_OK);
    ASSERT_EQ_MEM(m.params[0].name, m.params[0].name_len, "uid", 3);
    mf_router_free(r);
}

TEST(sixteen_params)
{
    static const char *const keys[] = {
        "GET /:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p",
        "GET /:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/*",
        NULL,
    };
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    const char *p = "/0/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15";
    char name[2] = "a";
    int i;

    ASSERT_EQ_INT(match(r, "GET", p, &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, keys[0]);
    ASSERT_EQ_INT(m.nparams, 16);
    for (i = 0; i < 16; i++) {
        char want[4];

        snprintf(want, sizeof(want), "%d", i);
        name[0] = (char)('a' + i);
        ASSERT_EQ_MEM(m.params[i].name, m.params[i].name_len, name, 1);
        ASSERT_EQ_MEM(m.params[i].value, m.params[i].value_len, want, strlen(want));
    }
    ASSERT_EQ_INT(match(r, "GET", "/0/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, keys[1]);
    ASSERT_EQ_INT(m.nparams, 16);
    ASSERT_EQ_MEM(m.params[15].value, m.params[15].value_len, "15/16", 5);
    mf_router_free(r);
}

/* ---- methods ---- */

TEST(head_falls_back_to_get)
{
    static const char *const keys[] = {"GET /a", "GET /b", "HEAD /b", "POST /c", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    char allow[64];

    ASSERT_EQ_INT(match(r, "HEAD", "/a", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a");
    ASSERT_EQ_INT(match(r, "HEAD", "/b", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "HEAD /b");
    ASSERT_EQ_INT(match(r, "GET", "/b", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /b");
    ASSERT_EQ_INT(mf_router_match(r, "HEAD", "/c", 2, &m, allow, sizeof(allow)),
                  MF_ROUTER_METHOD_NOT_ALLOWED);
    ASSERT_EQ_STR(allow, "POST");
    mf_router_free(r);
}

TEST(method_not_allowed_allow_header)
{
    static const char *const keys[] = {
        "POST /a", "GET /a",   "DELETE /a", "OPTIONS /a", "PUT /b", "HEAD /c", "GET /c",
        "GET /d",  "PATCH /d", "HEAD /e",   "A /f",       "ZZZ /f", "GET /f",  NULL,
    };
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    char allow[64];
    static const struct {
        const char *path, *allow;
    } cases[] = {
        {"/a", "DELETE, GET, HEAD, OPTIONS, POST"},
        {"/b", "PUT"},
        {"/c", "GET, HEAD"}, /* explicit HEAD not listed twice */
        {"/d", "GET, HEAD, PATCH"},
        {"/e", "HEAD"},
        {"/f", "A, GET, HEAD, ZZZ"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(allow, 'x', sizeof(allow));
        ASSERT_EQ_INT(mf_router_match(r, "TRACE", cases[i].path, 2, &m, allow, sizeof(allow)),
                      MF_ROUTER_METHOD_NOT_ALLOWED);
        ASSERT_EQ_STR(allow, cases[i].allow);
        ASSERT_TRUE(m.handler == NULL && m.route == NULL && m.nparams == 0);
    }
    /* truncation keeps the buffer terminated; NULL and 0 are accepted */
    ASSERT_EQ_INT(mf_router_match(r, "TRACE", "/a", 2, &m, allow, 9), MF_ROUTER_METHOD_NOT_ALLOWED);
    ASSERT_EQ_STR(allow, "DELETE"); /* whole methods only */
    ASSERT_EQ_INT(mf_router_match(r, "TRACE", "/a", 2, &m, allow, 1), MF_ROUTER_METHOD_NOT_ALLOWED);
    ASSERT_EQ_STR(allow, "");
    ASSERT_EQ_INT(mf_router_match(r, "TRACE", "/a", 2, &m, NULL, 0), MF_ROUTER_METHOD_NOT_ALLOWED);
    /* allow is cleared on success and on 404 */
    strcpy(allow, "stale");
    ASSERT_EQ_INT(mf_router_match(r, "GET", "/a", 2, &m, allow, sizeof(allow)), MF_ROUTER_OK);
    ASSERT_EQ_STR(allow, "");
    strcpy(allow, "stale");
    ASSERT_EQ_INT(mf_router_match(r, "GET", "/zz", 3, &m, allow, sizeof(allow)),
                  MF_ROUTER_NOT_FOUND);
    ASSERT_EQ_STR(allow, "");
    mf_router_free(r);
}

TEST(method_chosen_across_backtracking)
{
    static const char *const keys[] = {
        "GET /a/b", "POST /a/:x", "PUT /a/*", "GET /w/:x/c", "DELETE /w/*", NULL,
    };
    mf_router_t *r = build(keys);
    mf_route_match_t m;
    char allow[64];

    ASSERT_EQ_INT(match(r, "GET", "/a/b", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/b");
    ASSERT_EQ_INT(match(r, "POST", "/a/b", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "POST /a/:x");
    ASSERT_EQ_INT(m.nparams, 1);
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "b", 1);
    ASSERT_EQ_INT(match(r, "PUT", "/a/b", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "PUT /a/*");
    ASSERT_EQ_MEM(m.params[0].name, m.params[0].name_len, "*", 1);
    ASSERT_EQ_INT(match(r, "HEAD", "/a/b", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a/b");
    /* no shape has DELETE: Allow comes from the highest-priority match, the literal */
    ASSERT_EQ_INT(mf_router_match(r, "DELETE", "/a/b", 4, &m, allow, sizeof(allow)),
                  MF_ROUTER_METHOD_NOT_ALLOWED);
    ASSERT_EQ_STR(allow, "GET, HEAD");
    ASSERT_EQ_INT(mf_router_match(r, "DELETE", "/a/c", 4, &m, allow, sizeof(allow)),
                  MF_ROUTER_METHOD_NOT_ALLOWED);
    ASSERT_EQ_STR(allow, "POST");
    ASSERT_EQ_INT(mf_router_match(r, "DELETE", "/a/c/d", 6, &m, allow, sizeof(allow)),
                  MF_ROUTER_METHOD_NOT_ALLOWED);
    ASSERT_EQ_STR(allow, "PUT");
    /* the method found deeper, after a param was pushed and dropped */
    ASSERT_EQ_INT(match(r, "DELETE", "/w/v/c", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "DELETE /w/*");
    ASSERT_EQ_INT(m.nparams, 1);
    ASSERT_EQ_MEM(m.params[0].value, m.params[0].value_len, "v/c", 3);
    mf_router_free(r);
}

TEST(exact_node_beats_empty_rest)
{
    static const char *const keys[] = {"GET /a", "GET /a/*", "POST /a/*", NULL};
    mf_router_t *r = build(keys);
    mf_route_match_t m;

    ASSERT_EQ_INT(match(r, "GET", "/a", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "GET /a");
    ASSERT_EQ_INT(m.nparams, 0);
    ASSERT_EQ_INT(match(r, "POST", "/a/", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.handler, "POST /a/*");
    ASSERT_EQ_INT(m.params[0].value_len, 0);
    mf_router_free(r);
}

/* ---- ownership, listing, scale ---- */

TEST(strings_are_copied)
{
    mf_router_t *r = mf_router_new();
    mf_route_match_t m;
    char key[] = "GET /k/:name";

    ASSERT_EQ_INT(mf_router_add(r, key, key, NULL, NULL, 0), MF_ROUTER_OK);
    memset(key, 'z', sizeof(key) - 1);
    ASSERT_EQ_INT(match(r, "GET", "/k/v", &m), MF_ROUTER_OK);
    ASSERT_EQ_STR(m.route, "GET /k/:name");
    ASSERT_TRUE(m.route != key && m.handler == key);
    ASSERT_EQ_MEM(m.params[0].name, m.params[0].name_len, "name", 4);
    mf_router_free(r);
}

static void collect(void *ud, const char *route, void *handler)
{
    char *buf = ud;

    if (strcmp(route, handler) != 0)
        strcat(buf, "!handler!");
    strcat(buf, route);
    strcat(buf, "\n");
}

TEST(foreach_order)
{
    static const char *const keys[] = {
        "POST /b", "GET /b",   "GET /",  "DELETE /a/:id", "GET /a/:id",
        "GET /a",  "PUT /a/b", "GET /*", "GET /a/*",      NULL,
    };
    mf_router_t *r = build(keys);
    char buf[512] = "";

    ASSERT_EQ_INT(mf_router_count(r), 9);
    mf_router_foreach(r, collect, buf);
    ASSERT_EQ_STR(buf, "GET /\n"
                       "GET /*\n"
                       "GET /a\n"
                       "GET /a/*\n"
                       "DELETE /a/:id\n"
                       "GET /a/:id\n"
                       "PUT /a/b\n"
                       "GET /b\n"
                       "POST /b\n");
    mf_router_free(r);
}

TEST(many_literals)
{
    static char keys[300][32];
    mf_router_t *r = mf_router_new();
    mf_route_match_t m;
    char path[32];
    int i;

    /* inserted in a scrambled order so the sorted child array is exercised */
    for (i = 0; i < 300; i++) {
        int k = (i * 7919) % 300;

        snprintf(keys[k], sizeof(keys[k]), "GET /n%d/x", k * 3);
        ASSERT_EQ_INT(mf_router_add(r, keys[k], keys[k], NULL, NULL, 0), MF_ROUTER_OK);
    }
    ASSERT_EQ_INT(mf_router_count(r), 300);
    for (i = 0; i < 900; i++) {
        snprintf(path, sizeof(path), "/n%d/x", i);
        ASSERT_EQ_INT(match(r, "GET", path, &m), i % 3 ? MF_ROUTER_NOT_FOUND : MF_ROUTER_OK);
        if (i % 3 == 0)
            ASSERT_EQ_STR(m.handler, keys[i / 3]);
    }
    mf_router_free(r);
}

int main(void)
{
    RUN(invalid_keys);
    RUN(valid_edge_keys);
    RUN(error_buffer_edge_cases);
    RUN(conflicts);
    RUN(priority_literal_param_wildcard);
    RUN(backtracking);
    RUN(rest_match);
    RUN(root_path);
    RUN(repeated_and_trailing_slashes);
    RUN(case_sensitive_and_byte_exact);
    RUN(percent_escapes_kept_raw);
    RUN(param_values_point_into_path);
    RUN(param_names_per_method);
    RUN(sixteen_params);
    RUN(head_falls_back_to_get);
    RUN(method_not_allowed_allow_header);
    RUN(method_chosen_across_backtracking);
    RUN(exact_node_beats_empty_rest);
    RUN(strings_are_copied);
    RUN(foreach_order);
    RUN(many_literals);
    TEST_MAIN_END();
}
