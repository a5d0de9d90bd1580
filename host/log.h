/* JSON lines on stdout: one object per line (ts, level, msg, request_id, then fields), and never
 * anything else on stdout. */
#ifndef MF_LOG_H
#define MF_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "jsonbuf.h"
#include "options.h"

void mf_log_setup(int level, int access_log);
int mf_log_enabled(int level);
int mf_log_access_enabled(void);
/* Where lines go (stdout unless told): mayfly test keeps stdout for its report. */
void mf_log_set_fd(int fd);

/* Begins a line with ts, level, msg and, when not NULL, request_id; add fields with the
 * mf_jsonbuf_* writers, then mf_log_end writes it with one write(2). */
void mf_log_begin(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                  const char *request_id);
void mf_log_end(mf_jsonbuf_t *l);

/* A line with a printf-style message and no other field. */
void mf_log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
