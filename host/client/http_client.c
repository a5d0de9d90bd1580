/* Outbound HTTP through libcurl: a worker's calls run on its loop through the multi interface
 * (connections kept per worker), others block in curl_easy_perform on a handle reused call
 * after call; DNS and TLS sessions cached per client; per upstream host:port a process-wide
 * circuit breaker and counters. */
#include "client/http_client.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/breaker.h"
#include "base/clock.h"
#include "base/hash.h"
#include "observe/log.h"
#include "base/random.h"

#define MAX_CONNECTIONS 16       /* idle keep-alive connections a blocking client keeps */
#define MAX_LOOP_CONNECTIONS 256 /* connections a worker keeps open, all hosts together */
#define DNS_TTL_S 60             /* how long a worker trusts a resolved address */
#define BACKOFF_BASE_MS 50       /* the first retry waits 25-50 ms, then twice as long each time */
#define BACKOFF_CAP_MS 1000      /* ... up to 0.5-1 s */
#define MIN_ATTEMPT_MS 1         /* less budget than this left: no attempt is made */
#define KEEP_BUFFER 65536 /* a failed call's body buffer is kept for the next up to this size */

static const char *const err_names[MF_HTTP_ERR_COUNT] = {
    "",          "timeout",  "resolve",  "connect", "tls", "circuit_open",
    "too_large", "redirect", "protocol", "io"};

const char *mf_http_err_name(mf_http_err_t e)
{
    return e > 0 && e < MF_HTTP_ERR_COUNT ? err_names[e] : "";
}

const char *mf_http_class_name(int cls)
{
    static const char *const names[MF_HTTP_CLASS_COUNT] = {"1xx", "2xx", "3xx",
                                                           "4xx", "5xx", "error"};
    return cls >= 0 && cls < MF_HTTP_CLASS_COUNT ? names[cls] : "";
}

/* ---- upstreams: a breaker and counters per host:port, for the whole process ---- */

typedef struct {
    char name[128];
    mf_breaker_t *breaker; /* NULL for the overflow entry */
    _Atomic uint64_t requests[MF_HTTP_CLASS_COUNT];
    _Atomic uint64_t duration_ns[MF_HTTP_CLASS_COUNT];
    _Atomic uint64_t errors[MF_HTTP_ERR_COUNT];
} upstream_t;

/* Open addressing, entries never removed: lookups read without a lock, inserts take it. */
#define MAX_UPSTREAMS 256
static upstream_t *_Atomic upstreams[MAX_UPSTREAMS];
static pthread_mutex_t upstreams_lock = PTHREAD_MUTEX_INITIALIZER;
/* Calls to hosts past MAX_UPSTREAMS are counted here, without a breaker. */
static upstream_t overflow = {.name = "(other)"};

static upstream_t *find_upstream(const char *name, size_t h, int *free_slot)
{
    *free_slot = -1;
    for (size_t i = 0; i < MAX_UPSTREAMS; i++) {
        size_t slot = (h + i) % MAX_UPSTREAMS;
        upstream_t *u = atomic_load_explicit(&upstreams[slot], memory_order_acquire);
        if (!u) {
            *free_slot = (int)slot;
            return NULL;
        }
        if (!strcmp(u->name, name))
            return u;
    }
    return NULL;
}

static upstream_t *get_upstream(const char *name, const mf_options_t *o)
{
    size_t h = (size_t)mf_hash(MF_HASH_INIT, name, strlen(name));
    int slot;
    upstream_t *u = find_upstream(name, h, &slot);
    if (u)
        return u;
    pthread_mutex_lock(&upstreams_lock);
    u = find_upstream(name, h, &slot);
    if (!u && slot >= 0) {
        u = mf_xcalloc(1, sizeof *u);
        snprintf(u->name, sizeof u->name, "%s", name);
        char bname[160];
        snprintf(bname, sizeof bname, "http:%s", name);
        u->breaker = mf_breaker_new(bname, o->http_breaker_threshold, o->http_breaker_cooldown_ms);
        atomic_store_explicit(&upstreams[slot], u, memory_order_release);
    }
    pthread_mutex_unlock(&upstreams_lock);
    return u ? u : &overflow;
}

static void stats_of(const upstream_t *u, mf_http_client_stats_t *s)
{
    s->upstream = u->name;
    for (int i = 0; i < MF_HTTP_CLASS_COUNT; i++) {
        s->requests[i] = atomic_load_explicit(&u->requests[i], memory_order_relaxed);
        s->duration_seconds[i] =
            (double)atomic_load_explicit(&u->duration_ns[i], memory_order_relaxed) / 1e9;
    }
    for (int i = 0; i < MF_HTTP_ERR_COUNT; i++)
        s->errors[i] = atomic_load_explicit(&u->errors[i], memory_order_relaxed);
    s->breaker_state = u->breaker ? (int)mf_breaker_state(u->breaker) : MF_BREAKER_CLOSED;
}

void mf_http_client_stats_each(void (*fn)(void *ud, const mf_http_client_stats_t *s), void *ud)
{
    mf_http_client_stats_t s;
    for (size_t i = 0; i < MAX_UPSTREAMS; i++) {
        upstream_t *u = atomic_load_explicit(&upstreams[i], memory_order_acquire);
        if (u) {
            stats_of(u, &s);
            fn(ud, &s);
        }
    }
    stats_of(&overflow, &s);
    uint64_t used = 0;
    for (int i = 0; i < MF_HTTP_CLASS_COUNT; i++)
        used += s.requests[i];
    if (used)
        fn(ud, &s);
}

static void count(upstream_t *u, int status, mf_http_err_t err, int64_t duration_ns)
{
    int cls = err                             ? MF_HTTP_CLASS_ERROR
              : status >= 100 && status < 600 ? status / 100 - 1
                                              : MF_HTTP_CLASS_ERROR;
    atomic_fetch_add_explicit(&u->requests[cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->duration_ns[cls], (uint64_t)duration_ns, memory_order_relaxed);
    if (err)
        atomic_fetch_add_explicit(&u->errors[err], 1, memory_order_relaxed);
}

/* ---- URLs ---- */

int mf_http_url_parse(mf_http_url_t *target, const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    target->parsed = NULL;
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc) {
        snprintf(err, errlen, "invalid URL '%.200s': %s", url, curl_url_strerror(uc));
        goto done;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "URL '%.200s': only http and https are allowed", url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) || !*host) {
        snprintf(err, errlen, "URL '%.200s' has no host", url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
        snprintf(err, errlen, "URL '%.200s' has no port", url);
        goto done;
    }
    if ((size_t)snprintf(target->upstream, sizeof target->upstream, "%s:%s", host, port) >=
        sizeof target->upstream) {
        snprintf(err, errlen, "URL '%.200s': host name too long", url);
        goto done;
    }
    for (char *p = target->upstream; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    target->https = scheme[4] == 's';
    target->parsed = u;
    u = NULL;
    rc = 0;
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

void mf_http_url_free(mf_http_url_t *target)
{
    curl_url_cleanup(target->parsed);
    target->parsed = NULL;
}

/* ---- this process's own listeners ---- */

/* A handler must not call its own replica: what it would read there (/metrics with the label
 * values and upstreams other requests left, the routes) is state of other requests. The ports
 * are registered once the listeners are open, before any request runs. */
#define MAX_OWN_PORTS 4
static _Atomic int own_ports[MAX_OWN_PORTS];
static _Atomic int n_own_ports;

void mf_http_client_refuse_port(int port)
{
    int n = atomic_load(&n_own_ports);
    if (port > 0 && n < MAX_OWN_PORTS) {
        atomic_store(&own_ports[n], port);
        atomic_store(&n_own_ports, n + 1);
    }
}

/* 1 when a is one of the registered ports on an address of this machine (a listener bound to
 * every address answers on all of them), with "address:port" in out. An address is this
 * machine's when a socket can be bound to it. */
static int is_own_listener(const struct sockaddr *a, char *out, size_t outlen)
{
    int port, n = atomic_load(&n_own_ports), own = 0;
    char host[64] = "?";
    if (a->sa_family == AF_INET) {
        port = ntohs(((const struct sockaddr_in *)a)->sin_port);
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, host, sizeof host);
    } else if (a->sa_family == AF_INET6) {
        port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, host, sizeof host);
    } else {
        return 0;
    }
    for (int i = 0; i < n && !own; i++)
        own = atomic_load(&own_ports[i]) == port;
    if (!own)
        return 0;
    struct sockaddr_storage local;
    socklen_t len = a->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6);
    memcpy(&local, a, len);
    if (a->sa_family == AF_INET)
        ((struct sockaddr_in *)&local)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&local)->sin6_port = 0;
    int fd = socket(a->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    own = bind(fd, (struct sockaddr *)&local, len) == 0;
    close(fd);
    if (own)
        snprintf(out, outlen, a->sa_family == AF_INET ? "%s:%d" : "[%s]:%d", host, port);
    return own;
}

/* ---- calls in progress ---- */

/* One call: its handle, what it was asked and what it got, attempt after attempt. */
typedef struct xfer {
    mf_http_client_t *c;
    CURL *easy;
    mf_http_call_t call; /* what it points to stays the caller's until the call ends */
    mf_http_result_t *res;
    upstream_t *u;
    int n; /* attempts made */
    int64_t attempt_start;
    int64_t timeout_ms; /* the attempt's */
    int cut;            /* its timeout is what was left of the request's */
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    char refused[96]; /* the attempt would have connected to this process's own listener */
    char *body;       /* the attempt's response body, under MAYFLY_HTTP_MAX_BODY */
    size_t body_len, body_cap;
    int too_large;
    mf_timer_t backoff; /* between attempts, when the call waits on a loop */
    void (*done)(void *ud, int rc);
    void *ud;
    struct xfer *next_free;
} xfer_t;

struct mf_http_client {
    const mf_options_t *opts;
    mf_loop_t *loop; /* NULL: calls block in curl_easy_perform */
    CURLM *multi;
    CURLSH *share;       /* DNS and TLS sessions; connections too when blocking */
    mf_timer_t timer;    /* curl's own timeouts */
    xfer_t *free_xfers;  /* ended calls, their handles kept for the next */
    struct sock **socks; /* by descriptor: the sockets curl opened on the loop */
    int nsocks;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static int proxy_env; /* a proxy variable curl reads is set */

static void global_init(void)
{
    static const char *const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                       "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            proxy_env = 1;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;
    if (len > x->c->opts->http_max_body - x->body_len) {
        x->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (x->body_len + len > x->body_cap) {
        size_t cap = x->body_cap ? x->body_cap : 4096;
        while (cap < x->body_len + len)
            cap *= 2;
        x->body = mf_xrealloc(x->body, cap);
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, data, len);
    x->body_len += len;
    return len;
}

static void on_backoff_over(void *ud);
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a);

static int on_close_socket(void *ud, curl_socket_t fd);

/* A call record with its handle set up with what every call shares. NULL with err when libcurl
 * cannot start. */
static xfer_t *xfer_take(mf_http_client_t *c, char *err, size_t errlen)
{
    xfer_t *x = c->free_xfers;
    if (x) {
        c->free_xfers = x->next_free;
        return x;
    }
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl did not initialise: %s", curl_easy_strerror(global_rc));
        return NULL;
    }
    if (!c->share) {
        c->share = curl_share_init();
        if (!c->share) {
            snprintf(err, errlen, "libcurl: out of memory");
            return NULL;
        }
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        if (!c->loop) /* a multi handle keeps the connections of its own calls */
            curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    }
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(err, errlen, "libcurl: out of memory");
        return NULL;
    }
    x = mf_xcalloc(1, sizeof *x);
    x->c = c;
    x->easy = e;
    mf_timer_init(&x->backoff, on_backoff_over, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_SHARE, c->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* threads: time out DNS without SIGALRM */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_MAXCONNECTS, (long)MAX_CONNECTIONS);
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, (long)DNS_TTL_S);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->opts->http_max_body);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mayfly/" MAYFLY_VERSION);
    if (!proxy_env) { /* else curl reads the variables again on every call */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    /* The file adds to the system's certificates (the CA directory stays in use). */
    if (c->opts->http_ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->opts->http_ca_file);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
    if (c->loop) {
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
    }
    return x;
}

static void xfer_free(xfer_t *x)
{
    curl_easy_cleanup(x->easy);
    free(x->body);
    free(x);
}

static void xfer_give_back(xfer_t *x)
{
    if (x->body_cap > KEEP_BUFFER) { /* not a large one for every later call */
        free(x->body);
        x->body = NULL;
        x->body_len = x->body_cap = 0;
    }
    x->next_free = x->c->free_xfers;
    x->c->free_xfers = x;
}

mf_http_client_t *mf_http_client_new(const mf_options_t *opts, mf_loop_t *loop)
{
    mf_http_client_t *c = mf_xcalloc(1, sizeof *c);
    c->opts = opts;
    c->loop = loop;
    return c;
}

void mf_http_client_free(mf_http_client_t *c)
{
    if (!c)
        return;
    while (c->free_xfers) {
        xfer_t *x = c->free_xfers;
        c->free_xfers = x->next_free;
        xfer_free(x);
    }
    if (c->multi) {
        curl_multi_cleanup(c->multi); /* closes its connections: on_close_socket */
        mf_loop_timer_stop(c->loop, &c->timer);
    }
    free(c->socks);
    if (c->share)
        curl_share_cleanup(c->share);
    free(c);
}

static int has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; headers && headers[i]; i++)
        if (!strncasecmp(headers[i], name, n) && headers[i][n] == ':')
            return 1;
    return 0;
}

/* Whether the call sends a body (perhaps empty): POST, PUT and PATCH always do. */
static int sends_body(const mf_http_call_t *call)
{
    return call->body || !strcmp(call->method, "POST") || !strcmp(call->method, "PUT") ||
           !strcmp(call->method, "PATCH");
}

/* The request's header list: the caller's lines, the attempt's budget, and with a body, empty
 * values that keep curl from adding an Expect: 100-continue round trip or a form Content-Type. */
static struct curl_slist *build_headers(const mf_http_call_t *call, int64_t timeout_ms)
{
    struct curl_slist *list = NULL, *next;
    char line[192];
    for (int i = 0; call->headers && call->headers[i]; i++) {
        if (!(next = curl_slist_append(list, call->headers[i])))
            goto oom;
        list = next;
    }
    if (call->budget_header) {
        snprintf(line, sizeof line, "%.120s: %lld", call->budget_header, (long long)timeout_ms);
        if (!(next = curl_slist_append(list, line)))
            goto oom;
        list = next;
    }
    if (sends_body(call) && !has_header(call->headers, "expect")) {
        if (!(next = curl_slist_append(list, "Expect:")))
            goto oom;
        list = next;
    }
    if (sends_body(call) && !has_header(call->headers, "content-type")) {
        if (!(next = curl_slist_append(list, "Content-Type:")))
            goto oom;
        list = next;
    }
    return list;
oom:
    curl_slist_free_all(list);
    abort(); /* as mf_xmalloc does */
}

static void set_method(CURL *e, const mf_http_call_t *call)
{
    /* Undo the last call's method first: POSTFIELDS selects POST, HTTPGET goes back to GET. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (!strcmp(call->method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    int is_get = !strcmp(call->method, "GET");
    if (call->body || !is_get) {
        /* POST stays a plain POST so that a 303 turns it into a GET, as browsers do. */
        if (strcmp(call->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->method);
        if (sends_body(call)) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body ? call->body : "");
        }
    }
}

static mf_http_err_t classify(CURLcode rc, int too_large)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return MF_HTTP_ERR_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
        return MF_HTTP_ERR_RESOLVE;
    case CURLE_COULDNT_CONNECT:
        return MF_HTTP_ERR_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
        return MF_HTTP_ERR_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return MF_HTTP_ERR_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return too_large ? MF_HTTP_ERR_TOO_LARGE : MF_HTTP_ERR_IO;
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return MF_HTTP_ERR_REDIRECT;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_RANGE_ERROR:
        return MF_HTTP_ERR_PROTOCOL;
    default:
        return MF_HTTP_ERR_IO;
    }
}

/* Failures worth another attempt, and the ones the breaker counts against the upstream. */
static int is_transient(mf_http_err_t err, int status)
{
    return err == MF_HTTP_ERR_TIMEOUT || err == MF_HTTP_ERR_CONNECT || err == MF_HTTP_ERR_IO ||
           status == 502 || status == 503 || status == 504;
}

/* Copies the last response's headers as "name: value\n" lines, names lower-cased. */
static void take_headers(CURL *e, mf_http_result_t *res)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;
    struct curl_header *h = NULL;
    while ((h = curl_easy_nextheader(e, CURLH_HEADER, -1, h))) {
        size_t nl = strlen(h->name), vl = strlen(h->value), need = len + nl + vl + 3;
        if (need > cap) {
            cap = need * 2 > 1024 ? need * 2 : 1024;
            buf = mf_xrealloc(buf, cap);
        }
        for (size_t i = 0; i < nl; i++)
            buf[len + i] = (char)tolower((unsigned char)h->name[i]);
        len += nl;
        buf[len++] = ':';
        buf[len++] = ' ';
        memcpy(buf + len, h->value, vl);
        len += vl;
        buf[len++] = '\n';
    }
    res->headers = buf;
    res->headers_len = len;
}

static void log_attempt(const mf_http_call_t *call, int attempt, const mf_http_result_t *res,
                        int64_t duration_ns, int64_t retry_in_ms)
{
    if (!mf_log_enabled(MF_LOG_DEBUG))
        return;
    mf_jsonbuf_t l;
    mf_log_begin(&l, MF_LOG_DEBUG, "http attempt", 12, call->request_id);
    mf_jsonbuf_cstr(&l, "method", call->method);
    mf_jsonbuf_cstr(&l, "upstream", call->url->upstream);
    mf_jsonbuf_int(&l, "attempt", attempt);
    if (res->err) {
        mf_jsonbuf_cstr(&l, "error", mf_http_err_name(res->err));
        mf_jsonbuf_cstr(&l, "message", res->message);
    } else {
        mf_jsonbuf_int(&l, "status", res->status);
    }
    mf_jsonbuf_num(&l, "duration_ms", (double)duration_ns / 1e6);
    if (retry_in_ms >= 0)
        mf_jsonbuf_int(&l, "retry_in_ms", retry_in_ms);
    mf_log_end(&l);
}

static int64_t backoff_ms(int retry)
{
    int64_t d = BACKOFF_BASE_MS;
    for (int i = 0; i < retry && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    /* Half fixed, half random: callers that failed together do not retry together. */
    return d / 2 + (int64_t)(mf_random_u64() % (uint64_t)(d / 2 + 1));
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- attempts ---- */

/* Readies the next attempt. Returns 1 when one is to be made, 0 when the call ends without it
 * (the request's budget is spent, or the upstream's breaker is open): res says why, unless an
 * earlier attempt's outcome stands. */
static int attempt_begin(xfer_t *x)
{
    const mf_http_call_t *call = &x->call;
    mf_http_result_t *res = x->res;
    int64_t start = mf_now_ns(), timeout_ms = call->timeout_ms;
    int cut = 0;
    if (call->deadline_ns) {
        int64_t left_ms = (call->deadline_ns - start) / 1000000;
        if (left_ms < timeout_ms) {
            timeout_ms = left_ms;
            cut = 1;
        }
    }
    if (timeout_ms < MIN_ATTEMPT_MS) {
        if (x->n > 0)
            return 0;
        res->err = MF_HTTP_ERR_TIMEOUT;
        snprintf(res->message, sizeof res->message,
                 "the request's MAYFLY_REQUEST_TIMEOUT is used up: no attempt made");
        atomic_fetch_add_explicit(&x->u->errors[res->err], 1, memory_order_relaxed);
        return 0;
    }
    if (x->u->breaker && !mf_breaker_allow(x->u->breaker, start)) {
        if (x->n > 0)
            return 0;
        res->err = MF_HTTP_ERR_CIRCUIT_OPEN;
        snprintf(res->message, sizeof res->message,
                 "circuit breaker for %s is open after repeated failures", call->url->upstream);
        atomic_fetch_add_explicit(&x->u->errors[res->err], 1, memory_order_relaxed);
        return 0;
    }
    x->attempt_start = start;
    x->refused[0] = '\0';
    x->headers = build_headers(call, timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    x->body_len = 0;
    x->too_large = 0;
    x->errbuf[0] = '\0';
    x->n++;
    res->attempts = x->n;
    x->timeout_ms = timeout_ms;
    x->cut = cut;
    return 1;
}

/* The attempt ended with rc. Returns the milliseconds to wait before the next attempt, or -1
 * when the call ends with this outcome. */
static int64_t attempt_end(xfer_t *x, CURLcode rc)
{
    const mf_http_call_t *call = &x->call;
    mf_http_result_t *res = x->res;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(x->headers);
    x->headers = NULL;

    free(res->headers);
    res->headers = NULL;
    res->headers_len = 0;
    res->status = 0;
    res->err = MF_HTTP_ERR_NONE;
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        res->status = (int)status;
        take_headers(e, res);
    } else if (x->refused[0]) {
        res->err = MF_HTTP_ERR_CONNECT;
        snprintf(res->message, sizeof res->message,
                 "refused: %s is this process's own listener (a handler cannot call its own "
                 "replica: /metrics and the routes' state are not for scripts to read back)",
                 x->refused);
    } else {
        res->err = classify(rc, x->too_large);
        if (res->err == MF_HTTP_ERR_TOO_LARGE)
            snprintf(res->message, sizeof res->message,
                     "response body larger than MAYFLY_HTTP_MAX_BODY (%zu bytes)",
                     x->c->opts->http_max_body);
        else if (res->err == MF_HTTP_ERR_TIMEOUT)
            snprintf(res->message, sizeof res->message,
                     x->cut ? "no response within %lldms, what was left of the request's "
                              "MAYFLY_REQUEST_TIMEOUT"
                            : "no response within %lldms",
                     (long long)x->timeout_ms);
        else
            snprintf(res->message, sizeof res->message, "%s",
                     x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    }
    int64_t took = mf_now_ns() - x->attempt_start;
    int transient = !x->refused[0] && is_transient(res->err, res->status);
    if (x->u->breaker) {
        if (transient)
            mf_breaker_failure(x->u->breaker, mf_now_ns());
        else
            mf_breaker_success(x->u->breaker);
    }
    count(x->u, res->status, res->err, took);
    int64_t wait = -1;
    if (transient && x->n <= call->retries) {
        wait = backoff_ms(x->n - 1);
        if (call->deadline_ns &&
            mf_now_ns() + (wait + MIN_ATTEMPT_MS) * 1000000 > call->deadline_ns)
            wait = -1; /* no time left for another attempt */
    }
    log_attempt(call, x->n, res, took, wait);
    return wait;
}

/* Sets x up for call. Returns 0, or -1 with res->err set. */
static int call_begin(mf_http_client_t *c, xfer_t **out, const mf_http_call_t *call,
                      mf_http_result_t *res)
{
    memset(res, 0, sizeof *res);
    *out = NULL;
    xfer_t *x = xfer_take(c, res->message, sizeof res->message);
    if (!x) {
        res->err = MF_HTTP_ERR_IO;
        return -1;
    }
    x->call = *call;
    x->res = res;
    x->n = 0;
    x->u = get_upstream(call->url->upstream, c->opts);
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_CURLU, call->url->parsed);
    set_method(e, call);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, call->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)call->max_redirects);
    /* Never from https down to http. */
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, call->url->https ? "https" : "http,https");
    *out = x;
    return 0;
}

/* The call ended: the body becomes the result's. Returns 0, or -1 with res->err set. */
static int call_end(xfer_t *x)
{
    mf_http_result_t *res = x->res;
    int rc = res->err ? -1 : 0;
    if (!rc) {
        res->body = x->body;
        res->body_len = x->body_len;
        x->body = NULL;
        x->body_len = x->body_cap = 0;
    }
    curl_easy_setopt(x->easy, CURLOPT_CURLU, NULL); /* the caller's, freed after the call */
    xfer_give_back(x);
    return rc;
}

int mf_http_client_request(mf_http_client_t *c, const mf_http_call_t *call, mf_http_result_t *res)
{
    xfer_t *x;
    if (call_begin(c, &x, call, res))
        return -1;
    while (attempt_begin(x)) {
        int64_t wait = attempt_end(x, curl_easy_perform(x->easy));
        if (wait < 0)
            break;
        sleep_ms(wait);
    }
    return call_end(x);
}

/* ---- calls that wait on a loop: libcurl's multi interface on the worker's epoll ---- */

static void check_done(mf_http_client_t *c);

/* A socket libcurl uses on the loop. Curl drops a kept-alive connection's socket from its set
 * when a call ends and adds it back when the next call reuses it; a socket curl opened itself
 * (on_open_socket) stays registered meanwhile, parked, which saves two epoll_ctl per call. Curl
 * closes those through on_close_socket, which forgets them. Others (the resolver's) are dropped
 * when curl drops them: they may be closed without a word. */
typedef struct sock {
    mf_http_client_t *c;
    curl_socket_t fd;
    mf_watcher_t *watch; /* NULL: not registered */
    int opened;          /* by on_open_socket: closed by on_close_socket */
    int parked;          /* curl waits for nothing on it */
} sock_t;

static void on_socket_ready(void *ud, uint32_t events)
{
    sock_t *s = ud;
    mf_http_client_t *c = s->c;
    if (s->parked) {
        /* The upstream closed the idle connection or sent something unasked: stop watching.
         * Curl finds out when it next looks at the connection. */
        mf_loop_watch_free(s->watch);
        s->watch = NULL;
        return;
    }
    int running, mask = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(c->multi, s->fd, mask, &running);
    check_done(c);
}

static void sock_free(sock_t *s)
{
    mf_http_client_t *c = s->c;
    if (s->opened)
        c->socks[s->fd] = NULL;
    mf_loop_watch_free(s->watch);
    free(s);
}

static sock_t *sock_new(mf_http_client_t *c, curl_socket_t fd, int opened)
{
    sock_t *s = mf_xcalloc(1, sizeof *s);
    s->c = c;
    s->fd = fd;
    s->opened = opened;
    if (opened) {
        if (fd >= c->nsocks) {
            int n = c->nsocks ? c->nsocks : 64;
            while (n <= fd)
                n *= 2;
            c->socks = mf_xrealloc(c->socks, (size_t)n * sizeof *c->socks);
            memset(c->socks + c->nsocks, 0, (size_t)(n - c->nsocks) * sizeof *c->socks);
            c->nsocks = n;
        }
        if (c->socks[fd]) /* closed behind curl's back: cannot be registered any more */
            sock_free(c->socks[fd]);
        c->socks[fd] = s;
    }
    return s;
}

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer_t *x = ud;
    (void)purpose;
    if (is_own_listener(&a->addr, x->refused, sizeof x->refused))
        return CURL_SOCKET_BAD;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd >= 0 && x->c->loop)
        sock_new(x->c, fd, 1);
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int on_close_socket(void *ud, curl_socket_t fd)
{
    mf_http_client_t *c = ud;
    if (fd < c->nsocks && c->socks[fd]) {
        if (c->multi) /* curl says REMOVE first; should it not, it must not keep the pointer */
            curl_multi_assign(c->multi, fd, NULL);
        sock_free(c->socks[fd]);
    }
    return close(fd);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    mf_http_client_t *c = userp;
    sock_t *s = socketp;
    (void)e;
    if (!s && fd < c->nsocks)
        s = c->socks[fd];
    if (what == CURL_POLL_REMOVE) {
        if (s && s->opened)
            s->parked = 1;
        else if (s)
            sock_free(s);
        return 0;
    }
    if (!s)
        s = sock_new(c, fd, 0);
    if (!socketp)
        curl_multi_assign(c->multi, fd, s);
    s->parked = 0;
    if (!s->watch)
        s->watch = mf_loop_watch_new(c->loop, fd, on_socket_ready, s);
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    mf_loop_watch_set(s->watch, ev);
    return 0;
}

static void on_curl_timer_due(void *ud)
{
    mf_http_client_t *c = ud;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    mf_http_client_t *c = userp;
    (void)multi;
    if (timeout_ms < 0)
        mf_loop_timer_stop(c->loop, &c->timer);
    else
        mf_loop_timer_start(c->loop, &c->timer, mf_now_ns() + (int64_t)timeout_ms * 1000000);
    return 0;
}

static void attempt_start_async(xfer_t *x);

static void call_end_async(xfer_t *x)
{
    void (*done)(void *, int) = x->done;
    void *ud = x->ud;
    done(ud, call_end(x));
}

static void on_backoff_over(void *ud)
{
    xfer_t *x = ud;
    if (attempt_begin(x))
        attempt_start_async(x);
    else
        call_end_async(x);
}

static void attempt_start_async(xfer_t *x)
{
    mf_http_client_t *c = x->c;
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        attempt_end(x, CURLE_OUT_OF_MEMORY);
        call_end_async(x);
    }
}

static void check_done(mf_http_client_t *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        xfer_t *x;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(c->multi, e);
        int64_t wait = attempt_end(x, rc);
        if (wait < 0) {
            call_end_async(x);
        } else {
            mf_loop_timer_start(c->loop, &x->backoff, mf_now_ns() + wait * 1000000);
        }
    }
}

int mf_http_client_start(mf_http_client_t *c, const mf_http_call_t *call, mf_http_result_t *res,
                         void (*done)(void *ud, int rc), void *ud, int *rc)
{
    xfer_t *x;
    if (!c->multi) {
        c->multi = curl_multi_init();
        if (!c->multi) {
            memset(res, 0, sizeof *res);
            res->err = MF_HTTP_ERR_IO;
            snprintf(res->message, sizeof res->message, "libcurl: out of memory");
            *rc = -1;
            return 1;
        }
        mf_timer_init(&c->timer, on_curl_timer_due, c);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)MAX_LOOP_CONNECTIONS);
        curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_LOOP_CONNECTIONS);
    }
    if (call_begin(c, &x, call, res)) {
        *rc = -1;
        return 1;
    }
    if (!attempt_begin(x)) {
        *rc = call_end(x);
        return 1;
    }
    x->done = done;
    x->ud = ud;
    attempt_start_async(x);
    return 0;
}

void mf_http_result_free(mf_http_result_t *res)
{
    free(res->headers);
    free(res->body);
    res->headers = res->body = NULL;
}
