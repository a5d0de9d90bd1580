/* The OpenTelemetry settings mayfly reads: the standard OTEL_* environment variables of the
 * OTLP/HTTP trace exporter, the resource, the sampler, the batch span processor and the span
 * limits. Read once at start-up (mayfly serve). */
#ifndef MF_OTEL_CONFIG_H
#define MF_OTEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "observe/span.h"

typedef enum { MF_OTLP_PROTOBUF, MF_OTLP_JSON } mf_otlp_protocol_t;

/* One resource attribute: key and value, NUL-terminated, owned by the config; integer: the
 * value is a decimal integer sent as one (process.pid), else it is sent as a string. */
typedef struct {
    char *key, *value;
    int integer;
} mf_otel_attr_t;

typedef struct {
    int enabled; /* an endpoint is set, and neither OTEL_SDK_DISABLED=true nor
                    OTEL_TRACES_EXPORTER=none: everything below is filled */
    char *endpoint; /* the traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
                       OTEL_EXPORTER_OTLP_ENDPOINT with "/v1/traces" appended */
    mf_otlp_protocol_t protocol; /* http/protobuf (the default) or http/json */
    int gzip;                    /* OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION: gzip | none (default) */
    char **headers;    /* OTEL_EXPORTER_OTLP_[TRACES_]HEADERS as "Name: value" lines (percent-
                          decoded), NULL-terminated */
    int64_t timeout_ms; /* OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT, default 10000 */
    char *certificate;  /* OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE (a CA file), or NULL */
    /* The resource: service.name first (OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES's,
     * else "unknown_service:mayfly"), then OTEL_RESOURCE_ATTRIBUTES in order, then what mayfly
     * knows (telemetry.sdk.*, service.instance.id, host.name, process.pid, k8s.pod.name,
     * k8s.namespace.name, k8s.node.name from the environment mayfly.env reads) unless the
     * variable already set it. */
    mf_otel_attr_t *resource;
    size_t nresource;
    mf_sampler_t sampler; /* OTEL_TRACES_SAMPLER[_ARG]; default parentbased_always_on */
    /* OTEL_BSP_*: the batch span processor. */
    int64_t schedule_delay_ms; /* 5000 */
    int64_t export_timeout_ms; /* 30000: one export, retries included */
    int max_queue_size;        /* 2048 */
    int max_export_batch_size; /* 512, at most max_queue_size */
    mf_span_limits_t limits;   /* OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT etc. */
} mf_otel_config_t;

/* Fills c from the environment (getenv_fn(name) returns a variable's value or NULL; getenv in
 * the binary, a table in the tests). Returns 0, with c->enabled 0 when tracing is off, or -1
 * with a message naming the variable in err (an unknown protocol or sampler, a number out of
 * range, a malformed header list); c then holds nothing. */
int mf_otel_config_read(mf_otel_config_t *c, const char *(*getenv_fn)(const char *name),
                        char *err, size_t errlen);
void mf_otel_config_free(mf_otel_config_t *c);

/* Parses a W3C Baggage-style list as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES
 * use it ("k1=v1,k2=v2": whitespace around keys and values trimmed, values percent-decoded, an
 * empty member skipped). Calls fn for each pair (key and value NUL-terminated, valid during the
 * call). Returns 0, or -1 with the reason in err (a member without '=', an empty key, a bad
 * percent escape); fn may have been called for the members before it. */
int mf_otel_parse_list(const char *list, void (*fn)(void *ud, const char *key, const char *value),
                       void *ud, char *err, size_t errlen);

#endif
