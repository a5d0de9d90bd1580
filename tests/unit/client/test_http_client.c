#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "event/breaker.h"
#include "base/clock.h"
#include "client/http_client.h"
#include "test.h"

/* A loopback port that refuses connections: bound, never listening (closed at exit). */
static int refusing_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    return ntohs(a.sin_port);
}

typedef struct {
    const char *name;
    mf_http_client_stats_t found;
    int seen;
} find_t;

static void on_stats(void *ud, const mf_http_client_stats_t *s)
{
    find_t *f = ud;
    if (!strcmp(s->upstream, f->name)) {
        f->found = *s;
        f->seen++;
    }
}

static find_t stats_for(const char *name)
{
    find_t f = {.name = name};
    mf_http_client_stats_each(on_stats, &f);
    return f;
}

/* The upstream name mf_http_url_parse makes of URL. */
static const char *parses_to(const char *url, char *up, size_t len)
{
    mf_http_url_t t;
    char err[256];
    if (mf_http_url_parse(&t, url, err, sizeof err))
        return NULL;
    snprintf(up, len, "%s%s", t.upstream, t.https ? " (https)" : "");
    mf_http_url_free(&t);
    mf_http_url_free(&t); /* idempotent */
    return up;
}

TEST(checks_urls)
{
    char up[160], err[256];
    mf_http_url_t t;
    ASSERT_EQ_STR(parses_to("http://Example.COM/x", up, sizeof up), "example.com:80");
    ASSERT_EQ_STR(parses_to("https://[::1]:8443/", up, sizeof up), "[::1]:8443 (https)");
    ASSERT_EQ_STR(parses_to("https://h/", up, sizeof up), "h:443 (https)");
    ASSERT_EQ_INT(mf_http_url_parse(&t, "ftp://h/", err, sizeof err), -1);
    ASSERT_TRUE(strstr(err, "only http and https") != NULL);
    ASSERT_TRUE(t.parsed == NULL);
    ASSERT_EQ_INT(mf_http_url_parse(&t, "file:///etc/passwd", err, sizeof err), -1);
    ASSERT_EQ_INT(mf_http_url_parse(&t, "http://", err, sizeof err), -1);
    ASSERT_EQ_INT(mf_http_url_parse(&t, "not a url", err, sizeof err), -1);
}

/* libcurl's reading of url: upstream, port, request target and Host, and the URL it gives back. */
static int curl_reads(const char *url, char *upstream, int *port, char *target, char *authority,
                      char *text)
{
    CURLU *u = curl_url();
    char *host = NULL, *p = NULL, *path = NULL, *query = NULL, *full = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK;
    if (ok) {
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
        sprintf(upstream, "%s:%s", host, p);
        *port = atoi(p);
        sprintf(target, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
        sprintf(authority, *port == 80 ? "%s" : "%s:%s", host, p);
        strcpy(text, full);
    }
    curl_free(host);
    curl_free(p);
    curl_free(path);
    curl_free(query);
    curl_free(full);
    curl_url_cleanup(u);
    return ok;
}

/* The common form is read without libcurl: it must read as libcurl reads it, and what it does
 * not take goes to libcurl. */
TEST(plain_urls_read_as_libcurl_reads_them)
{
    static const char *const urls[] = {
        "http://inventory:8080/reserve", "http://a/", "http://a", "http://a?x=1",
        "http://10.0.0.1:80/p?q=1&r=a%20b", "http://svc.ns.svc.cluster.local/a/b;c=d@e:f",
        "http://a:65535/x?y?z=/", "http://a/x/./y", "http://a/x/../y", "http://127.1/",
        "http://0x7f.0.0.1/", "http://2130706433/", "http://010.0.0.1/", "http://A/",
        "http://a:080/", "http://a:/", "http://a/b c", "http://a/#frag", "http://u:p@a/",
        "http://[::1]:9/x", "http://a/\xc3\xa9", "http://a/.well-known/x", "http://1a.example/"};
    char err[256], upstream[256], target[512], authority[256], text[512];
    int port;
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        mf_http_url_t t;
        int ok = curl_reads(urls[i], upstream, &port, target, authority, text);
        ASSERT_EQ_INT(mf_http_url_parse(&t, urls[i], err, sizeof err), ok ? 0 : -1);
        if (!ok)
            continue;
        for (char *c = upstream; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        ASSERT_EQ_STR(t.upstream, upstream);
        ASSERT_EQ_INT(t.port, port);
        ASSERT_EQ_STR(t.target, target);
        ASSERT_EQ_STR(t.authority, authority);
        if (t.text)
            ASSERT_EQ_STR(t.text, text);
        mf_http_url_free(&t);
    }
}

TEST(names)
{
    ASSERT_EQ_STR(mf_http_err_name(MF_HTTP_ERR_CIRCUIT_OPEN), "circuit_open");
    ASSERT_EQ_STR(mf_http_err_name(MF_HTTP_ERR_TOO_LARGE), "too_large");
    ASSERT_EQ_STR(mf_http_class_name(MF_HTTP_CLASS_5XX), "5xx");
    ASSERT_EQ_STR(mf_http_class_name(MF_HTTP_CLASS_ERROR), "error");
}

/* A URL (and its upstream name) on a port where nothing listens. Returns 0 without one. */
static int refusing_upstream(char url[64], char name[64])
{
    int port = refusing_port();
    if (port <= 0)
        return 0;
    snprintf(url, 64, "http://127.0.0.1:%d/x", port);
    snprintf(name, 64, "127.0.0.1:%d", port);
    return 1;
}

/* Connect errors count against the upstream; at the threshold its breaker opens, and the next
 * call fails fast without an attempt. The counters show all of it. */
TEST(breaker_and_counters)
{
    mf_options_t o = {.http_timeout_ms = 2000,
                      .http_max_body = 1024,
                      .http_breaker_threshold = 2,
                      .http_breaker_cooldown_ms = 60000};
    mf_http_client_t *c = mf_http_client_new(&o, NULL);
    mf_http_result_t res;
    char url[64], name[64], err[256];
    mf_http_url_t target;
    ASSERT_TRUE(refusing_upstream(url, name));
    ASSERT_EQ_INT(mf_http_url_parse(&target, url, err, sizeof err), 0);
    mf_http_call_t call = {.method = "GET", .url = &target, .timeout_ms = 2000};

    for (int i = 0; i < 2; i++) {
        ASSERT_EQ_INT(mf_http_client_request(c, &call, &res), -1);
        ASSERT_EQ_INT(res.err, MF_HTTP_ERR_CONNECT);
        ASSERT_EQ_INT(res.attempts, 1);
        mf_http_result_free(&res);
    }
    ASSERT_EQ_INT(mf_http_client_request(c, &call, &res), -1);
    ASSERT_EQ_INT(res.err, MF_HTTP_ERR_CIRCUIT_OPEN);
    ASSERT_EQ_INT(res.attempts, 0);
    mf_http_result_free(&res);

    find_t f = stats_for(name);
    ASSERT_EQ_INT(f.seen, 1);
    ASSERT_EQ_INT(f.found.requests[MF_HTTP_CLASS_ERROR], 2);
    ASSERT_EQ_INT(f.found.requests[MF_HTTP_CLASS_2XX], 0);
    ASSERT_EQ_INT(f.found.errors[MF_HTTP_ERR_CONNECT], 2);
    ASSERT_EQ_INT(f.found.errors[MF_HTTP_ERR_CIRCUIT_OPEN], 1);
    ASSERT_EQ_INT(f.found.breaker_state, MF_BREAKER_OPEN);
    mf_http_client_free(c);
    mf_http_url_free(&target);
}

TEST(retries_and_deadline)
{
    mf_options_t o = {.http_timeout_ms = 2000,
                      .http_max_body = 1024,
                      .http_breaker_threshold = 100,
                      .http_breaker_cooldown_ms = 1000};
    mf_http_client_t *c = mf_http_client_new(&o, NULL);
    mf_http_result_t res;
    char url[64], name[64], err[256];
    mf_http_url_t target;
    ASSERT_TRUE(refusing_upstream(url, name));
    ASSERT_EQ_INT(mf_http_url_parse(&target, url, err, sizeof err), 0);
    mf_http_call_t call = {.method = "GET", .url = &target, .timeout_ms = 2000, .retries = 2};
    ASSERT_EQ_INT(mf_http_client_request(c, &call, &res), -1);
    ASSERT_EQ_INT(res.err, MF_HTTP_ERR_CONNECT);
    ASSERT_EQ_INT(res.attempts, 3);
    mf_http_result_free(&res);

    /* A request whose budget is gone makes no attempt. */
    call.deadline_ns = mf_now_ns() - 1;
    ASSERT_EQ_INT(mf_http_client_request(c, &call, &res), -1);
    ASSERT_EQ_INT(res.err, MF_HTTP_ERR_TIMEOUT);
    ASSERT_EQ_INT(res.attempts, 0);
    mf_http_result_free(&res);
    find_t f = stats_for(name);
    ASSERT_EQ_INT(f.found.requests[MF_HTTP_CLASS_ERROR], 3);
    ASSERT_EQ_INT(f.found.errors[MF_HTTP_ERR_TIMEOUT], 1);
    mf_http_client_free(c);
    mf_http_url_free(&target);
}

int main(void)
{
    RUN(checks_urls);
    RUN(plain_urls_read_as_libcurl_reads_them);
    RUN(names);
    RUN(breaker_and_counters);
    RUN(retries_and_deadline);
    TEST_MAIN_END();
}
