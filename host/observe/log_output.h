/* Where log lines go: one descriptor (stdout unless told), written under one lock so that lines
 * longer than PIPE_BUF never interleave. The lowest piece of the log: log_buffer.c writes its
 * buffers here, log.c its unbuffered lines. */
#ifndef MF_LOG_OUTPUT_H
#define MF_LOG_OUTPUT_H

#include <stddef.h>

/* mayfly test keeps stdout for its report. Call before other threads log. */
void mf_log_output_set_fd(int fd);
int mf_log_output_fd(void);
/* Writes bytes (whole lines). */
void mf_log_output_write(const char *p, size_t len);

#endif
