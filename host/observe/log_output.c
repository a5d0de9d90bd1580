#include "observe/log_output.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDOUT_FILENO;

void mf_log_output_set_fd(int fd)
{
    log_fd = fd;
}

int mf_log_output_fd(void)
{
    return log_fd;
}

void mf_log_output_write(const char *p, size_t left)
{
    pthread_mutex_lock(&out_lock);
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
}
