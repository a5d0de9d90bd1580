/* A call through libcurl, from start to end, whichever way it waits: its handle (kept for the
 * next call, with DNS and TLS sessions cached per client), its request, its attempts with the
 * request's deadline, retries with backoff and the upstream's breaker, and its outcome. Blocking
 * calls run here in curl_easy_perform; calls on a loop are multi.c's. */
#include "client/http_client.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/random.h"
#include "client/private.h"
#include "observe/log.h"

#define MAX_CONNECTIONS 16  /* idle keep-alive connections a blocking client keeps */
#define DNS_TTL_S 60        /* how long a worker trusts a resolved address */
#define BACKOFF_BASE_MS 50  /* the first retry waits 25-50 ms, then twice as long each time */
#define BACKOFF_CAP_MS 1000 /* ... up to 0.5-1 s */
#define MIN_ATTEMPT_MS 1    /* less budget than this left: no attempt is made */
#define KEEP_BUFFER 65536   /* a failed call's body buffer is kept for the next up to this size */

static const char *const err_names[MF_HTTP_ERR_COUNT] = {
    "",          "timeout",  "resolve",  "connect", "tls", "circuit_open",
    "too_large", "redirect", "protocol", "io"};

const char *mf_http_err_name(mf_http_err_t e)
{
    return e > 0 && e < MF_HTTP_ERR_COUNT ? err_names[e] : "";
}

/* ---- the client and its handles ---- */

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
    mf_http_xfer_t *x = ud;
    size_t len = size * n;
    if (len > x->c->opts->http_max_body - x->body.len) {
        x->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    mf_buf_append(&x->body, data, len);
    return len;
}

/* Every connection's socket: none to this process's own listeners (the attempt then fails
 * with x->refused set). */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    mf_http_xfer_t *x = ud;
    (void)purpose;
    if (mf_http_client__own_listener(&a->addr, x->refused, sizeof x->refused))
        return CURL_SOCKET_BAD;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd >= 0 && x->c->loop)
        mf_http_client__socket_opened(x->c, fd);
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

/* A call record with its handle set up with what every call shares. NULL with err when libcurl
 * cannot start. */
static mf_http_xfer_t *xfer_take(mf_http_client_t *c, char *err, size_t errlen)
{
    mf_http_xfer_t *x = c->free_xfers;
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
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, mf_http_client__close_socket);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
    }
    return x;
}

static void xfer_free(mf_http_xfer_t *x)
{
    curl_easy_cleanup(x->easy);
    mf_buf_free(&x->body);
    mf_buf_free(&x->nat.out);
    mf_http_reader_free(&x->nat.reader);
    free(x);
}

static void xfer_give_back(mf_http_xfer_t *x)
{
    if (x->body.cap > KEEP_BUFFER) /* not a large one for every later call */
        mf_buf_free(&x->body);
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
        mf_http_xfer_t *x = c->free_xfers;
        c->free_xfers = x->next_free;
        xfer_free(x);
    }
    mf_http_client__loop_free(c);
    free(c->scratch);
    if (c->share)
        curl_share_cleanup(c->share);
    free(c);
}

/* ---- the request ---- */

static int has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; headers && headers[i]; i++)
        if (!strncasecmp(headers[i], name, n) && headers[i][n] == ':')
            return 1;
    return 0;
}

int mf_http_client__sends_body(const char *method, const char *body)
{
    return body || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
}

/* The attempt's header list: the caller's lines, the attempt's budget and traceparent, and with
 * a body, empty values that keep curl from adding an Expect: 100-continue round trip or a form
 * Content-Type. */
static struct curl_slist *build_headers(const mf_http_xfer_t *x, int64_t timeout_ms)
{
    const mf_http_call_t *call = &x->call;
    struct curl_slist *list = NULL, *next;
    char line[192];
    for (int i = 0; call->headers && call->headers[i]; i++) {
        if (x->nat.strip_auth && mf_http_client__credential(call->headers[i]))
            continue;
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
    if (mf_http_client__span_header(x, line, sizeof line)) {
        if (!(next = curl_slist_append(list, line)))
            goto oom;
        list = next;
    }
    if (mf_http_client__sends_body(call->method, call->body) && !has_header(call->headers, "expect")) {
        if (!(next = curl_slist_append(list, "Expect:")))
            goto oom;
        list = next;
    }
    if (mf_http_client__sends_body(call->method, call->body) && !has_header(call->headers, "content-type")) {
        if (!(next = curl_slist_append(list, "Content-Type:")))
            goto oom;
        list = next;
    }
    return list;
oom:
    curl_slist_free_all(list);
    abort(); /* as mf_xmalloc does */
}

static void set_method(CURL *e, const char *method, const char *body, size_t body_len)
{
    /* Undo the last call's method first: POSTFIELDS selects POST, HTTPGET goes back to GET. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    int is_get = !strcmp(method, "GET");
    if (body || !is_get) {
        /* POST stays a plain POST so that a 303 turns it into a GET, as browsers do. */
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (mf_http_client__sends_body(method, body)) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        }
    }
}

/* ---- the outcome ---- */

mf_http_err_t mf_http_client__classify(CURL *e, CURLcode rc, int too_large)
{
    long status = 0;
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
        return MF_HTTP_ERR_REDIRECT;
    case CURLE_UNSUPPORTED_PROTOCOL: /* a redirect to another scheme, or an HTTP/0.9 answer */
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        return status >= 300 && status < 400 ? MF_HTTP_ERR_REDIRECT : MF_HTTP_ERR_PROTOCOL;
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
    mf_buf_t b;
    mf_buf_init(&b, NULL, 0);
    struct curl_header *h = NULL;
    while ((h = curl_easy_nextheader(e, CURLH_HEADER, -1, h))) {
        size_t nl = strlen(h->name);
        mf_buf_reserve(&b, nl);
        for (size_t i = 0; i < nl; i++)
            b.data[b.len++] = (char)tolower((unsigned char)h->name[i]);
        mf_buf_lit(&b, ": ");
        mf_buf_append(&b, h->value, strlen(h->value));
        mf_buf_lit(&b, "\n");
    }
    res->headers = mf_buf_take(&b, &res->headers_len);
}

static void log_attempt(const mf_http_xfer_t *x, int64_t duration_ns, int64_t retry_in_ms)
{
    if (!mf_log_enabled(MF_LOG_DEBUG))
        return;
    const mf_http_call_t *call = &x->call;
    const mf_http_result_t *res = x->res;
    mf_jsonbuf_t l;
    mf_log_begin(&l, MF_LOG_DEBUG, "http attempt", 12, call->request_id);
    mf_jsonbuf_cstr(&l, "method", call->method);
    mf_jsonbuf_cstr(&l, "upstream", call->url->upstream);
    mf_jsonbuf_cstr(&l, "engine", x->on_curl ? "curl" : "native");
    mf_jsonbuf_int(&l, "attempt", x->n);
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

/* ---- attempts ---- */

int mf_http_client__credential(const char *line)
{
    return !strncasecmp(line, "authorization:", 14) || !strncasecmp(line, "cookie:", 7);
}

int mf_http_client__attempt_begin(mf_http_xfer_t *x)
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
        mf_http_client__call_refused(x->u, res->err);
        return 0;
    }
    if (!mf_http_client__allow(x->u, start)) {
        if (x->n > 0)
            return 0;
        res->err = MF_HTTP_ERR_CIRCUIT_OPEN;
        snprintf(res->message, sizeof res->message,
                 "circuit breaker for %s is open after repeated failures", call->url->upstream);
        mf_http_client__call_refused(x->u, res->err);
        return 0;
    }
    x->attempt_start = start;
    x->refused[0] = '\0';
    x->n++;
    res->attempts = x->n;
    mf_http_client__span_begin(x);
    x->body.len = 0;
    x->too_large = 0;
    x->errbuf[0] = '\0';
    x->timeout_ms = timeout_ms;
    x->cut = cut;
    x->on_curl = !x->native;
    if (x->on_curl)
        mf_http_client__attempt_curl(x, x->call.url, timeout_ms);
    return 1;
}

void mf_http_client__attempt_curl(mf_http_xfer_t *x, const mf_http_url_t *url, int64_t timeout_ms)
{
    if (url != x->call.url) { /* a native attempt's redirect to https goes on here */
        curl_easy_setopt(x->easy, CURLOPT_CURLU, mf_http_url_curl(url));
        set_method(x->easy, x->nat.method, x->nat.with_body ? x->call.body : NULL,
                   x->nat.with_body ? x->call.body_len : 0);
        curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(x->easy, CURLOPT_MAXREDIRS, (long)(x->call.max_redirects - x->nat.redirects));
        curl_easy_setopt(x->easy, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        x->on_curl = 1;
    }
    x->headers = build_headers(x, x->timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
}

void mf_http_client__attempt_release(mf_http_xfer_t *x)
{
    if (!x->headers)
        return;
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(x->headers);
    x->headers = NULL;
}

int64_t mf_http_client__attempt_end(mf_http_xfer_t *x, CURLcode rc)
{
    mf_http_client__attempt_release(x);
    return mf_http_client__attempt_outcome(x, rc);
}

void mf_http_client__attempt_error(mf_http_xfer_t *x, mf_http_err_t err, const char *detail)
{
    mf_http_result_t *res = x->res;
    res->err = err;
    if (x->refused[0]) {
        res->err = MF_HTTP_ERR_CONNECT;
        snprintf(res->message, sizeof res->message,
                 "refused: %s is this process's own listener (a handler cannot call its own "
                 "replica: /metrics and the routes' state are not for scripts to read back)",
                 x->refused);
    } else if (err == MF_HTTP_ERR_TOO_LARGE) {
        snprintf(res->message, sizeof res->message,
                 "response body larger than MAYFLY_HTTP_MAX_BODY (%zu bytes)",
                 x->c->opts->http_max_body);
    } else if (err == MF_HTTP_ERR_TIMEOUT) {
        snprintf(res->message, sizeof res->message,
                 x->cut ? "no response within %lldms, what was left of the request's "
                          "MAYFLY_REQUEST_TIMEOUT"
                        : "no response within %lldms",
                 (long long)x->timeout_ms);
    } else {
        snprintf(res->message, sizeof res->message, "%s", detail);
    }
}

int64_t mf_http_client__attempt_outcome(mf_http_xfer_t *x, CURLcode rc)
{
    mf_http_result_t *res = x->res;
    CURL *e = x->easy;

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
    } else {
        mf_http_client__attempt_error(x, mf_http_client__classify(e, rc, x->too_large),
                                      x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    }
    return mf_http_client__attempt_judge(x);
}

int64_t mf_http_client__attempt_judge(mf_http_xfer_t *x)
{
    const mf_http_call_t *call = &x->call;
    mf_http_result_t *res = x->res;
    mf_http_client__span_end(x, 0);
    int64_t took = mf_now_ns() - x->attempt_start;
    int transient = !x->refused[0] && is_transient(res->err, res->status);
    mf_http_client__attempt_done(x->u, res->status, res->err, transient, took);
    int64_t wait = -1;
    if (transient && x->n <= call->retries) {
        wait = backoff_ms(x->n - 1);
        if (call->deadline_ns &&
            mf_now_ns() + (wait + MIN_ATTEMPT_MS) * 1000000 > call->deadline_ns)
            wait = -1; /* no time left for another attempt */
    }
    log_attempt(x, took, wait);
    return wait;
}

/* ---- calls ---- */

/* What a call on libcurl sets once for all its attempts. */
static void curl_setup(mf_http_xfer_t *x)
{
    const mf_http_call_t *call = &x->call;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_CURLU, mf_http_url_curl(call->url));
    set_method(e, call->method, call->body, call->body_len);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, call->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)call->max_redirects);
    /* Never from https down to http. */
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, call->url->https ? "https" : "http,https");
}

int mf_http_client__native_wants(const mf_http_client_t *c, const mf_http_call_t *call)
{
    /* With a proxy variable set, curl's reading of them (no_proxy's patterns) decides. */
    return c->loop && c->opts->http_engine == MF_HTTP_ENGINE_NATIVE && !call->url->https &&
           !proxy_env;
}

int mf_http_client__call_begin(mf_http_client_t *c, mf_http_xfer_t **out,
                               const mf_http_call_t *call, mf_http_result_t *res, int may_native)
{
    memset(res, 0, sizeof *res);
    *out = NULL;
    mf_http_xfer_t *x = xfer_take(c, res->message, sizeof res->message);
    if (!x) {
        res->err = MF_HTTP_ERR_IO;
        return -1;
    }
    x->call = *call;
    x->res = res;
    x->n = 0;
    x->u = mf_http_client__upstream(call->url->upstream, c->opts);
    x->native = may_native && mf_http_client__native_wants(c, call);
    if (!x->native)
        curl_setup(x);
    *out = x;
    return 0;
}

int mf_http_client__call_end(mf_http_xfer_t *x)
{
    mf_http_client__span_end(x, 1); /* an attempt that never had an outcome */
    mf_http_result_t *res = x->res;
    int rc = res->err ? -1 : 0;
    if (!rc)
        res->body = mf_buf_take(&x->body, &res->body_len);
    curl_easy_setopt(x->easy, CURLOPT_CURLU, NULL); /* the caller's, freed after the call */
    if (x->discard)
        xfer_free(x);
    else
        xfer_give_back(x);
    return rc;
}

void mf_http_result_free(mf_http_result_t *res)
{
    free(res->headers);
    free(res->body);
    res->headers = res->body = NULL;
}

/* ---- blocking calls ---- */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int mf_http_client_request(mf_http_client_t *c, const mf_http_call_t *call, mf_http_result_t *res)
{
    mf_http_xfer_t *x;
    if (mf_http_client__call_begin(c, &x, call, res, 0))
        return -1;
    while (mf_http_client__attempt_begin(x)) {
        int64_t wait = mf_http_client__attempt_end(x, curl_easy_perform(x->easy));
        if (wait < 0)
            break;
        sleep_ms(wait);
    }
    return mf_http_client__call_end(x);
}
