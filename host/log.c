#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int min_level = MF_LOG_INFO;
static int access_on = 1;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void mf_log_setup(int level, int access_log)
{
    min_level = level;
    access_on = access_log;
}

int mf_log_enabled(int level)
{
    return level >= min_level;
}

int mf_log_access_enabled(void)
{
    return access_on;
}

void mf_log_begin(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                  const char *request_id)
{
    struct timespec ts;
    struct tm tm;
    char stamp[40];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000);
    mf_jsonbuf_open(l);
    mf_jsonbuf_str(l, "ts", stamp, (size_t)n);
    mf_jsonbuf_cstr(l, "level", level_names[level < 0 ? 0 : level > 3 ? 3 : level]);
    mf_jsonbuf_str(l, "msg", msg, msglen);
    if (request_id)
        mf_jsonbuf_cstr(l, "request_id", request_id);
}

static int log_fd = STDOUT_FILENO;

void mf_log_set_fd(int fd)
{
    log_fd = fd;
}

void mf_log_end(mf_jsonbuf_t *l)
{
    size_t len;
    char *line = mf_jsonbuf_close(l, &len);
    line[len] = '\n'; /* replaces the NUL: the line is written by length */
    /* One lock around the write, so lines longer than PIPE_BUF never interleave. */
    pthread_mutex_lock(&out_lock);
    const char *p = line;
    size_t left = len + 1;
    while (left > 0) {
        ssize_t w = write(log_fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* stdout is gone: nothing sensible is left to do with a log line */
        p += w;
        left -= (size_t)w;
    }
    pthread_mutex_unlock(&out_lock);
    free(line);
}

void mf_log_msg(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    mf_jsonbuf_t l;

    if (!mf_log_enabled(level))
        return;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    mf_log_begin(&l, level, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, NULL);
    mf_log_end(&l);
}
