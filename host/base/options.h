/* The host's settings: environment variables first, command-line flags override. */
#ifndef MF_OPTIONS_H
#define MF_OPTIONS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

enum { MF_LOG_DEBUG = 0, MF_LOG_INFO, MF_LOG_WARN, MF_LOG_ERROR };
/* How log lines are written: JSON, text for a person, or text when the log goes to a terminal. */
enum { MF_LOG_FORMAT_AUTO = 0, MF_LOG_FORMAT_JSON, MF_LOG_FORMAT_TEXT };

/* mayfly.http's engines: libcurl for every call, or mayfly's own HTTP/1.1 client for plain
 * http:// calls that wait on a worker's loop (libcurl for the rest). */
enum { MF_HTTP_ENGINE_NATIVE, MF_HTTP_ENGINE_CURL };

typedef struct {
    char host[64]; /* numeric address; "" is every IPv4 and IPv6 address */
    int port;      /* 0 picks a free port (logged at start); -1: not set */
    int share;     /* may share the port with other processes (MAYFLY_REUSE_PORT) */
} mf_listen_t;

typedef struct {
    mf_listen_t listen;
    mf_listen_t admin; /* probes and metrics on a listener of their own; port -1: none */
    int reuse_port;    /* both listeners may share their port with other processes */
    const char *scripts_dir;
    const char *config_dir;   /* NULL: no config folder */
    const char *redis_url;    /* NULL: Redis calls fail with a clear error */
    int64_t redis_timeout_ms; /* connect and command timeout */
    int redis_pool_size;      /* most Redis connections per process */
    const char *redis_ca_file;           /* NULL: the system's CAs */
    const char *redis_cert_file;         /* client certificate for mutual TLS, or NULL */
    const char *redis_key_file;          /* its key, or NULL */
    const char *redis_password_file;     /* overrides the URL's password; NULL: none */
    const char *redis_sentinel_password; /* NULL: sentinels without AUTH */
    int workers;
    int64_t drain_delay_ms;
    int64_t shutdown_timeout_ms;
    int64_t request_timeout_ms;
    int64_t stream_timeout_ms; /* how long a streamed response may stay open; 0: no bound */
    int64_t idle_timeout_ms;
    int64_t stuck_timeout_ms; /* /livez fails when one request has run this long */
    size_t max_body;
    size_t max_lua_memory; /* growth of a worker's Lua memory one run may cause; 0: no cap */
    size_t max_header;
    int max_connections;
    int max_connections_per_ip;
    int log_level;
    int access_log;
    int log_format;             /* MF_LOG_FORMAT_* */
    int64_t http_timeout_ms;    /* mayfly.http: per attempt, when the call gives none */
    size_t http_max_body;       /* mayfly.http: largest response body */
    const char *http_ca_file;   /* mayfly.http: CA certificates added to the system's; NULL */
    int http_breaker_threshold; /* mayfly.http: failures in a row that open a breaker */
    int64_t http_breaker_cooldown_ms;
    int http_engine;        /* MF_HTTP_ENGINE_*: what makes plain http:// calls on a loop */
    const char *log_fields; /* "key=value,..." on every log line; NULL: none */
    int trace_response;     /* traceparent on every response */
    int metrics;            /* count requests and serve /metrics */
    /* CORS answered by the host (http/cors.c), checked by mf_options_load. */
    const char *cors_origins;        /* origins, or "*"; NULL: CORS off */
    const char *cors_methods;        /* NULL: MF_CORS_DEFAULT_METHODS */
    const char *cors_headers;        /* request headers allowed, or "*"; NULL: none */
    const char *cors_expose_headers; /* NULL: none */
    int cors_credentials;
    int64_t cors_max_age_ms; /* -1: no Access-Control-Max-Age */
} mf_options_t;

#define MF_CORS_DEFAULT_METHODS "GET,HEAD,POST,PUT,PATCH,DELETE"

/* Fills defaults, then MAYFLY_* variables, then the flags in argv[0..argc) (the words after the
 * subcommand). Returns 0, or -1 with a one-line message in err (the caller exits 2).
 * The strings in opts point into argv or the environment: they live as long as the process. */
int mf_options_load(mf_options_t *opts, int argc, char **argv, char *err, size_t errlen);

/* The parsers behind it, for the rest of the host and for the tests. Each returns 0 or -1. */
int mf_parse_duration_ms(const char *s, int64_t *ms);
int mf_parse_size(const char *s, size_t *bytes);
int mf_parse_bool(const char *s, int *b);
int mf_parse_int(const char *s, long min, long max, long *v);
int mf_parse_listen(const char *s, mf_listen_t *l);
int mf_parse_log_level(const char *s, int *level);
int mf_parse_log_format(const char *s, int *format);

/* The lists of MAYFLY_CORS_*: items separated by commas, blanks or both. Sets item and len to
 * the first item at or after *pos and moves *pos past it; returns 0 when none is left. */
int mf_list_next(const char **pos, const char **item, size_t *len);
/* One origin of MAYFLY_CORS_ORIGINS, s[0, len): scheme://host[:port] as a browser sends it in
 * Origin (no path, no user, no trailing '/'; an IPv6 host in brackets), or one whose host is
 * "*." and a domain of at least two labels, for every subdomain of that domain. 0 or -1. */
int mf_parse_origin(const char *s, size_t len);

/* The log format the last mf_options_load read (MF_LOG_FORMAT_AUTO before any): the log module
 * takes it from here when it is set up. */
int mf_options_log_format(void);

/* Writes the help of `serve`'s settings, one line each, for `mayfly --help`. */
void mf_options_print_help(FILE *f);

#endif
