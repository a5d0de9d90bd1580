#include "observe/log_buffer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "observe/log_output.h"

#define BUFFER_SIZE (32 * 1024)

typedef struct buffer {
    pthread_mutex_t lock; /* the owner thread and the flusher */
    size_t len;
    int64_t oldest_ns; /* when the first line still in data was added */
    struct buffer *next;
    char data[BUFFER_SIZE];
} buffer_t;

static __thread buffer_t *mine;
static buffer_t *_Atomic buffers; /* every buffer made, for the flusher; never freed */
static pthread_t flusher;
static atomic_int flusher_state; /* 0 none, 1 running, 2 stopping */

static void flush_locked(buffer_t *b)
{
    if (b->len) {
        mf_log_output_write(b->data, b->len);
        b->len = 0;
    }
}

void mf_log_buffer_add(const char *lines, size_t len)
{
    if (!mine) {
        mine = mf_xcalloc(1, sizeof *mine);
        pthread_mutex_init(&mine->lock, NULL);
        mine->next = atomic_load(&buffers);
        while (!atomic_compare_exchange_weak(&buffers, &mine->next, mine))
            ;
    }
    if (atomic_load_explicit(&flusher_state, memory_order_relaxed) != 1) {
        mf_log_output_write(lines, len); /* nobody would write the buffer in time */
        return;
    }
    pthread_mutex_lock(&mine->lock);
    if (mine->len + len > BUFFER_SIZE)
        flush_locked(mine);
    if (len > BUFFER_SIZE) {
        mf_log_output_write(lines, len);
    } else {
        if (!mine->len)
            mine->oldest_ns = mf_now_ns();
        memcpy(mine->data + mine->len, lines, len);
        mine->len += len;
    }
    pthread_mutex_unlock(&mine->lock);
}

void mf_log_buffer_flush_mine(void)
{
    if (!mine)
        return;
    pthread_mutex_lock(&mine->lock);
    flush_locked(mine);
    pthread_mutex_unlock(&mine->lock);
}

static void flush_all(int64_t older_than_ns)
{
    for (buffer_t *b = atomic_load(&buffers); b; b = b->next) {
        pthread_mutex_lock(&b->lock);
        if (b->len && b->oldest_ns <= older_than_ns)
            flush_locked(b);
        pthread_mutex_unlock(&b->lock);
    }
}

static void *run(void *arg)
{
    (void)arg;
    struct timespec tick = {0, MF_LOG_BUFFER_MS / 2 * 1000000L};
    while (atomic_load(&flusher_state) == 1) {
        nanosleep(&tick, NULL);
        flush_all(mf_now_ns() - MF_LOG_BUFFER_MS * 1000000LL);
    }
    return NULL;
}

int mf_log_buffer_start(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&flusher_state, &expected, 1))
        return 0;
    if (pthread_create(&flusher, NULL, run, NULL)) {
        atomic_store(&flusher_state, 0);
        return -1;
    }
    return 0;
}

void mf_log_buffer_stop(void)
{
    int expected = 1;
    if (atomic_compare_exchange_strong(&flusher_state, &expected, 2))
        pthread_join(flusher, NULL);
    atomic_store(&flusher_state, 0);
    flush_all(INT64_MAX);
}
