/* Per-thread log buffers: a worker writes its access lines into a buffer of its own, and one
 * write(2) takes many lines at once — at a high request rate the write per line (and the wake-up
 * of whatever reads the pipe) costs more than the request. A buffer is written when it fills,
 * before any unbuffered line of the same thread (so a thread's lines stay in order), by the
 * flusher thread once its oldest line is MF_LOG_BUFFER_MS old, and at exit. */
#ifndef MF_LOG_BUFFER_H
#define MF_LOG_BUFFER_H

#include <stddef.h>

#define MF_LOG_BUFFER_MS 20

/* Appends whole lines to the calling thread's buffer (made on first use). */
void mf_log_buffer_add(const char *lines, size_t len);
/* Writes the calling thread's buffer, if it has one. */
void mf_log_buffer_flush_mine(void);
/* Starts the flusher thread (once; later calls do nothing). Returns 0 or -1. */
int mf_log_buffer_start(void);
/* Stops the flusher and writes every buffer; call when the threads that log have stopped. */
void mf_log_buffer_stop(void);

#endif
