#include "base/options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/syntax.h"

/* ---- parsers ---- */

int mf_parse_int(const char *s, long min, long max, long *v)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *v = n;
    return 0;
}

/* "250ms", "5s", "2m", "1h", "1.5s"; a bare number is seconds. */
int mf_parse_duration_ms(const char *s, int64_t *ms)
{
    char *end;
    if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.'))
        return -1;
    errno = 0;
    double n = strtod(s, &end);
    if (errno || end == s)
        return -1;
    double scale;
    if (!*end || !strcmp(end, "s"))
        scale = 1000;
    else if (!strcmp(end, "ms"))
        scale = 1;
    else if (!strcmp(end, "m"))
        scale = 60000;
    else if (!strcmp(end, "h"))
        scale = 3600000;
    else
        return -1;
    double v = n * scale;
    if (v < 0 || v > 1e12)
        return -1;
    *ms = (int64_t)(v + 0.5);
    return 0;
}

/* "1048576", "512KiB", "1MiB", "1MB" (decimal), "64k" (binary, as most tools read it). */
int mf_parse_size(const char *s, size_t *bytes)
{
    static const struct {
        const char *unit;
        double scale;
    } units[] = {
        {"", 1},        {"b", 1},         {"k", 1024}, {"kib", 1024},     {"kb", 1000},
        {"m", 1048576}, {"mib", 1048576}, {"mb", 1e6}, {"g", 1073741824}, {"gib", 1073741824},
        {"gb", 1e9}};
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    double n = strtod(s, &end);
    if (errno || end == s)
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcasecmp(end, units[i].unit)) {
            double v = n * units[i].scale;
            if (v > (double)SIZE_MAX / 2)
                return -1;
            *bytes = (size_t)v;
            return 0;
        }
    }
    return -1;
}

int mf_parse_bool(const char *s, int *b)
{
    static const char *yes[] = {"1", "on", "true", "yes"}, *no[] = {"0", "off", "false", "no"};
    for (size_t i = 0; s && i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *b = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *b = 0;
            return 0;
        }
    }
    return -1;
}

int mf_parse_log_level(const char *s, int *level)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; s && i < 4; i++) {
        if (!strcasecmp(s, names[i]) || (i == 2 && !strcasecmp(s, "warning"))) {
            *level = i;
            return 0;
        }
    }
    return -1;
}

/* s's place in names (n of them), case aside; -1 when it is none. */
static int choice_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcasecmp(s, names[i]))
            return i;
    return -1;
}

int mf_parse_log_format(const char *s, int *format)
{
    static const char *const names[] = {"auto", "json", "text"};
    int i = choice_index(s, names, 3);
    if (i >= 0)
        *format = i;
    return i >= 0 ? 0 : -1;
}

static int parse_http_engine(const char *s, int *engine)
{
    static const char *const names[] = {"native", "curl"};
    int i = choice_index(s, names, 2);
    if (i >= 0)
        *engine = i == 0 ? MF_HTTP_ENGINE_NATIVE : MF_HTTP_ENGINE_CURL;
    return i >= 0 ? 0 : -1;
}

/* "0.0.0.0:8080", "[::1]:8080", ":8080" (every address), "8080". */
int mf_parse_listen(const char *s, mf_listen_t *l)
{
    char *host = l->host;
    size_t hostlen = sizeof l->host;
    const char *colon, *portstr;
    size_t hl;
    long p;

    if (!s || !*s)
        return -1;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        hl = (size_t)(close - s - 1);
        if (hl == 0 || hl >= hostlen)
            return -1;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        portstr = close + 2;
    } else if ((colon = strrchr(s, ':'))) {
        if (memchr(s, ':', (size_t)(colon - s)))
            return -1; /* bare IPv6 without brackets */
        hl = (size_t)(colon - s);
        if (hl >= hostlen)
            return -1;
        memcpy(host, s, hl);
        host[hl] = '\0';
        portstr = colon + 1;
    } else {
        host[0] = '\0';
        portstr = s;
    }
    if (mf_parse_int(portstr, 0, 65535, &p))
        return -1;
    l->port = (int)p;
    return 0;
}

/* ---- lists and origins (CORS) ---- */

int mf_list_next(const char **pos, const char **item, size_t *len)
{
    const char *p = *pos;
    while (*p == ',' || *p == ' ' || *p == '\t')
        p++;
    *item = p;
    while (*p && *p != ',' && *p != ' ' && *p != '\t')
        p++;
    *len = (size_t)(p - *item);
    *pos = p;
    return *len > 0;
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Labels of letters, digits and '-' (not first or last) joined by dots: how many, or -1. */
static int domain_labels(const char *s, size_t len)
{
    int labels = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && (is_alnum(s[i]) || s[i] == '-'))
            i++;
        if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
            return -1;
        labels++;
        if (i < len && (s[i] != '.' || ++i == len))
            return -1;
    }
    return labels;
}

int mf_parse_origin(const char *s, size_t len)
{
    size_t i = 1;
    if (!len || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return -1;
    while (i < len && (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (len - i < 3 || memcmp(s + i, "://", 3) != 0)
        return -1;
    const char *host = s + i + 3;
    size_t rest = len - i - 3, host_len;
    if (rest && host[0] == '[') {
        const char *close = memchr(host, ']', rest);
        if (!close || !memchr(host, ':', (size_t)(close - host)))
            return -1;
        host_len = (size_t)(close - host) + 1;
        for (size_t k = 1; k + 1 < host_len; k++)
            if (!(isxdigit((unsigned char)host[k]) || host[k] == ':' || host[k] == '.'))
                return -1;
    } else {
        const char *colon = memchr(host, ':', rest);
        host_len = colon ? (size_t)(colon - host) : rest;
        /* A wildcard stands for whole labels in front of a registrable-looking domain: never
         * the whole host, never part of a label, never a bare top-level domain. */
        if (host_len > 2 && host[0] == '*' && host[1] == '.') {
            if (domain_labels(host + 2, host_len - 2) < 2)
                return -1;
        } else if (domain_labels(host, host_len) < 1) {
            return -1;
        }
    }
    const char *port = host + host_len;
    size_t port_len = rest - host_len;
    if (port_len) {
        long p = 0;
        if (port[0] != ':' || port_len < 2 || port_len > 6 || port[1] == '0')
            return -1; /* a browser writes no leading zero */
        for (size_t k = 1; k < port_len; k++) {
            if (port[k] < '0' || port[k] > '9')
                return -1;
            p = p * 10 + (port[k] - '0');
        }
        if (p < 1 || p > 65535)
            return -1;
    }
    return 0;
}

static int is_http_token(const char *s, size_t len)
{
    return mf_syntax_http_token(s, len) ? 0 : -1;
}

/* A list of items item_ok accepts, or "*" alone. Returns 0, or -1 with the item at fault in
 * bad, bad_len (all of s when it holds no item). */
static int check_list(const char *s, int (*item_ok)(const char *, size_t), const char **bad,
                      size_t *bad_len)
{
    const char *pos = s, *item;
    size_t len, n = 0;
    int star = 0;
    while (mf_list_next(&pos, &item, &len)) {
        n++;
        if (len == 1 && *item == '*')
            star = 1;
        else if (item_ok(item, len))
            goto fail;
        if (star && n > 1)
            goto fail;
    }
    if (n)
        return 0;
    item = s;
    len = strlen(s);
fail:
    *bad = item;
    *bad_len = len;
    return -1;
}

static int list_is_star(const char *s)
{
    const char *item;
    size_t len;
    return s && mf_list_next(&s, &item, &len) && len == 1 && *item == '*';
}

/* ---- settings table ---- */

enum kind {
    K_STRING,
    K_INT,
    K_DURATION,
    K_SIZE,
    K_BOOL,
    K_LISTEN,
    K_LEVEL,
    K_LOG_FORMAT,
    K_HTTP_ENGINE,
    K_ORIGINS, /* origins, or "*" */
    K_TOKENS,  /* HTTP tokens (methods, header names), or "*" */
};

typedef struct {
    const char *flag; /* --flag */
    const char *env;  /* MAYFLY_... */
    enum kind kind;
    size_t offset;
    long min, max; /* K_INT */
    const char *help;
} setting_t;

#define OFF(f) offsetof(mf_options_t, f)
static const setting_t settings[] = {
    {"listen", "MAYFLY_LISTEN", K_LISTEN, OFF(listen), 0, 0,
     "address:port to serve on [0.0.0.0:8080]"},
    {"admin-listen", "MAYFLY_ADMIN_LISTEN", K_LISTEN, OFF(admin), 0, 0,
     "address:port for probes and metrics only [none: on the main port]"},
    {"reuse-port", "MAYFLY_REUSE_PORT", K_BOOL, OFF(reuse_port), 0, 0,
     "share the ports with other processes listening on them, on or off [off: refuse]"},
    {"scripts", "MAYFLY_SCRIPTS", K_STRING, OFF(scripts_dir), 0, 0,
     "folder of handler scripts [./scripts]"},
    {"config", "MAYFLY_CONFIG", K_STRING, OFF(config_dir), 0, 0, "config folder [none]"},
    {"redis-url", "MAYFLY_REDIS_URL", K_STRING, OFF(redis_url), 0, 0,
     "redis[s]://[user:pass@]host:port/db or redis[s]+sentinel://h1:p1,h2:p2/master/db [none]"},
    {"redis-timeout", "MAYFLY_REDIS_TIMEOUT", K_DURATION, OFF(redis_timeout_ms), 0, 0,
     "Redis connect and command timeout [250ms]"},
    {"redis-pool-size", "MAYFLY_REDIS_POOL_SIZE", K_INT, OFF(redis_pool_size), 1, 1024,
     "most Redis connections per process [8]"},
    {"redis-ca-file", "MAYFLY_REDIS_CA_FILE", K_STRING, OFF(redis_ca_file), 0, 0,
     "CA certificates (PEM) that rediss:// servers must chain to [the system's]"},
    {"redis-cert-file", "MAYFLY_REDIS_CERT_FILE", K_STRING, OFF(redis_cert_file), 0, 0,
     "client certificate (PEM) for Redis servers that require mutual TLS [none]"},
    {"redis-key-file", "MAYFLY_REDIS_KEY_FILE", K_STRING, OFF(redis_key_file), 0, 0,
     "the client certificate's private key (PEM) [none]"},
    {"redis-password-file", "MAYFLY_REDIS_PASSWORD_FILE", K_STRING, OFF(redis_password_file), 0,
     0, "file whose first line is the Redis password, re-read when it changes [none: the URL's]"},
    {"redis-sentinel-password", "MAYFLY_REDIS_SENTINEL_PASSWORD", K_STRING,
     OFF(redis_sentinel_password), 0, 0, "password of the sentinels [none]"},
    {"workers", "MAYFLY_WORKERS", K_INT, OFF(workers), 1, 256, "worker threads [cores]"},
    {"drain-delay", "MAYFLY_DRAIN_DELAY", K_DURATION, OFF(drain_delay_ms), 0, 0,
     "keep serving this long after SIGTERM [5s]"},
    {"shutdown-timeout", "MAYFLY_SHUTDOWN_TIMEOUT", K_DURATION, OFF(shutdown_timeout_ms), 0, 0,
     "bound on the drain after the delay [25s]"},
    {"request-timeout", "MAYFLY_REQUEST_TIMEOUT", K_DURATION, OFF(request_timeout_ms), 0, 0,
     "bound on one handler run [30s]"},
    {"stream-timeout", "MAYFLY_STREAM_TIMEOUT", K_DURATION, OFF(stream_timeout_ms), 0, 0,
     "bound on a streamed response's life, 0 = none [1h]"},
    {"idle-timeout", "MAYFLY_IDLE_TIMEOUT", K_DURATION, OFF(idle_timeout_ms), 0, 0,
     "close a connection silent this long [30s]"},
    {"stuck-timeout", "MAYFLY_STUCK_TIMEOUT", K_DURATION, OFF(stuck_timeout_ms), 0, 0,
     "/livez fails once a request has run this long [2x request timeout]"},
    {"max-body", "MAYFLY_MAX_BODY", K_SIZE, OFF(max_body), 0, 0, "largest request body [1MiB]"},
    {"max-lua-memory", "MAYFLY_MAX_LUA_MEMORY", K_SIZE, OFF(max_lua_memory), 0, 0,
     "Lua memory one request or hook may grow by, 0 = no cap [64MiB]"},
    {"max-header", "MAYFLY_MAX_HEADER", K_SIZE, OFF(max_header), 0, 0,
     "largest request head (line + headers) [16KiB]"},
    {"max-connections", "MAYFLY_MAX_CONNECTIONS", K_INT, OFF(max_connections), 1, 1000000,
     "open connections per worker [4096]"},
    {"max-connections-per-ip", "MAYFLY_MAX_CONNECTIONS_PER_IP", K_INT, OFF(max_connections_per_ip),
     0, 1000000, "per client address and worker, 0 = no limit [0]"},
    {"log-level", "MAYFLY_LOG_LEVEL", K_LEVEL, OFF(log_level), 0, 0,
     "debug, info, warn or error [info]"},
    {"access-log", "MAYFLY_ACCESS_LOG", K_BOOL, OFF(access_log), 0, 0,
     "one line per request, on or off [on]"},
    {"log-format", "MAYFLY_LOG_FORMAT", K_LOG_FORMAT, OFF(log_format), 0, 0,
     "json, text, or auto: text on a terminal, else json [auto]"},
    {"http-timeout", "MAYFLY_HTTP_TIMEOUT", K_DURATION, OFF(http_timeout_ms), 0, 0,
     "mayfly.http: timeout of one attempt when the call sets none [10s]"},
    {"http-max-body", "MAYFLY_HTTP_MAX_BODY", K_SIZE, OFF(http_max_body), 0, 0,
     "mayfly.http: largest response body [10MiB]"},
    {"http-ca-file", "MAYFLY_HTTP_CA_FILE", K_STRING, OFF(http_ca_file), 0, 0,
     "mayfly.http: PEM CA certificates trusted besides the system's [none]"},
    {"http-breaker-threshold", "MAYFLY_HTTP_BREAKER_THRESHOLD", K_INT, OFF(http_breaker_threshold),
     1, 1000000, "mayfly.http: failures in a row that open an upstream's breaker [5]"},
    {"http-breaker-cooldown", "MAYFLY_HTTP_BREAKER_COOLDOWN", K_DURATION,
     OFF(http_breaker_cooldown_ms), 0, 0,
     "mayfly.http: how long an open breaker fails calls fast [10s]"},
    {"http-engine", "MAYFLY_HTTP_ENGINE", K_HTTP_ENGINE, OFF(http_engine), 0, 0,
     "mayfly.http: native (plain http:// calls on mayfly's own client) or curl (all) [native]"},
    {"log-fields", "MAYFLY_LOG_FIELDS", K_STRING, OFF(log_fields), 0, 0,
     "key=value,... added to every log line [none]"},
    {"trace-response", "MAYFLY_TRACE_RESPONSE", K_BOOL, OFF(trace_response), 0, 0,
     "traceparent header on responses, on or off [off]"},
    {"metrics", "MAYFLY_METRICS", K_BOOL, OFF(metrics), 0, 0,
     "count requests and serve /metrics, on or off [on]"},
    {"cors-origins", "MAYFLY_CORS_ORIGINS", K_ORIGINS, OFF(cors_origins), 0, 0,
     "CORS: origins allowed (https://app.example.com, https://*.example.com), or * [none: off]"},
    {"cors-methods", "MAYFLY_CORS_METHODS", K_TOKENS, OFF(cors_methods), 0, 0,
     "CORS: methods a preflight allows, or * for the one asked [" MF_CORS_DEFAULT_METHODS "]"},
    {"cors-headers", "MAYFLY_CORS_HEADERS", K_TOKENS, OFF(cors_headers), 0, 0,
     "CORS: request headers a preflight allows, or * for those asked [none]"},
    {"cors-expose-headers", "MAYFLY_CORS_EXPOSE_HEADERS", K_TOKENS, OFF(cors_expose_headers), 0, 0,
     "CORS: response headers a page's script may read [none]"},
    {"cors-credentials", "MAYFLY_CORS_CREDENTIALS", K_BOOL, OFF(cors_credentials), 0, 0,
     "CORS: allow cookies and Authorization on cross-origin calls, on or off [off]"},
    {"cors-max-age", "MAYFLY_CORS_MAX_AGE", K_DURATION, OFF(cors_max_age_ms), 0, 0,
     "CORS: how long a browser may keep a preflight's answer [none: the browser's 5s]"},
};
#undef OFF

void mf_options_print_help(FILE *f)
{
    char flag[64];
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        snprintf(flag, sizeof flag, "--%s", settings[i].flag);
        fprintf(f, "  %-26s %-31s %s\n", flag, settings[i].env, settings[i].help);
    }
    fputs("Durations: 250ms, 5s, 2m, 1h (a bare number is seconds). Sizes: 65536, 64KiB, 1MiB.\n",
          f);
}

static int apply(mf_options_t *o, const setting_t *st, const char *value, const char *source,
                 char *err, size_t errlen)
{
    char *base = (char *)o;
    int rc = 0;
    long n;
    const char *expect = "", *bad;
    size_t bad_len;

    switch (st->kind) {
    case K_STRING:
        if (!*value) {
            rc = -1;
            expect = "a non-empty value";
        } else {
            *(const char **)(base + st->offset) = value;
        }
        break;
    case K_INT:
        rc = mf_parse_int(value, st->min, st->max, &n);
        if (!rc)
            *(int *)(base + st->offset) = (int)n;
        expect = "an integer in range";
        break;
    case K_DURATION:
        rc = mf_parse_duration_ms(value, (int64_t *)(base + st->offset));
        expect = "a duration such as 500ms, 5s or 2m";
        break;
    case K_SIZE:
        rc = mf_parse_size(value, (size_t *)(base + st->offset));
        expect = "a size such as 65536, 64KiB or 1MiB";
        break;
    case K_BOOL:
        rc = mf_parse_bool(value, (int *)(base + st->offset));
        expect = "on or off";
        break;
    case K_LEVEL:
        rc = mf_parse_log_level(value, (int *)(base + st->offset));
        expect = "debug, info, warn or error";
        break;
    case K_LOG_FORMAT:
        rc = mf_parse_log_format(value, (int *)(base + st->offset));
        expect = "json, text or auto";
        break;
    case K_HTTP_ENGINE:
        rc = parse_http_engine(value, (int *)(base + st->offset));
        expect = "native or curl";
        break;
    case K_LISTEN:
        rc = mf_parse_listen(value, (mf_listen_t *)(base + st->offset));
        expect = "host:port, such as 0.0.0.0:8080 or [::]:8080";
        break;
    case K_ORIGINS:
    case K_TOKENS:
        if (check_list(value, st->kind == K_ORIGINS ? mf_parse_origin : is_http_token, &bad,
                       &bad_len)) {
            snprintf(err, errlen, "%s: '%.*s' is not %s, in '%s'", source, (int)bad_len, bad,
                     st->kind == K_ORIGINS ? "an origin (scheme://host[:port] without a path, "
                                             "scheme://*.domain.tld, or * alone)"
                                           : "a method or header name (an HTTP token, or * alone)",
                     value);
            return -1;
        }
        *(const char **)(base + st->offset) = value;
        break;
    }
    if (rc) {
        if (st->kind == K_INT)
            snprintf(err, errlen, "%s: expected an integer from %ld to %ld, got '%s'", source,
                     st->min, st->max, value);
        else
            snprintf(err, errlen, "%s: expected %s, got '%s'", source, expect, value);
        return -1;
    }
    return 0;
}

static int last_log_format = MF_LOG_FORMAT_AUTO;

int mf_options_log_format(void)
{
    return last_log_format;
}

static int default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

int mf_options_load(mf_options_t *o, int argc, char **argv, char *err, size_t errlen)
{
    const size_t nsettings = sizeof settings / sizeof settings[0];
    char source[96];

    memset(o, 0, sizeof *o);
    o->listen.port = 8080;
    strcpy(o->listen.host, "0.0.0.0");
    o->admin.port = -1;
    o->stuck_timeout_ms = -1;
    o->scripts_dir = "./scripts";
    o->workers = default_workers();
    o->redis_timeout_ms = 250;
    o->redis_pool_size = 8;
    o->drain_delay_ms = 5000;
    o->shutdown_timeout_ms = 25000;
    o->request_timeout_ms = 30000;
    o->stream_timeout_ms = 3600000;
    o->idle_timeout_ms = 30000;
    o->max_body = 1024 * 1024;
    o->max_lua_memory = 64 * 1024 * 1024;
    o->max_header = 16 * 1024;
    o->max_connections = 4096;
    o->max_connections_per_ip = 0;
    o->log_level = MF_LOG_INFO;
    o->access_log = 1;
    o->http_timeout_ms = 10000;
    o->http_max_body = 10 * 1024 * 1024;
    o->http_breaker_threshold = 5;
    o->http_breaker_cooldown_ms = 10000;
    o->metrics = 1;
    o->cors_max_age_ms = -1;

    for (size_t i = 0; i < nsettings; i++) {
        const char *v = getenv(settings[i].env);
        if (v && apply(o, &settings[i], v, settings[i].env, err, errlen))
            return -1;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a], *value = NULL, *eq;
        size_t namelen;
        const setting_t *st = NULL;

        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", arg);
            return -1;
        }
        arg += 2;
        eq = strchr(arg, '=');
        namelen = eq ? (size_t)(eq - arg) : strlen(arg);
        for (size_t i = 0; i < nsettings; i++) {
            if (strlen(settings[i].flag) == namelen && !strncmp(settings[i].flag, arg, namelen)) {
                st = &settings[i];
                break;
            }
        }
        if (!st) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see mayfly --help)", (int)namelen, arg);
            return -1;
        }
        if (eq) {
            value = eq + 1;
        } else if (a + 1 < argc) {
            value = argv[++a];
        } else {
            snprintf(err, errlen, "--%s needs a value", st->flag);
            return -1;
        }
        snprintf(source, sizeof source, "--%s", st->flag);
        if (apply(o, st, value, source, err, errlen))
            return -1;
    }
    if (o->stuck_timeout_ms < 0)
        o->stuck_timeout_ms = o->request_timeout_ms ? 2 * o->request_timeout_ms : 60000;
    if (o->http_timeout_ms <= 0) {
        snprintf(err, errlen, "http-timeout: must be more than 0");
        return -1;
    }
    if (o->max_header < 4096) {
        snprintf(err, errlen, "max-header: must be at least 4KiB");
        return -1;
    }
    /* With credentials, browsers take a "*" literally: no origin or header would match. */
    if (o->cors_origins && o->cors_credentials && list_is_star(o->cors_origins)) {
        snprintf(err, errlen,
                 "MAYFLY_CORS_ORIGINS=* with MAYFLY_CORS_CREDENTIALS=on: browsers refuse "
                 "credentials from any origin; list the origins");
        return -1;
    }
    if (o->cors_origins && o->cors_credentials && list_is_star(o->cors_expose_headers)) {
        snprintf(err, errlen,
                 "MAYFLY_CORS_EXPOSE_HEADERS=* with MAYFLY_CORS_CREDENTIALS=on: browsers read "
                 "* as a header named '*' then; list the headers");
        return -1;
    }
    o->listen.share = o->admin.share = o->reuse_port;
    last_log_format = o->log_format;
    return 0;
}
