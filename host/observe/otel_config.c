#include "observe/otel_config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/random.h"
#include "base/syntax.h"

typedef const char *(*getenv_fn_t)(const char *name);

/* The span limits' counters are 16 bits wide (span.h): a larger count limit means no limit. */
#define COUNT_LIMIT_MAX UINT16_MAX
/* OpenTelemetry's default value length limit is none. mayfly's queue holds max_queue_size
 * spans of up to attr_count values each: only with each value bounded is the queue's memory
 * bounded, so an unset limit is this cap. A limit set explicitly is taken as it is. */
#define VALUE_LENGTH_DEFAULT 4096
/* A timeout of 0 means no limit (the specification's Timeout type): a very long time. */
#define NO_TIMEOUT_MS INT32_MAX

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- the list of OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES ---- */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates): OTLP's strings are
 * protobuf strings, which decoders refuse otherwise. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t more;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if (n - i <= more)
            return 0;
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        i += more + 1;
    }
    return 1;
}

/* Percent-decodes s[0..n) into out (at most n bytes and a NUL). Returns 0, or -1 with why. */
static int decode(const char *s, size_t n, char *out, const char **why)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? mf_syntax_hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < n ? mf_syntax_hex_digit(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "has a '%' that two hex digits do not follow";
                return -1;
            }
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == ';') {
            *why = "has a ';': properties (metadata) are not supported; write a ';' of a value "
                   "as %3B";
            return -1;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            *why = "has a control character";
            return -1;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (!utf8_valid((const unsigned char *)out, o)) {
        *why = "is not valid UTF-8";
        return -1;
    }
    return 0;
}

int mf_otel_parse_list(const char *list, void (*fn)(void *ud, const char *key, const char *value),
                       void *ud, char *err, size_t errlen)
{
    size_t len = strlen(list);
    char *key = mf_xmalloc(len + 1), *value = mf_xmalloc(len + 1);
    const char *why;
    int member = 0, rc = -1;

    for (const char *p = list;; p++) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        member++;
        while (p < end && is_ows(*p))
            p++;
        const char *last = end;
        while (last > p && is_ows(last[-1]))
            last--;
        if (p < last) {
            /* A key has no '=' of its own (encoded as %3D); a value may hold one: W3C Baggage
             * allows it, and base64 credentials end with it. */
            const char *eq = memchr(p, '=', (size_t)(last - p));
            if (!eq) {
                fail(err, errlen, "member %d has no '=' (a key without a value)", member);
                goto done;
            }
            const char *key_end = eq, *v = eq + 1;
            while (key_end > p && is_ows(key_end[-1]))
                key_end--;
            while (v < last && is_ows(*v))
                v++;
            if (key_end == p) {
                fail(err, errlen, "member %d has an empty key", member);
                goto done;
            }
            if (decode(p, (size_t)(key_end - p), key, &why)) {
                fail(err, errlen, "the key of member %d %s", member, why);
                goto done;
            }
            /* The value is not repeated in the message: a header's may be a credential. */
            if (decode(v, (size_t)(last - v), value, &why)) {
                fail(err, errlen, "the value of member %d (key \"%.64s\") %s", member, key, why);
                goto done;
            }
            fn(ud, key, value);
        }
        if (!*end)
            break;
        p = end;
    }
    rc = 0;
done:
    free(key);
    free(value);
    return rc;
}

/* ---- reading the variables ---- */

typedef struct {
    getenv_fn_t getenv_fn;
    char *err;
    size_t errlen;
} reader_t;

/* A variable's value; an empty one is unset, as the specification says. */
static const char *env(const reader_t *r, const char *name)
{
    const char *v = r->getenv_fn(name);
    return v && *v ? v : NULL;
}

/* The first of two variables that is set (the signal-specific one first); *used its name. */
static const char *env2(const reader_t *r, const char *specific, const char *general,
                        const char **used)
{
    const char *v = env(r, specific);
    *used = specific;
    if (!v) {
        v = env(r, general);
        *used = general;
    }
    return v;
}

/* A non-negative integer (OpenTelemetry's Integer, Duration and Timeout types: digits only, at
 * most 2^31-1). Unset: *out = def. */
static int read_int(const reader_t *r, const char *name, const char *fallback, int64_t def,
                    int64_t *out)
{
    const char *used = name;
    const char *v = fallback ? env2(r, name, fallback, &used) : env(r, name);
    if (!v) {
        *out = def;
        return 0;
    }
    int64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return fail(r->err, r->errlen, "%s: \"%.64s\" is not a non-negative integer", used, v);
        n = n * 10 + (*p - '0');
        if (n > INT32_MAX)
            return fail(r->err, r->errlen, "%s: %.64s is more than %d", used, v, INT32_MAX);
    }
    *out = n;
    return 0;
}

static int read_positive(const reader_t *r, const char *name, int64_t def, int64_t *out)
{
    if (read_int(r, name, NULL, def, out))
        return -1;
    if (*out == 0)
        return fail(r->err, r->errlen, "%s: must be at least 1", name);
    return 0;
}

static int read_timeout(const reader_t *r, const char *name, const char *fallback, int64_t def,
                        int64_t *out)
{
    if (read_int(r, name, fallback, def, out))
        return -1;
    if (*out == 0)
        *out = NO_TIMEOUT_MS;
    return 0;
}

static int read_count_limit(const reader_t *r, const char *name, const char *fallback, int *out)
{
    int64_t n;
    if (read_int(r, name, fallback, 128, &n))
        return -1;
    *out = n > COUNT_LIMIT_MAX ? COUNT_LIMIT_MAX : (int)n;
    return 0;
}

/* ---- exporter selection, endpoint, protocol ---- */

/* OTEL_TRACES_EXPORTER: a comma-separated list; otlp (the default) or none. *on 0 for none. */
static int read_exporter(const reader_t *r, int *on)
{
    const char *v = env(r, "OTEL_TRACES_EXPORTER");
    *on = 1;
    if (!v)
        return 0;
    int otlp = 0;
    for (const char *p = v;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_ows(*a))
            a++;
        while (b > a && is_ows(b[-1]))
            b--;
        size_t n = (size_t)(b - a);
        if (n == 4 && !strncasecmp(a, "otlp", 4))
            otlp = 1;
        else if (!(n == 4 && !strncasecmp(a, "none", 4)))
            return fail(r->err, r->errlen,
                        "OTEL_TRACES_EXPORTER: \"%.*s\" is not supported: mayfly exports traces "
                        "with otlp (the default), or none",
                        (int)(n > 64 ? 64 : n), a);
        if (!*end)
            break;
        p = end + 1;
    }
    *on = otlp;
    return 0;
}

/* An http:// or https:// URL with a host, and no byte a URL cannot hold as it is. */
static int url_ok(const char *u)
{
    size_t skip;
    if (!strncasecmp(u, "http://", 7))
        skip = 7;
    else if (!strncasecmp(u, "https://", 8))
        skip = 8;
    else
        return 0;
    if (!u[skip] || strchr("/?#", u[skip]))
        return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

static int read_endpoint(const reader_t *r, mf_otel_config_t *c)
{
    const char *name = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    const char *v = env(r, name);
    if (v) {
        c->endpoint = mf_xstrdup(v); /* as given: a signal's own endpoint is the whole URL */
    } else if ((v = env(r, name = "OTEL_EXPORTER_OTLP_ENDPOINT"))) {
        size_t n = strlen(v);
        const char *path = n && v[n - 1] == '/' ? "v1/traces" : "/v1/traces";
        c->endpoint = mf_xmalloc(n + strlen(path) + 1);
        memcpy(c->endpoint, v, n);
        strcpy(c->endpoint + n, path);
    } else {
        return 0;
    }
    if (!url_ok(v))
        return fail(r->err, r->errlen,
                    "%s: \"%.128s\" is not an http:// or https:// URL with a host", name, v);
    return 0;
}

static int read_protocol(const reader_t *r, mf_otel_config_t *c)
{
    const char *used;
    const char *v =
        env2(r, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &used);
    c->protocol = MF_OTLP_PROTOBUF;
    if (!v || !strcasecmp(v, "http/protobuf"))
        return 0;
    if (!strcasecmp(v, "http/json")) {
        c->protocol = MF_OTLP_JSON;
        return 0;
    }
    return fail(r->err, r->errlen,
                "%s: \"%.64s\" is not supported: mayfly exports over OTLP/HTTP, http/protobuf (the "
                "default) or http/json%s",
                used, v,
                strcasecmp(v, "grpc") ? ""
                                      : " (not gRPC; a collector takes OTLP/HTTP on "
                                        "port 4318)");
}

static int read_compression(const reader_t *r, mf_otel_config_t *c)
{
    const char *used;
    const char *v =
        env2(r, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION", &used);
    /* None by default, as the specification has it: gzip costs the exporter more than encoding
     * (docs/benchmarks.md#tracing), which a collector on the node or in the pod does not need. */
    c->gzip = v && !strcasecmp(v, "gzip");
    if (v && !c->gzip && strcasecmp(v, "none"))
        return fail(r->err, r->errlen, "%s: \"%.64s\" is not supported: gzip or none (the default)",
                    used, v);
    return 0;
}

/* ---- headers ---- */

typedef struct {
    char **lines;
    size_t n;
    const char *bad; /* the first name refused, and why */
    const char *why;
    char bad_name[65];
} header_list_t;

static void on_header(void *ud, const char *key, const char *value)
{
    /* The exporter writes these itself: another value would misdescribe the body. */
    static const char *const own[] = {"content-type", "content-encoding", "content-length",
                                      "transfer-encoding", "expect"};
    header_list_t *h = ud;
    if (h->bad)
        return;
    if (!mf_syntax_http_token(key, strlen(key)))
        h->why = "is not a valid header name";
    for (size_t i = 0; !h->why && i < sizeof own / sizeof *own; i++)
        if (!strcasecmp(key, own[i]))
            h->why = "is a header the exporter sets itself";
    if (h->why) {
        snprintf(h->bad_name, sizeof h->bad_name, "%s", key);
        h->bad = h->bad_name;
        return;
    }
    size_t kn = strlen(key), vn = strlen(value);
    char *line = mf_xmalloc(kn + 2 + vn + 1);
    memcpy(line, key, kn);
    memcpy(line + kn, ": ", 2);
    memcpy(line + kn + 2, value, vn + 1);
    h->lines = mf_xrealloc(h->lines, (h->n + 2) * sizeof *h->lines);
    h->lines[h->n++] = line;
    h->lines[h->n] = NULL;
}

static int read_headers(const reader_t *r, mf_otel_config_t *c)
{
    const char *used;
    const char *v =
        env2(r, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &used);
    header_list_t h = {0};
    char why[200];
    int rc = 0;
    if (v && mf_otel_parse_list(v, on_header, &h, why, sizeof why))
        rc = fail(r->err, r->errlen, "%s: %s", used, why);
    else if (h.bad)
        rc = fail(r->err, r->errlen, "%s: \"%s\" %s", used, h.bad, h.why);
    if (rc) {
        for (size_t i = 0; i < h.n; i++)
            free(h.lines[i]);
        free(h.lines);
        return -1;
    }
    c->headers = h.lines ? h.lines : mf_xcalloc(1, sizeof *c->headers);
    return 0;
}

/* ---- the resource ---- */

static mf_otel_attr_t *resource_find(mf_otel_config_t *c, const char *key)
{
    for (size_t i = 0; i < c->nresource; i++)
        if (!strcmp(c->resource[i].key, key))
            return &c->resource[i];
    return NULL;
}

/* Sets key to value: replaces the value of a key set before (replace 1) or keeps it. */
static void resource_put(mf_otel_config_t *c, const char *key, const char *value, int replace)
{
    mf_otel_attr_t *a = resource_find(c, key);
    if (a) {
        if (replace) {
            free(a->value);
            a->value = mf_xstrdup(value);
        }
        return;
    }
    c->resource = mf_xrealloc(c->resource, (c->nresource + 1) * sizeof *c->resource);
    c->resource[c->nresource].key = mf_xstrdup(key);
    c->resource[c->nresource].value = mf_xstrdup(value);
    c->resource[c->nresource].integer = 0;
    c->nresource++;
}

/* OTEL_RESOURCE_ATTRIBUTES's pairs in order; a key given twice keeps its first place and its
 * last value, as a map would. */
static void on_resource_attr(void *ud, const char *key, const char *value)
{
    resource_put(ud, key, value, 1);
}

static pthread_once_t instance_once = PTHREAD_ONCE_INIT;
static char instance_uuid[37];

/* A version 4 UUID, as the semantic conventions recommend for service.instance.id: made once,
 * so the process is one instance however often its settings are read. */
static void make_instance_uuid(void)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    mf_random_bytes(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char *p = instance_uuid;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

/* The pod's name. POD_NAME is what the Downward API gives when asked, so it counts wherever it
 * is set. HOSTNAME is the pod's name only inside Kubernetes, whose kubelet sets it so (and
 * KUBERNETES_SERVICE_HOST in every container); elsewhere it is a machine's or a container's id
 * (Docker sets it, shells export it), and POD_NAMESPACE, a variable anyone may set, proves
 * nothing about it. In a pod with spec.hostname HOSTNAME is that name instead: set POD_NAME. */
static const char *pod_name(const reader_t *r)
{
    const char *v = env(r, "POD_NAME");
    if (!v && env(r, "KUBERNETES_SERVICE_HOST"))
        v = env(r, "HOSTNAME");
    return v;
}

static int read_resource(const reader_t *r, mf_otel_config_t *c)
{
    const char *list = env(r, "OTEL_RESOURCE_ATTRIBUTES");
    char why[200];
    resource_put(c, "service.name", "unknown_service:mayfly", 1);
    if (list && mf_otel_parse_list(list, on_resource_attr, c, why, sizeof why))
        return fail(r->err, r->errlen, "OTEL_RESOURCE_ATTRIBUTES: %s", why);
    const char *service = env(r, "OTEL_SERVICE_NAME");
    if (service)
        resource_put(c, "service.name", service, 1);

    const char *pod = pod_name(r);
    const char *ns = env(r, "POD_NAMESPACE");
    if (!ns)
        ns = env(r, "NAMESPACE");
    const char *node = env(r, "NODE_NAME");
    char host[256] = "", pid[24];
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    pthread_once(&instance_once, make_instance_uuid);
    const struct {
        const char *key, *value;
    } known[] = {
        {"telemetry.sdk.name", "mayfly"},
        {"telemetry.sdk.language", "lua"}, /* the language of the code the spans describe */
        {"telemetry.sdk.version", MAYFLY_VERSION},
        {"service.instance.id", pod ? pod : instance_uuid},
        {"host.name", host[0] ? host : NULL},
        {"process.pid", pid},
        {"k8s.pod.name", pod},
        {"k8s.namespace.name", ns},
        {"k8s.node.name", node},
    };
    int pid_given = resource_find(c, "process.pid") != NULL;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (known[i].value)
            resource_put(c, known[i].key, known[i].value, 0);
    if (!pid_given) /* the conventions' type; a value the variable gave stays its string */
        resource_find(c, "process.pid")->integer = 1;
    return 0;
}

/* ---- sampler ---- */

/* OTEL_TRACES_SAMPLER_ARG of the ratio samplers: a decimal number in [0, 1]. */
static int read_ratio(const reader_t *r, double *out)
{
    const char *v = env(r, "OTEL_TRACES_SAMPLER_ARG");
    *out = 1.0;
    if (!v)
        return 0;
    char *end;
    /* strtod alone would take hex, "inf" and "nan" too. */
    int ok = strspn(v, "0123456789.eE+-") == strlen(v) && strchr("0123456789.", v[0]);
    double d = ok ? strtod(v, &end) : 0;
    if (!ok || *end || !(d >= 0 && d <= 1))
        return fail(r->err, r->errlen,
                    "OTEL_TRACES_SAMPLER_ARG: \"%.64s\" is not a ratio from 0 to 1 (e.g. 0.25)", v);
    *out = d;
    return 0;
}

static int read_sampler(const reader_t *r, mf_sampler_t *s)
{
    static const struct {
        const char *name;
        mf_sampler_kind_t kind;
        int parent_based;
    } samplers[] = {
        {"always_on", MF_SAMPLE_ALWAYS_ON, 0},
        {"always_off", MF_SAMPLE_ALWAYS_OFF, 0},
        {"traceidratio", MF_SAMPLE_RATIO, 0},
        {"parentbased_always_on", MF_SAMPLE_ALWAYS_ON, 1},
        {"parentbased_always_off", MF_SAMPLE_ALWAYS_OFF, 1},
        {"parentbased_traceidratio", MF_SAMPLE_RATIO, 1},
    };
    const char *v = env(r, "OTEL_TRACES_SAMPLER");
    *s = (mf_sampler_t){MF_SAMPLE_ALWAYS_ON, 1, 1.0};
    if (!v)
        return 0; /* the argument counts only with a sampler named (the specification) */
    for (size_t i = 0; i < sizeof samplers / sizeof *samplers; i++) {
        if (strcasecmp(v, samplers[i].name))
            continue;
        s->kind = samplers[i].kind;
        s->parent_based = samplers[i].parent_based;
        return s->kind == MF_SAMPLE_RATIO ? read_ratio(r, &s->ratio) : 0;
    }
    return fail(r->err, r->errlen,
                "OTEL_TRACES_SAMPLER: \"%.64s\" is not supported: always_on, always_off, "
                "traceidratio, parentbased_always_on (the default), parentbased_always_off or "
                "parentbased_traceidratio",
                v);
}

/* ---- the whole ---- */

static int read_limits(const reader_t *r, mf_span_limits_t *l)
{
    int64_t value_len;
    if (read_count_limit(r, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
                         &l->attr_count) ||
        read_count_limit(r, "OTEL_SPAN_EVENT_COUNT_LIMIT", NULL, &l->event_count) ||
        /* A model-specific limit first, then the general one (the specification's rule). */
        read_count_limit(r, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
                         &l->event_attr_count) ||
        read_int(r, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                 VALUE_LENGTH_DEFAULT, &value_len))
        return -1;
    l->value_len = (size_t)value_len;
    return 0;
}

static int read_batching(const reader_t *r, mf_otel_config_t *c)
{
    int64_t queue, batch;
    if (read_int(r, "OTEL_BSP_SCHEDULE_DELAY", NULL, 5000, &c->schedule_delay_ms) ||
        read_timeout(r, "OTEL_BSP_EXPORT_TIMEOUT", NULL, 30000, &c->export_timeout_ms) ||
        read_positive(r, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, &queue) ||
        read_positive(r, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, &batch))
        return -1;
    c->max_queue_size = (int)queue;
    c->max_export_batch_size = (int)(batch > queue ? queue : batch);
    return 0;
}

static int read_all(const reader_t *r, mf_otel_config_t *c)
{
    const char *v = env(r, "OTEL_SDK_DISABLED");
    if (v && strcasecmp(v, "true") && strcasecmp(v, "false"))
        return fail(r->err, r->errlen, "OTEL_SDK_DISABLED: \"%.64s\" is neither true nor false", v);
    if (v && !strcasecmp(v, "true"))
        return 0;
    int on;
    if (read_exporter(r, &on))
        return -1;
    if (!on)
        return 0;
    if (read_endpoint(r, c))
        return -1;
    /* No endpoint: tracing is off, and the other variables are not read (they may be there for
     * another program of the pod). */
    if (!c->endpoint)
        return 0;
    static const char *const unsupported[] = {
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
        if (env(r, unsupported[i]))
            return fail(r->err, r->errlen,
                        "%s: client certificates (mTLS) are not supported by mayfly's exporter",
                        unsupported[i]);
    const char *used;
    if (read_protocol(r, c) || read_compression(r, c) || read_headers(r, c) ||
        read_timeout(r, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", 10000,
                     &c->timeout_ms) ||
        read_resource(r, c) || read_sampler(r, &c->sampler) || read_batching(r, c) ||
        read_limits(r, &c->limits))
        return -1;
    v = env2(r, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE", &used);
    if (v)
        c->certificate = mf_xstrdup(v);
    c->enabled = 1;
    return 0;
}

int mf_otel_config_read(mf_otel_config_t *c, const char *(*getenv_fn)(const char *name), char *err,
                        size_t errlen)
{
    reader_t r = {getenv_fn, err, errlen};
    memset(c, 0, sizeof *c);
    if (read_all(&r, c)) {
        mf_otel_config_free(c);
        return -1;
    }
    if (!c->enabled)
        mf_otel_config_free(c);
    return 0;
}

void mf_otel_config_free(mf_otel_config_t *c)
{
    free(c->endpoint);
    for (size_t i = 0; c->headers && c->headers[i]; i++)
        free(c->headers[i]);
    free(c->headers);
    free(c->certificate);
    for (size_t i = 0; i < c->nresource; i++) {
        free(c->resource[i].key);
        free(c->resource[i].value);
    }
    free(c->resource);
    memset(c, 0, sizeof *c);
}
