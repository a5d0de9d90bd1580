#include <pthread.h>
#include <stdlib.h>

#include "observe/metrics.h"
#include "test.h"

/* The value of the sample line that starts with series (labels as rendered), or -1. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static int route;

static void *hammer(void *arg)
{
    mf_metrics_shard_t *s = mf_metrics_shard();
    for (int i = 0; i < 10000; i++) {
        mf_metrics_request_begin(s);
        mf_metrics_request_end(s, i % 2 ? "GET" : "BREW", route, 200 + i % 3,
                               (int64_t)(i % 100) * 1000000);
    }
    (void)arg;
    return NULL;
}

TEST(shards_of_many_threads_sum_at_render)
{
    pthread_t t[4];
    route = mf_metrics_route_id("/t/:id", 6);
    ASSERT_EQ_INT(mf_metrics_route_id("/t/:id", 6), route); /* interned once */
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    size_t len;
    char *text = mf_metrics_render(0, &len);
    ASSERT_EQ_INT((long long)strlen(text), (long long)len);
    double get200 =
        value_of(text, "http_requests_total{method=\"GET\",route=\"/t/:id\",status=\"200\"}");
    double other201 =
        value_of(text, "http_requests_total{method=\"other\",route=\"/t/:id\",status=\"201\"}");
    double count = value_of(text, "http_request_duration_seconds_count{route=\"/t/:id\"}");
    double inf =
        value_of(text, "http_request_duration_seconds_bucket{route=\"/t/:id\",le=\"+Inf\"}");
    double le50ms =
        value_of(text, "http_request_duration_seconds_bucket{route=\"/t/:id\",le=\"0.05\"}");
    double in_flight = value_of(text, "http_requests_in_flight");
    free(text);
    /* GET 200: i = 3 (mod 6), 1667 per thread; BREW (other) 201: i = 4 (mod 6), 1666 */
    ASSERT_EQ_INT((long long)get200, 4 * 1667);
    ASSERT_EQ_INT((long long)other201, 4 * 1666);
    ASSERT_EQ_INT((long long)count, 40000);
    ASSERT_EQ_INT((long long)inf, 40000);
    /* durations 0..99 ms, i % 100: 0..50 fall at or below 50 ms */
    ASSERT_EQ_INT((long long)le50ms, 4 * 100 * 51);
    ASSERT_EQ_INT((long long)in_flight, 0);
}

TEST(openmetrics_names_counter_families_without_total)
{
    size_t len;
    char *text = mf_metrics_render(1, &len);
    ASSERT_TRUE(strstr(text, "# TYPE http_requests counter\n") != NULL);
    ASSERT_TRUE(strstr(text, "# TYPE http_requests_total") == NULL);
    ASSERT_TRUE(len > 6 && !strcmp(text + len - 6, "# EOF\n"));
    free(text);
    ASSERT_TRUE(mf_metrics_wants_openmetrics("application/openmetrics-text; version=1.0.0"));
    ASSERT_TRUE(!mf_metrics_wants_openmetrics("text/plain"));
    ASSERT_TRUE(!mf_metrics_wants_openmetrics(NULL));
}

TEST(declarations_are_idempotent_and_checked)
{
    char err[256];
    mf_metric_t *a, *b;
    const char *labels[] = {"kind"};
    ASSERT_EQ_INT(mf_metrics_declare(MF_METRIC_COUNTER, "u_total", "Help.", labels, 1, NULL, 0, &a,
                                     err, sizeof err),
                  0);
    ASSERT_EQ_INT(mf_metrics_declare(MF_METRIC_COUNTER, "u_total", "Help.", labels, 1, NULL, 0, &b,
                                     err, sizeof err),
                  0);
    ASSERT_TRUE(a == b);
    ASSERT_EQ_INT(mf_metrics_declare(MF_METRIC_COUNTER, "u_total", "Other.", labels, 1, NULL, 0, &b,
                                     err, sizeof err),
                  -1);
    ASSERT_TRUE(strstr(err, "already declared differently") != NULL);
    ASSERT_EQ_INT(
        mf_metrics_declare(MF_METRIC_GAUGE, "u", "x", NULL, 0, NULL, 0, &b, err, sizeof err),
        -1); /* OpenMetrics would name both families "u" */
    ASSERT_EQ_INT(
        mf_metrics_declare(MF_METRIC_GAUGE, "9u", "x", NULL, 0, NULL, 0, &b, err, sizeof err), -1);
    ASSERT_EQ_INT(mf_metrics_declare(MF_METRIC_GAUGE, "process_x", "x", NULL, 0, NULL, 0, &b, err,
                                     sizeof err),
                  -1);
    const char *dup[] = {"a", "a"};
    ASSERT_EQ_INT(
        mf_metrics_declare(MF_METRIC_GAUGE, "g_dup", "x", dup, 2, NULL, 0, &b, err, sizeof err),
        -1);
}

TEST(label_sets_are_bounded_and_cleaned)
{
    char err[256];
    mf_metric_t *m;
    const char *labels[] = {"v"};
    ASSERT_EQ_INT(mf_metrics_declare(MF_METRIC_COUNTER, "bound_total", "Bound.", labels, 1, NULL, 0,
                                     &m, err, sizeof err),
                  0);
    char v[16];
    for (int i = 0; i < MF_METRICS_MAX_SERIES; i++) {
        const char *vals[] = {v};
        size_t lens[] = {(size_t)snprintf(v, sizeof v, "v%d", i)};
        ASSERT_EQ_INT(mf_metric_series(m, vals, lens), i);
    }
    const char *again[] = {"v7"}, *more[] = {"new"};
    size_t two[] = {2}, three[] = {3};
    ASSERT_EQ_INT(mf_metric_series(m, again, two), 7);
    ASSERT_EQ_INT(mf_metric_series(m, more, three), -1);

    /* invalid UTF-8 and control bytes become U+FFFD: two raw values, one series */
    mf_metric_t *c;
    ASSERT_EQ_INT(mf_metrics_declare(MF_METRIC_COUNTER, "clean_total", "Clean.", labels, 1, NULL, 0,
                                     &c, err, sizeof err),
                  0);
    const char *x[] = {"a\xff"}, *y[] = {"a\x01"}, *q[] = {"q\"\\\n"};
    size_t l2[] = {2}, l4[] = {4};
    int sx = mf_metric_series(c, x, l2);
    ASSERT_EQ_INT(mf_metric_series(c, y, l2), sx);
    int sq = mf_metric_series(c, q, l4);
    mf_metric_add(mf_metrics_shard(), c, sx, 2);
    mf_metric_add(mf_metrics_shard(), c, sq, 0.5);
    size_t len;
    char *text = mf_metrics_render(0, &len);
    double vx = value_of(text, "clean_total{v=\"a\xef\xbf\xbd\"}");
    double vq = value_of(text, "clean_total{v=\"q\\\"\\\\\\n\"}");
    free(text);
    ASSERT_TRUE(vx == 2);
    ASSERT_TRUE(vq == 0.5);
}

int main(void)
{
    RUN(shards_of_many_threads_sum_at_render);
    RUN(openmetrics_names_counter_families_without_total);
    RUN(declarations_are_idempotent_and_checked);
    RUN(label_sets_are_bounded_and_cleaned);
    TEST_MAIN_END();
}
