#include "observe/otel_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

/* ---- a table for getenv ---- */

static const char *const *env_table; /* name, value, ..., NULL */

static const char *table_getenv(const char *name)
{
    for (int i = 0; env_table && env_table[i]; i += 2)
        if (!strcmp(env_table[i], name))
            return env_table[i + 1];
    return NULL;
}

static char err[512];

static int read_env(mf_otel_config_t *c, const char *const *table)
{
    env_table = table;
    err[0] = '\0';
    return mf_otel_config_read(c, table_getenv, err, sizeof err);
}

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ENDPOINT "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"

/* Reads table, which must fail with a message that names name. */
static int fails_naming(const char *const *table, const char *name)
{
    mf_otel_config_t c;
    int rc = read_env(&c, table);
    int ok = rc == -1 && strstr(err, name) != NULL && !c.enabled && !c.endpoint && !c.resource;
    if (!ok)
        printf("    rc %d, err \"%s\" (expected one naming %s)\n", rc, err, name);
    return ok;
}

static const char *resource_value(const mf_otel_config_t *c, const char *key)
{
    for (size_t i = 0; i < c->nresource; i++)
        if (!strcmp(c->resource[i].key, key))
            return c->resource[i].value;
    return NULL;
}

/* ---- enabling ---- */

TEST(no_endpoint_is_off_and_reads_nothing_else)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV("OTEL_TRACES_SAMPLER", "bogus", "OTEL_BSP_MAX_QUEUE_SIZE", "x")),
                  0);
    ASSERT_EQ_INT(c.enabled, 0);
    ASSERT_TRUE(c.endpoint == NULL);
    /* An empty variable is an unset one. */
    ASSERT_EQ_INT(read_env(&c, ENV("OTEL_EXPORTER_OTLP_ENDPOINT", "",
                                   "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")),
                  0);
    ASSERT_EQ_INT(c.enabled, 0);
    ASSERT_EQ_INT(read_env(&c, NULL), 0);
    ASSERT_EQ_INT(c.enabled, 0);
}

TEST(sdk_disabled_and_exporter_none_turn_it_off)
{
    mf_otel_config_t c;
    static const char *const trues[] = {"true", "TRUE", "True"};
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_SDK_DISABLED", trues[i])), 0);
        ASSERT_EQ_INT(c.enabled, 0);
    }
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_SDK_DISABLED", "false")), 0);
    ASSERT_EQ_INT(c.enabled, 1);
    mf_otel_config_free(&c);
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_SDK_DISABLED", "1"), "OTEL_SDK_DISABLED"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_SDK_DISABLED", "yes"), "OTEL_SDK_DISABLED"));

    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_TRACES_EXPORTER", "none")), 0);
    ASSERT_EQ_INT(c.enabled, 0);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_TRACES_EXPORTER", "NONE")), 0);
    ASSERT_EQ_INT(c.enabled, 0);
    static const char *const on[] = {"otlp", "OTLP", " otlp ", "otlp,none"};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_TRACES_EXPORTER", on[i])), 0);
        ASSERT_EQ_INT(c.enabled, 1);
        mf_otel_config_free(&c);
    }
    ASSERT_TRUE(
        fails_naming(ENV(ENDPOINT, "OTEL_TRACES_EXPORTER", "zipkin"), "OTEL_TRACES_EXPORTER"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_TRACES_EXPORTER", "otlp,console"), "console"));
}

TEST(defaults)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT)), 0);
    ASSERT_EQ_INT(c.enabled, 1);
    ASSERT_EQ_STR(c.endpoint, "http://collector:4318/v1/traces");
    ASSERT_EQ_INT(c.protocol, MF_OTLP_PROTOBUF);
    ASSERT_EQ_INT(c.gzip, 0);
    ASSERT_TRUE(c.headers != NULL && c.headers[0] == NULL);
    ASSERT_EQ_INT(c.timeout_ms, 10000);
    ASSERT_TRUE(c.certificate == NULL);
    ASSERT_EQ_INT(c.sampler.kind, MF_SAMPLE_ALWAYS_ON);
    ASSERT_EQ_INT(c.sampler.parent_based, 1);
    ASSERT_TRUE(c.sampler.ratio == 1.0);
    ASSERT_EQ_INT(c.schedule_delay_ms, 5000);
    ASSERT_EQ_INT(c.export_timeout_ms, 30000);
    ASSERT_EQ_INT(c.max_queue_size, 2048);
    ASSERT_EQ_INT(c.max_export_batch_size, 512);
    ASSERT_EQ_INT(c.limits.attr_count, 128);
    ASSERT_EQ_INT(c.limits.event_count, 128);
    ASSERT_EQ_INT(c.limits.event_attr_count, 128);
    ASSERT_EQ_INT(c.limits.value_len, 4096);
    mf_otel_config_free(&c);
    ASSERT_TRUE(c.endpoint == NULL && c.resource == NULL && c.headers == NULL);
}

/* ---- the exporter's variables ---- */

TEST(endpoint_gets_the_traces_path_and_the_signal_endpoint_is_taken_as_is)
{
    static const struct {
        const char *general, *traces, *want;
    } cases[] = {
        {"http://c:4318", NULL, "http://c:4318/v1/traces"},
        {"http://c:4318/", NULL, "http://c:4318/v1/traces"},
        {"https://c/base", NULL, "https://c/base/v1/traces"},
        {"https://c/base/", NULL, "https://c/base/v1/traces"},
        {"HTTP://c:4318", NULL, "HTTP://c:4318/v1/traces"},
        {NULL, "http://t:4318", "http://t:4318"},
        {NULL, "http://t:4318/custom/", "http://t:4318/custom/"},
        {"http://c:4318", "http://t:9/x", "http://t:9/x"},
        {"http://c:4318", "", "http://c:4318/v1/traces"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mf_otel_config_t c;
        const char *table[5] = {NULL};
        int n = 0;
        if (cases[i].general)
            table[n++] = "OTEL_EXPORTER_OTLP_ENDPOINT", table[n++] = cases[i].general;
        if (cases[i].traces)
            table[n++] = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", table[n++] = cases[i].traces;
        ASSERT_EQ_INT(read_env(&c, table), 0);
        ASSERT_EQ_STR(c.endpoint, cases[i].want);
        mf_otel_config_free(&c);
    }
}

TEST(endpoint_must_be_an_http_url_with_a_host)
{
    static const char *const bad[] = {"collector:4318", "ftp://c",    "http://",  "http:///v1",
                                      "https://?q",     "http://a b", "//c:4318", "http://c\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ASSERT_TRUE(fails_naming(ENV("OTEL_EXPORTER_OTLP_ENDPOINT", bad[i]),
                                 "OTEL_EXPORTER_OTLP_ENDPOINT"));
        ASSERT_TRUE(fails_naming(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", bad[i]),
                                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
    }
}

TEST(protocol)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")), 0);
    ASSERT_EQ_INT(c.protocol, MF_OTLP_JSON);
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/Protobuf")), 0);
    ASSERT_EQ_INT(c.protocol, MF_OTLP_PROTOBUF);
    mf_otel_config_free(&c);
    /* The signal's own wins, here over a value that alone would be refused. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
                                   "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")),
                  0);
    ASSERT_EQ_INT(c.protocol, MF_OTLP_JSON);
    mf_otel_config_free(&c);
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                             "OTEL_EXPORTER_OTLP_PROTOCOL"));
    ASSERT_TRUE(strstr(err, "http/protobuf") && strstr(err, "http/json"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
                             "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"));
    ASSERT_TRUE(strstr(err, "http/protobuf") && strstr(err, "http/json"));
}

TEST(compression)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")), 0);
    ASSERT_EQ_INT(c.gzip, 1);
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_COMPRESSION", "none")), 0);
    ASSERT_EQ_INT(c.gzip, 0);
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_COMPRESSION", "none",
                                   "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP")),
                  0);
    ASSERT_EQ_INT(c.gzip, 1);
    mf_otel_config_free(&c);
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
                             "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"));
}

TEST(headers)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_HEADERS",
                                   " api-key = s%20e%3Dcret ,x-tenant=a,Authorization=Basic "
                                   "dXNlcjpwYXNz==,x-empty=")),
                  0);
    ASSERT_EQ_STR(c.headers[0], "api-key: s e=cret");
    ASSERT_EQ_STR(c.headers[1], "x-tenant: a");
    ASSERT_EQ_STR(c.headers[2], "Authorization: Basic dXNlcjpwYXNz==");
    ASSERT_EQ_STR(c.headers[3], "x-empty: ");
    ASSERT_TRUE(c.headers[4] == NULL);
    mf_otel_config_free(&c);
    /* The signal's own list replaces the general one. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2",
                                   "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "c=3")),
                  0);
    ASSERT_EQ_STR(c.headers[0], "c: 3");
    ASSERT_TRUE(c.headers[1] == NULL);
    mf_otel_config_free(&c);

    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_HEADERS", "a b=c"),
                             "OTEL_EXPORTER_OTLP_HEADERS"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_HEADERS", "x=1,Content-Type=a"),
                             "Content-Type"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_HEADERS", "x=%0d%0aEvil: 1"),
                             "OTEL_EXPORTER_OTLP_HEADERS"));
    /* A credential is never repeated in a message. */
    ASSERT_TRUE(
        fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=topsecret%zz"),
                     "OTEL_EXPORTER_OTLP_TRACES_HEADERS"));
    ASSERT_TRUE(strstr(err, "api-key") && !strstr(err, "topsecret"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_HEADERS", "Bearer topsecret"),
                             "OTEL_EXPORTER_OTLP_HEADERS"));
    ASSERT_TRUE(!strstr(err, "topsecret"));
}

TEST(timeouts_and_numbers)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TIMEOUT", "2500")), 0);
    ASSERT_EQ_INT(c.timeout_ms, 2500);
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TIMEOUT", "2500",
                                   "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700")),
                  0);
    ASSERT_EQ_INT(c.timeout_ms, 700);
    mf_otel_config_free(&c);
    /* A timeout of 0 is no limit. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TIMEOUT", "0",
                                   "OTEL_BSP_EXPORT_TIMEOUT", "0")),
                  0);
    ASSERT_EQ_INT(c.timeout_ms, INT32_MAX);
    ASSERT_EQ_INT(c.export_timeout_ms, INT32_MAX);
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TIMEOUT", "2147483647")), 0);
    ASSERT_EQ_INT(c.timeout_ms, 2147483647);
    mf_otel_config_free(&c);

    static const char *const bad[] = {
        "-1", "1.5", "10s", " 5", "5 ", "+5", "0x10", "2147483648", "99999999999999999999"};
    static const char *const vars[] = {
        "OTEL_EXPORTER_OTLP_TIMEOUT",        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_BSP_SCHEDULE_DELAY",           "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_BSP_MAX_QUEUE_SIZE",           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",       "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    };
    for (size_t v = 0; v < sizeof vars / sizeof *vars; v++)
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
            ASSERT_TRUE(fails_naming(ENV(ENDPOINT, vars[v], bad[i]), vars[v]));
}

TEST(certificate_and_client_certificates)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem")), 0);
    ASSERT_EQ_STR(c.certificate, "/etc/ca.pem");
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem",
                                   "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/etc/traces.pem")),
                  0);
    ASSERT_EQ_STR(c.certificate, "/etc/traces.pem");
    mf_otel_config_free(&c);
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_CLIENT_KEY", "/k.pem"),
                             "OTEL_EXPORTER_OTLP_CLIENT_KEY"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/c"),
                             "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"));
}

/* ---- sampler, batching, limits ---- */

TEST(samplers)
{
    static const struct {
        const char *name;
        mf_sampler_kind_t kind;
        int parent_based;
    } cases[] = {
        {"always_on", MF_SAMPLE_ALWAYS_ON, 0},
        {"always_off", MF_SAMPLE_ALWAYS_OFF, 0},
        {"traceidratio", MF_SAMPLE_RATIO, 0},
        {"parentbased_always_on", MF_SAMPLE_ALWAYS_ON, 1},
        {"parentbased_always_off", MF_SAMPLE_ALWAYS_OFF, 1},
        {"parentbased_traceidratio", MF_SAMPLE_RATIO, 1},
        {"ParentBased_TraceIdRatio", MF_SAMPLE_RATIO, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mf_otel_config_t c;
        ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_TRACES_SAMPLER", cases[i].name)), 0);
        ASSERT_EQ_INT(c.sampler.kind, cases[i].kind);
        ASSERT_EQ_INT(c.sampler.parent_based, cases[i].parent_based);
        ASSERT_TRUE(c.sampler.ratio == 1.0);
        mf_otel_config_free(&c);
    }
    ASSERT_TRUE(
        fails_naming(ENV(ENDPOINT, "OTEL_TRACES_SAMPLER", "jaeger_remote"), "OTEL_TRACES_SAMPLER"));
}

TEST(sampler_ratio)
{
    static const struct {
        const char *arg;
        double want;
    } good[] = {{"0.25", 0.25}, {"0", 0},      {"1", 1}, {"1.0", 1},
                {".5", 0.5},    {"1e-1", 0.1}, {"", 1.0}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        mf_otel_config_t c;
        ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_TRACES_SAMPLER", "traceidratio",
                                       "OTEL_TRACES_SAMPLER_ARG", good[i].arg)),
                      0);
        ASSERT_TRUE(c.sampler.ratio == good[i].want);
        mf_otel_config_free(&c);
    }
    static const char *const bad[] = {"1.5",    "-0.1", "abc", "nan",  "inf",
                                      "0x1p-2", "0.5x", "1e",  "2e-1e"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_TRACES_SAMPLER", "parentbased_traceidratio",
                                     "OTEL_TRACES_SAMPLER_ARG", bad[i]),
                                 "OTEL_TRACES_SAMPLER_ARG"));
    /* The argument belongs to the ratio samplers, and counts only with a sampler named. */
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_TRACES_SAMPLER", "always_on",
                                   "OTEL_TRACES_SAMPLER_ARG", "abc")),
                  0);
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_TRACES_SAMPLER_ARG", "0.1")), 0);
    ASSERT_EQ_INT(c.sampler.kind, MF_SAMPLE_ALWAYS_ON);
    ASSERT_TRUE(c.sampler.ratio == 1.0);
    mf_otel_config_free(&c);
}

TEST(batch_processor)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_BSP_SCHEDULE_DELAY", "0",
                                   "OTEL_BSP_EXPORT_TIMEOUT", "1500", "OTEL_BSP_MAX_QUEUE_SIZE",
                                   "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10")),
                  0);
    ASSERT_EQ_INT(c.schedule_delay_ms, 0);
    ASSERT_EQ_INT(c.export_timeout_ms, 1500);
    ASSERT_EQ_INT(c.max_queue_size, 100);
    ASSERT_EQ_INT(c.max_export_batch_size, 10);
    mf_otel_config_free(&c);
    /* A batch is at most the queue. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_BSP_MAX_QUEUE_SIZE", "100")), 0);
    ASSERT_EQ_INT(c.max_export_batch_size, 100);
    mf_otel_config_free(&c);
    ASSERT_TRUE(
        fails_naming(ENV(ENDPOINT, "OTEL_BSP_MAX_QUEUE_SIZE", "0"), "OTEL_BSP_MAX_QUEUE_SIZE"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0"),
                             "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"));
}

TEST(limits)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_ATTRIBUTE_COUNT_LIMIT", "10",
                                   "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100")),
                  0);
    ASSERT_EQ_INT(c.limits.attr_count, 10);
    ASSERT_EQ_INT(c.limits.event_attr_count, 10); /* the general limit applies to events too */
    ASSERT_EQ_INT(c.limits.event_count, 128);
    ASSERT_EQ_INT(c.limits.value_len, 100);
    mf_otel_config_free(&c);
    ASSERT_EQ_INT(
        read_env(&c,
                 ENV(ENDPOINT, "OTEL_ATTRIBUTE_COUNT_LIMIT", "10",
                     "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "20", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                     "3", "OTEL_SPAN_EVENT_COUNT_LIMIT", "0", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                     "100", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1000000")),
        0);
    ASSERT_EQ_INT(c.limits.attr_count, 20);
    ASSERT_EQ_INT(c.limits.event_attr_count, 3);
    ASSERT_EQ_INT(c.limits.event_count, 0);
    ASSERT_EQ_INT(c.limits.value_len, 1000000);
    mf_otel_config_free(&c);
    /* Span counters are 16 bits: a larger count limit is no limit. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1000000")), 0);
    ASSERT_EQ_INT(c.limits.attr_count, 65535);
    mf_otel_config_free(&c);
}

/* ---- the resource ---- */

TEST(resource_defaults)
{
    mf_otel_config_t c;
    char host[256] = "", pid[24];
    gethostname(host, sizeof host - 1);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "HOSTNAME", "box")), 0);
    ASSERT_EQ_STR(c.resource[0].key, "service.name");
    ASSERT_EQ_STR(c.resource[0].value, "unknown_service:mayfly");
    ASSERT_EQ_STR(resource_value(&c, "telemetry.sdk.name"), "mayfly");
    ASSERT_EQ_STR(resource_value(&c, "telemetry.sdk.language"), "lua");
    ASSERT_EQ_STR(resource_value(&c, "telemetry.sdk.version"), MAYFLY_VERSION);
    ASSERT_EQ_STR(resource_value(&c, "host.name"), host);
    ASSERT_EQ_STR(resource_value(&c, "process.pid"), pid);
    /* Outside Kubernetes HOSTNAME is no pod's name. */
    ASSERT_TRUE(resource_value(&c, "k8s.pod.name") == NULL);
    ASSERT_TRUE(resource_value(&c, "k8s.namespace.name") == NULL);
    ASSERT_TRUE(resource_value(&c, "k8s.node.name") == NULL);
    const char *id = resource_value(&c, "service.instance.id");
    ASSERT_TRUE(id != NULL);
    ASSERT_EQ_INT(strlen(id), 36);
    ASSERT_TRUE(id[8] == '-' && id[13] == '-' && id[14] == '4' && id[18] == '-' && id[23] == '-');
    ASSERT_TRUE(strchr("89ab", id[19]) != NULL);
    char first[37];
    snprintf(first, sizeof first, "%s", id);
    mf_otel_config_free(&c);
    /* Made once per process. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT)), 0);
    ASSERT_EQ_STR(resource_value(&c, "service.instance.id"), first);
    mf_otel_config_free(&c);
}

TEST(resource_attributes_and_service_name)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_RESOURCE_ATTRIBUTES",
                                   "deployment.environment.name=prod, service.name=from-attrs,"
                                   "team=a%2Cb%3Dc, host.name=mine,team=last,note=caf%C3%A9")),
                  0);
    ASSERT_EQ_STR(c.resource[0].key, "service.name");
    ASSERT_EQ_STR(c.resource[0].value, "from-attrs");
    ASSERT_EQ_STR(c.resource[1].key, "deployment.environment.name");
    ASSERT_EQ_STR(c.resource[1].value, "prod");
    /* A key given twice keeps its place and its last value. */
    ASSERT_EQ_STR(c.resource[2].key, "team");
    ASSERT_EQ_STR(c.resource[2].value, "last");
    ASSERT_EQ_STR(c.resource[3].key, "host.name");
    ASSERT_EQ_STR(c.resource[3].value, "mine"); /* not replaced by what mayfly knows */
    ASSERT_EQ_STR(c.resource[4].key, "note");
    ASSERT_EQ_STR(c.resource[4].value, "caf\xc3\xa9");
    ASSERT_EQ_STR(c.resource[5].key, "telemetry.sdk.name");
    int hosts = 0;
    for (size_t i = 0; i < c.nresource; i++)
        hosts += !strcmp(c.resource[i].key, "host.name");
    ASSERT_EQ_INT(hosts, 1);
    mf_otel_config_free(&c);

    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "OTEL_SERVICE_NAME", "shop",
                                   "OTEL_RESOURCE_ATTRIBUTES", "service.name=other,a=b%2Cc")),
                  0);
    ASSERT_EQ_STR(c.resource[0].key, "service.name");
    ASSERT_EQ_STR(c.resource[0].value, "shop");
    ASSERT_EQ_STR(resource_value(&c, "a"), "b,c");
    mf_otel_config_free(&c);

    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_RESOURCE_ATTRIBUTES", "a=b,c"),
                             "OTEL_RESOURCE_ATTRIBUTES"));
    ASSERT_TRUE(fails_naming(ENV(ENDPOINT, "OTEL_RESOURCE_ATTRIBUTES", "a=%G1"),
                             "OTEL_RESOURCE_ATTRIBUTES"));
}

TEST(kubernetes_attributes)
{
    mf_otel_config_t c;
    ASSERT_EQ_INT(
        read_env(&c, ENV(ENDPOINT, "POD_NAME", "web-7d9f-abcde", "POD_NAMESPACE", "shop",
                         "NAMESPACE", "ignored", "NODE_NAME", "node-1", "HOSTNAME", "other")),
        0);
    ASSERT_EQ_STR(resource_value(&c, "k8s.pod.name"), "web-7d9f-abcde");
    ASSERT_EQ_STR(resource_value(&c, "service.instance.id"), "web-7d9f-abcde");
    ASSERT_EQ_STR(resource_value(&c, "k8s.namespace.name"), "shop");
    ASSERT_EQ_STR(resource_value(&c, "k8s.node.name"), "node-1");
    mf_otel_config_free(&c);
    /* Inside Kubernetes the kubelet's HOSTNAME is the pod's name; NAMESPACE stands in for
     * POD_NAMESPACE, as in mayfly.env. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "KUBERNETES_SERVICE_HOST", "10.0.0.1", "HOSTNAME",
                                   "web-0", "NAMESPACE", "ns")),
                  0);
    ASSERT_EQ_STR(resource_value(&c, "k8s.pod.name"), "web-0");
    ASSERT_EQ_STR(resource_value(&c, "service.instance.id"), "web-0");
    ASSERT_EQ_STR(resource_value(&c, "k8s.namespace.name"), "ns");
    mf_otel_config_free(&c);
    /* POD_NAMESPACE alone does not make HOSTNAME a pod's name. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "POD_NAMESPACE", "ns", "HOSTNAME", "3f2a1c")), 0);
    ASSERT_TRUE(resource_value(&c, "k8s.pod.name") == NULL);
    ASSERT_EQ_STR(resource_value(&c, "k8s.namespace.name"), "ns");
    mf_otel_config_free(&c);
    /* What OTEL_RESOURCE_ATTRIBUTES says wins. */
    ASSERT_EQ_INT(read_env(&c, ENV(ENDPOINT, "POD_NAME", "p", "OTEL_RESOURCE_ATTRIBUTES",
                                   "k8s.pod.name=q,service.instance.id=i")),
                  0);
    ASSERT_EQ_STR(resource_value(&c, "k8s.pod.name"), "q");
    ASSERT_EQ_STR(resource_value(&c, "service.instance.id"), "i");
    mf_otel_config_free(&c);
}

/* ---- the list parser ---- */

static char pairs[512];

static void collect_pair(void *ud, const char *key, const char *value)
{
    (void)ud;
    size_t n = strlen(pairs);
    snprintf(pairs + n, sizeof pairs - n, "%s[%s|%s]", n ? " " : "", key, value);
}

static int parse(const char *list)
{
    pairs[0] = '\0';
    err[0] = '\0';
    return mf_otel_parse_list(list, collect_pair, NULL, err, sizeof err);
}

TEST(list_parses)
{
    static const struct {
        const char *list, *want;
    } cases[] = {
        {"", ""},
        {" , ,, \t", ""},
        {"a=b", "[a|b]"},
        {" a = b , c=d ", "[a|b] [c|d]"},
        {"\ta\t=\tb\t", "[a|b]"},
        {"a=1,,b=2,", "[a|1] [b|2]"},
        {"a=b=c", "[a|b=c]"},
        {"a==", "[a|=]"},
        {"a=", "[a|]"},
        {"a= ", "[a|]"},
        {"a=x y", "[a|x y]"},
        {"k%3Dx=v%2Cw", "[k=x|v,w]"},
        {"k=%3b", "[k|;]"},
        {"k=%e2%82%ac", "[k|\xe2\x82\xac]"},
        {"k=\xe2\x82\xac", "[k|\xe2\x82\xac]"},
        {"k=%20padded%20", "[k| padded ]"},
        {"k=a%09b", "[k|a\tb]"},
        {"k=%25", "[k|%]"},
        {"service.name=a,service.name=b", "[service.name|a] [service.name|b]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (parse(cases[i].list) != 0)
            printf("    \"%s\": %s\n", cases[i].list, err);
        ASSERT_EQ_STR(pairs, cases[i].want);
    }
}

TEST(list_refuses)
{
    static const struct {
        const char *list, *said, *before;
    } cases[] = {
        {"a", "member 1 has no '='", ""},
        {"a=1,b", "member 2 has no '='", "[a|1]"},
        {"=b", "member 1 has an empty key", ""},
        {"a=1, =b", "member 2 has an empty key", "[a|1]"},
        {"k=%", "'%'", ""},
        {"k=%4", "'%'", ""},
        {"k=v%", "'%'", ""},
        {"k=%zz", "'%'", ""},
        {"k=%4g", "'%'", ""},
        {"k%=v", "key of member 1", ""},
        {"k=%00", "control", ""},
        {"k=a\x01", "control", ""},
        {"k=%7f", "control", ""},
        {"k=%0a", "control", ""},
        {"k=a;p=1", "';'", ""},
        {"k;p=v", "';'", ""},
        {"k=\xff", "UTF-8", ""},
        {"k=%c3%28", "UTF-8", ""},
        {"k=%ed%a0%80", "UTF-8", ""},    /* a surrogate */
        {"k=%c0%af", "UTF-8", ""},       /* overlong */
        {"k=%f4%90%80%80", "UTF-8", ""}, /* past U+10FFFF */
        {"k=%e2%82", "UTF-8", ""},       /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ASSERT_EQ_INT(parse(cases[i].list), -1);
        if (!strstr(err, cases[i].said))
            printf("    \"%s\": \"%s\" lacks \"%s\"\n", cases[i].list, err, cases[i].said);
        ASSERT_TRUE(strstr(err, cases[i].said) != NULL);
        ASSERT_EQ_STR(pairs, cases[i].before);
    }
}

int main(void)
{
    RUN(no_endpoint_is_off_and_reads_nothing_else);
    RUN(sdk_disabled_and_exporter_none_turn_it_off);
    RUN(defaults);
    RUN(endpoint_gets_the_traces_path_and_the_signal_endpoint_is_taken_as_is);
    RUN(endpoint_must_be_an_http_url_with_a_host);
    RUN(protocol);
    RUN(compression);
    RUN(headers);
    RUN(timeouts_and_numbers);
    RUN(certificate_and_client_certificates);
    RUN(samplers);
    RUN(sampler_ratio);
    RUN(batch_processor);
    RUN(limits);
    RUN(resource_defaults);
    RUN(resource_attributes_and_service_name);
    RUN(kubernetes_attributes);
    RUN(list_parses);
    RUN(list_refuses);
    TEST_MAIN_END();
}
