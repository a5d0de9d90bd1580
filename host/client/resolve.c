/* Host names to addresses for the native engine, off the loop: a numeric host at once, a name
 * from the client's cache (kept DNS_TTL_S, as libcurl's) or from getaddrinfo on one of a few
 * resolver threads the whole process shares, whose answer is posted back to the loop. Calls
 * waiting for the same name wait for one lookup. */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "client/private.h"

#define DNS_TTL_S 60
#define MAX_RESOLVER_THREADS 4 /* one slow name server answer holds one of them */
#define NAME_BUCKETS 64
#define MAX_NAMES 1024 /* past this many, expired names are dropped as new ones come */

typedef struct job job_t;

/* A name's addresses in one client, or the lookup that will bring them. */
typedef struct name_entry {
    char *name;
    mf_http_addrs_t addrs;
    int64_t expires_ns;       /* addrs are good until then (0: none yet) */
    job_t *job;               /* the lookup under way, or NULL */
    mf_http_name_wait_t *waiting;
    struct name_entry *next;  /* in its bucket */
} name_entry_t;

struct mf_http_names {
    mf_loop_t *loop;
    name_entry_t *buckets[NAME_BUCKETS];
    int count;
};

/* A lookup, owned by the resolver threads until posted, then by the loop's callback; its client
 * frees it when the loop will never run that callback (posted), or lets the thread drop it
 * (cancelled). Its fields after name are the lock's. */
struct job {
    char *name;
    mf_loop_t *loop;
    name_entry_t *entry;
    mf_http_addrs_t addrs;
    int gai_error;
    int posted, cancelled;
    job_t *next; /* in the queue */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static job_t *queue_head, **queue_tail = &queue_head;
static int threads, idle_threads;

static void job_free(job_t *j)
{
    free(j->name);
    free(j);
}

/* ---- on the loop ---- */

/* One at a time off the list: a waiter's done may cancel another. */
static void entry_settle(name_entry_t *e, const char *err)
{
    mf_http_name_wait_t *w;
    while ((w = e->waiting)) {
        e->waiting = w->next;
        w->entry = NULL;
        w->done(w, err ? NULL : &e->addrs, err);
    }
}

static void on_resolved(void *ud)
{
    job_t *j = ud;
    name_entry_t *e = j->entry;
    e->job = NULL;
    char err[160] = "";
    if (j->gai_error) {
        snprintf(err, sizeof err, "could not resolve host %.100s: %s", j->name,
                 gai_strerror(j->gai_error));
    } else {
        e->addrs = j->addrs;
        e->expires_ns = mf_now_ns() + (int64_t)DNS_TTL_S * 1000000000;
    }
    job_free(j);
    entry_settle(e, err[0] ? err : NULL);
}

/* ---- the resolver threads ---- */

static void lookup(job_t *j)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    j->gai_error = getaddrinfo(j->name, NULL, &hints, &ai);
    if (!j->gai_error) {
        for (struct addrinfo *p = ai; p && j->addrs.n < MF_HTTP_MAX_ADDRS; p = p->ai_next) {
            if ((p->ai_family != AF_INET && p->ai_family != AF_INET6) ||
                p->ai_addrlen > sizeof j->addrs.addr[0])
                continue;
            memcpy(&j->addrs.addr[j->addrs.n], p->ai_addr, p->ai_addrlen);
            j->addrs.len[j->addrs.n++] = p->ai_addrlen;
        }
        freeaddrinfo(ai);
        if (!j->addrs.n)
            j->gai_error = EAI_NONAME;
    }
}

static void *resolver_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!queue_head) {
            idle_threads++;
            pthread_cond_wait(&queued, &lock);
            idle_threads--;
        }
        job_t *j = queue_head;
        queue_head = j->next;
        if (!queue_head)
            queue_tail = &queue_head;
        if (j->cancelled) {
            job_free(j);
            continue;
        }
        pthread_mutex_unlock(&lock);
        lookup(j);
        pthread_mutex_lock(&lock);
        if (j->cancelled) {
            job_free(j);
        } else {
            j->posted = 1;
            mf_loop_post(j->loop, on_resolved, j);
        }
    }
    return NULL;
}

static void job_queue(job_t *j)
{
    pthread_mutex_lock(&lock);
    *queue_tail = j;
    queue_tail = &j->next;
    if (!idle_threads && threads < MAX_RESOLVER_THREADS) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, resolver_main, NULL) == 0)
            threads++;
        pthread_attr_destroy(&attr);
    }
    pthread_cond_signal(&queued);
    pthread_mutex_unlock(&lock);
}

/* ---- the API ---- */

mf_http_names_t *mf_http_client__names_new(mf_loop_t *loop)
{
    mf_http_names_t *n = mf_xcalloc(1, sizeof *n);
    n->loop = loop;
    return n;
}

void mf_http_client__names_free(mf_http_names_t *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&lock);
    for (int b = 0; b < NAME_BUCKETS; b++)
        for (name_entry_t *e = n->buckets[b]; e; e = e->next)
            if (e->job) {
                if (e->job->posted) /* the loop will not run on_resolved any more */
                    job_free(e->job);
                else
                    e->job->cancelled = 1;
            }
    pthread_mutex_unlock(&lock);
    for (int b = 0; b < NAME_BUCKETS; b++)
        while (n->buckets[b]) {
            name_entry_t *e = n->buckets[b];
            n->buckets[b] = e->next;
            free(e->name);
            free(e);
        }
    free(n);
}

/* Names a script called once and not since: their entries go, unless a lookup or a call still
 * needs them. */
static void drop_expired(mf_http_names_t *n)
{
    int64_t now = mf_now_ns();
    for (int b = 0; b < NAME_BUCKETS; b++)
        for (name_entry_t **p = &n->buckets[b]; *p;) {
            name_entry_t *e = *p;
            if (!e->job && !e->waiting && e->expires_ns < now) {
                *p = e->next;
                free(e->name);
                free(e);
                n->count--;
            } else {
                p = &e->next;
            }
        }
}

/* host as a numeric address into a, or 0. */
static int numeric(const char *host, mf_http_addrs_t *a)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->addr[0];
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->addr[0];
    memset(&a->addr[0], 0, sizeof a->addr[0]);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        a->len[0] = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        a->len[0] = sizeof *v6;
    } else {
        return 0;
    }
    a->n = 1;
    return 1;
}

int mf_http_client__resolve(mf_http_names_t *n, const char *host, mf_http_addrs_t *out,
                            mf_http_name_wait_t *w)
{
    if (numeric(host, out))
        return 1;
    size_t len = strlen(host), b = mf_hash(MF_HASH_INIT, host, len) % NAME_BUCKETS;
    name_entry_t *e = n->buckets[b];
    while (e && strcmp(e->name, host) != 0)
        e = e->next;
    if (!e) {
        if (n->count >= MAX_NAMES)
            drop_expired(n);
        n->count++;
        e = mf_xcalloc(1, sizeof *e);
        e->name = mf_xstrdup(host);
        e->next = n->buckets[b];
        n->buckets[b] = e;
    }
    if (e->expires_ns && mf_now_ns() < e->expires_ns) {
        *out = e->addrs;
        return 1;
    }
    w->entry = e;
    w->next = e->waiting;
    e->waiting = w;
    if (!e->job) {
        job_t *j = mf_xcalloc(1, sizeof *j);
        j->name = mf_xstrdup(host);
        j->loop = n->loop;
        j->entry = e;
        e->job = j;
        job_queue(j);
    }
    return 0;
}

void mf_http_client__resolve_cancel(mf_http_name_wait_t *w)
{
    name_entry_t *e = w->entry;
    if (!e)
        return;
    for (mf_http_name_wait_t **p = &e->waiting; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    w->entry = NULL;
}
