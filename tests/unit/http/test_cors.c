#include <stdlib.h>
#include <string.h>

#include "http/cors.h"
#include "test.h"

/* Settings as mf_options_load leaves them with only the CORS ones set. */
static mf_options_t settings(const char *origins)
{
    mf_options_t o;
    memset(&o, 0, sizeof o);
    o.cors_origins = origins;
    o.cors_max_age_ms = -1;
    return o;
}

static mf_cors_t *policy(const mf_options_t *o)
{
    mf_cors_t *c = NULL;
    char err[256] = "";
    if (mf_cors_new(o, &c, err, sizeof err))
        printf("    mf_cors_new: %s\n", err);
    return c;
}

/* The value of header name in h, or NULL; a name given twice is a failure ("twice"). */
static const char *value_of(const mf_cors_headers_t *h, const char *name)
{
    const char *found = NULL;
    for (int i = 0; i < h->n; i++) {
        if (!strcmp(h->h[i].name, name)) {
            if (found)
                return "twice";
            found = h->h[i].value;
        }
    }
    return found;
}

TEST(origin_syntax)
{
    static const struct {
        const char *origin;
        int ok;
    } cases[] = {
        {"https://app.example.com", 1},
        {"http://localhost:5173", 1},
        {"http://127.0.0.1:8080", 1},
        {"http://[::1]:3000", 1},
        {"capacitor://localhost", 1},
        {"https://xn--bcher-kva.example", 1},
        {"https://*.example.com", 1},
        {"https://*.example.com:8443", 1},
        {"HTTPS://App.Example.com", 1},
        {"https://app.example.com/", 0},
        {"https://app.example.com/path", 0},
        {"https://app.example.com?x", 0},
        {"https://user@app.example.com", 0},
        {"app.example.com", 0},
        {"//app.example.com", 0},
        {"https://", 0},
        {"https://app.example.com:", 0},
        {"https://app.example.com:0", 0},
        {"https://app.example.com:65536", 0},
        {"https://app.example.com:0443", 0},
        {"https://app..example.com", 0},
        {"https://app.example.com.", 0},
        {"https://-app.example.com", 0},
        {"https://*", 0},
        {"https://*.com", 0},
        {"https://a.*.example.com", 0},
        {"https://*example.com", 0},
        {"*.example.com", 0},
        {"*", 0},
        {"null", 0},
        {"https://[::1", 0},
        {"https://[]", 0},
        {"https://ex ample.com", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = mf_parse_origin(cases[i].origin, strlen(cases[i].origin));
        if (rc != (cases[i].ok ? 0 : -1))
            printf("    %s\n", cases[i].origin);
        ASSERT_EQ_INT(rc, cases[i].ok ? 0 : -1);
    }
}

TEST(off_without_origins)
{
    mf_options_t o = settings(NULL);
    mf_cors_t *c = (mf_cors_t *)&o; /* must be overwritten */
    char err[128];
    ASSERT_EQ_INT(mf_cors_new(&o, &c, err, sizeof err), 0);
    ASSERT_TRUE(c == NULL);
}

TEST(refusals_name_the_setting)
{
    static const struct {
        const char *origins, *methods, *headers, *expose;
        int credentials;
        const char *says;
    } cases[] = {
        {"https://a.example.com/", NULL, NULL, NULL, 0, "MAYFLY_CORS_ORIGINS"},
        {"*, https://a.example.com", NULL, NULL, NULL, 0, "MAYFLY_CORS_ORIGINS"},
        {" , ", NULL, NULL, NULL, 0, "MAYFLY_CORS_ORIGINS"},
        {"*", NULL, NULL, NULL, 1, "MAYFLY_CORS_CREDENTIALS"},
        {"https://a.example.com", "GET, P(ST", NULL, NULL, 0, "MAYFLY_CORS_METHODS"},
        {"https://a.example.com", NULL, "X-A, *", NULL, 0, "MAYFLY_CORS_HEADERS"},
        {"https://a.example.com", NULL, NULL, "*", 1, "MAYFLY_CORS_EXPOSE_HEADERS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_options_t o = settings(cases[i].origins);
        o.cors_methods = cases[i].methods;
        o.cors_headers = cases[i].headers;
        o.cors_expose_headers = cases[i].expose;
        o.cors_credentials = cases[i].credentials;
        mf_cors_t *c = NULL;
        char err[256] = "";
        ASSERT_EQ_INT(mf_cors_new(&o, &c, err, sizeof err), -1);
        ASSERT_TRUE(c == NULL);
        if (!strstr(err, cases[i].says))
            printf("    %zu: %s\n", i, err);
        ASSERT_TRUE(strstr(err, cases[i].says) != NULL);
    }
}

TEST(exact_origins)
{
    mf_options_t o =
        settings("https://app.example.com,http://localhost:5173 HTTPS://Admin.Example.com:443");
    mf_cors_t *c = policy(&o);
    ASSERT_TRUE(c != NULL);
    ASSERT_TRUE(mf_cors_allowed(c, "https://app.example.com"));
    ASSERT_TRUE(mf_cors_allowed(c, "http://localhost:5173"));
    ASSERT_TRUE(mf_cors_allowed(c, "https://admin.example.com")); /* default port dropped */
    ASSERT_TRUE(mf_cors_allowed(c, "https://APP.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, NULL));
    ASSERT_TRUE(!mf_cors_allowed(c, ""));
    ASSERT_TRUE(!mf_cors_allowed(c, "null"));
    ASSERT_TRUE(!mf_cors_allowed(c, "http://app.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://app.example.com:8443"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://app.example.co"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://app.example.com.evil.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://evilapp.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "http://localhost:517"));
    ASSERT_TRUE(!mf_cors_allowed(c, "http://localhost:51730"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://app.example.com, https://evil.com"));
    mf_cors_free(c);
}

TEST(subdomain_wildcard)
{
    mf_options_t o = settings("https://*.example.com, http://*.dev.example.org:8080");
    mf_cors_t *c = policy(&o);
    ASSERT_TRUE(c != NULL);
    ASSERT_TRUE(mf_cors_allowed(c, "https://a.example.com"));
    ASSERT_TRUE(mf_cors_allowed(c, "https://a.b.example.com"));
    ASSERT_TRUE(mf_cors_allowed(c, "https://A-1.Example.COM"));
    ASSERT_TRUE(mf_cors_allowed(c, "http://x.dev.example.org:8080"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://example.com"));      /* the domain itself */
    ASSERT_TRUE(!mf_cors_allowed(c, "https://evil-example.com")); /* not a subdomain */
    ASSERT_TRUE(!mf_cors_allowed(c, "https://evilexample.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://a..example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://a.example.com.evil.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://a.example.com:8443"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://evil.com/.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://evil.com:1.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "https://u@a.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "http://a.example.com"));
    ASSERT_TRUE(!mf_cors_allowed(c, "http://x.dev.example.org"));
    ASSERT_TRUE(!mf_cors_allowed(c, "http://x.dev.example.org:80801"));
    mf_cors_free(c);
}

TEST(preflight_detection)
{
    ASSERT_TRUE(mf_cors_is_preflight("OPTIONS", "https://a.example.com", "PUT"));
    ASSERT_TRUE(!mf_cors_is_preflight("OPTIONS", "https://a.example.com", NULL));
    ASSERT_TRUE(!mf_cors_is_preflight("OPTIONS", NULL, "PUT"));
    ASSERT_TRUE(!mf_cors_is_preflight("GET", "https://a.example.com", "PUT"));
    ASSERT_TRUE(!mf_cors_is_preflight("options", "https://a.example.com", "PUT"));
}

TEST(preflight_headers)
{
    mf_options_t o = settings("https://app.example.com");
    o.cors_headers = "Content-Type,Authorization";
    o.cors_max_age_ms = 600000;
    o.cors_credentials = 1;
    mf_cors_t *c = policy(&o);
    mf_cors_headers_t h;
    ASSERT_TRUE(c != NULL);

    mf_cors_preflight(c, "https://app.example.com", "PUT", "x-other", &h);
    ASSERT_EQ_INT(h.n, 6);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Origin"), "https://app.example.com");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Methods"),
                  "GET, HEAD, POST, PUT, PATCH, DELETE");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Headers"), "Content-Type, Authorization");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Max-Age"), "600");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Credentials"), "true");
    ASSERT_EQ_STR(value_of(&h, "Vary"),
                  "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");

    mf_cors_preflight(c, "https://evil.example.com", "PUT", NULL, &h);
    ASSERT_EQ_INT(h.n, 1);
    ASSERT_EQ_STR(value_of(&h, "Vary"),
                  "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    mf_cors_free(c);
}

TEST(preflight_echo)
{
    mf_options_t o = settings("*");
    o.cors_methods = "*";
    o.cors_headers = "*";
    mf_cors_t *c = policy(&o);
    mf_cors_headers_t h;
    ASSERT_TRUE(c != NULL);

    mf_cors_preflight(c, "https://any.example", "PURGE", "content-type, x-api-key", &h);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Origin"), "*");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Methods"), "PURGE");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Headers"), "content-type, x-api-key");
    ASSERT_TRUE(value_of(&h, "Access-Control-Max-Age") == NULL);
    ASSERT_TRUE(value_of(&h, "Access-Control-Allow-Credentials") == NULL);

    /* What is not a method or a list of header names is not echoed. */
    mf_cors_preflight(c, "https://any.example", "P T", "x-a\r\nSet-Cookie: a=1", &h);
    ASSERT_TRUE(value_of(&h, "Access-Control-Allow-Methods") == NULL);
    ASSERT_TRUE(value_of(&h, "Access-Control-Allow-Headers") == NULL);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Origin"), "*");
    mf_cors_preflight(c, "https://any.example", "GET", ", ,", &h);
    ASSERT_TRUE(value_of(&h, "Access-Control-Allow-Headers") == NULL);
    mf_cors_free(c);
}

TEST(no_headers_configured)
{
    mf_options_t o = settings("https://app.example.com");
    o.cors_methods = "GET POST";
    o.cors_max_age_ms = 0;
    mf_cors_t *c = policy(&o);
    mf_cors_headers_t h;
    ASSERT_TRUE(c != NULL);
    mf_cors_preflight(c, "https://app.example.com", "POST", "x-asked", &h);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Methods"), "GET, POST");
    ASSERT_TRUE(value_of(&h, "Access-Control-Allow-Headers") == NULL);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Max-Age"), "0");
    mf_cors_free(c);
}

TEST(actual_responses)
{
    mf_options_t o = settings("https://app.example.com");
    o.cors_expose_headers = "X-Request-Id,ETag";
    o.cors_credentials = 1;
    mf_cors_t *c = policy(&o);
    mf_cors_headers_t h;
    ASSERT_TRUE(c != NULL);

    mf_cors_response(c, "https://app.example.com", &h);
    ASSERT_EQ_INT(h.n, 4);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Origin"), "https://app.example.com");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Expose-Headers"), "X-Request-Id, ETag");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Credentials"), "true");
    ASSERT_EQ_STR(value_of(&h, "Vary"), "Origin");

    mf_cors_response(c, "https://evil.example.com", &h);
    ASSERT_EQ_INT(h.n, 1);
    ASSERT_EQ_STR(value_of(&h, "Vary"), "Origin");
    mf_cors_response(c, NULL, &h);
    ASSERT_EQ_INT(h.n, 1);
    ASSERT_EQ_STR(value_of(&h, "Vary"), "Origin");
    mf_cors_free(c);
}

TEST(actual_responses_any_origin)
{
    mf_options_t o = settings("*");
    o.cors_expose_headers = "*";
    mf_cors_t *c = policy(&o);
    mf_cors_headers_t h;
    ASSERT_TRUE(c != NULL);
    mf_cors_response(c, "https://anyone.example", &h);
    ASSERT_EQ_INT(h.n, 2);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Origin"), "*");
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Expose-Headers"), "*");
    ASSERT_TRUE(value_of(&h, "Vary") == NULL);
    mf_cors_response(c, NULL, &h);
    ASSERT_EQ_STR(value_of(&h, "Access-Control-Allow-Origin"), "*");
    mf_cors_free(c);
}

/* mf_options_load refuses what the policy would, before anything starts, naming the setting. */
TEST(options_refuse_at_load)
{
    static const struct {
        const char *var, *value, *says;
    } cases[] = {
        {"MAYFLY_CORS_ORIGINS", "https://a.example.com/app", "'https://a.example.com/app'"},
        {"MAYFLY_CORS_ORIGINS", "https://a.example.com, *", "is not an origin"},
        {"MAYFLY_CORS_ORIGINS", "https://*", "is not an origin"},
        {"MAYFLY_CORS_METHODS", "GET;POST", "MAYFLY_CORS_METHODS"},
        {"MAYFLY_CORS_HEADERS", "X-A:1", "MAYFLY_CORS_HEADERS"},
        {"MAYFLY_CORS_MAX_AGE", "soon", "MAYFLY_CORS_MAX_AGE"},
    };
    mf_options_t o;
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].var, cases[i].value, 1);
        ASSERT_EQ_INT(mf_options_load(&o, 0, NULL, err, sizeof err), -1);
        unsetenv(cases[i].var);
        if (!strstr(err, cases[i].says))
            printf("    %s\n", err);
        ASSERT_TRUE(strstr(err, cases[i].says) != NULL);
    }

    char *star_credentials[] = {"--cors-origins=*", "--cors-credentials=on"};
    ASSERT_EQ_INT(mf_options_load(&o, 2, star_credentials, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "MAYFLY_CORS_ORIGINS=* with MAYFLY_CORS_CREDENTIALS=on") != NULL);
    char *expose_credentials[] = {"--cors-origins=https://a.example.com", "--cors-expose-headers=*",
                                  "--cors-credentials=on"};
    ASSERT_EQ_INT(mf_options_load(&o, 3, expose_credentials, err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "MAYFLY_CORS_EXPOSE_HEADERS") != NULL);

    char *good[] = {"--cors-origins", "https://a.example.com https://*.example.org",
                    "--cors-max-age=10m", "--cors-credentials=on"};
    ASSERT_EQ_INT(mf_options_load(&o, 4, good, err, sizeof err), 0);
    ASSERT_EQ_STR(o.cors_origins, "https://a.example.com https://*.example.org");
    ASSERT_EQ_INT(o.cors_max_age_ms, 600000);
    ASSERT_EQ_INT(o.cors_credentials, 1);
    ASSERT_TRUE(o.cors_methods == NULL);
    ASSERT_EQ_INT(mf_options_load(&o, 0, NULL, err, sizeof err), 0);
    ASSERT_TRUE(o.cors_origins == NULL);
    ASSERT_EQ_INT(o.cors_max_age_ms, -1);
}

int main(void)
{
    RUN(origin_syntax);
    RUN(off_without_origins);
    RUN(refusals_name_the_setting);
    RUN(exact_origins);
    RUN(subdomain_wildcard);
    RUN(preflight_detection);
    RUN(preflight_headers);
    RUN(preflight_echo);
    RUN(no_headers_configured);
    RUN(actual_responses);
    RUN(actual_responses_any_origin);
    RUN(options_refuse_at_load);
    TEST_MAIN_END();
}
