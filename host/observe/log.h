/* JSON lines on stdout: one object per line (ts, level, msg; in a request request_id, trace_id
 * and span_id; the static fields; then the line's own fields), and never anything else on
 * stdout. With MAYFLY_LOG_FORMAT=text, or auto (the default) when the log goes to a terminal,
 * each line is rendered from its JSON as text for a person, with the same fields. */
#ifndef MF_LOG_H
#define MF_LOG_H

#include <stddef.h>

#include "base/jsonbuf.h"
#include "base/options.h"
#include "observe/trace.h"

/* Also settles the format: the one mf_options_load read, applied to where lines go. */
void mf_log_setup(int level, int access_log);
int mf_log_enabled(int level);
int mf_log_access_enabled(void);
/* Where lines go (stdout unless told): mayfly test keeps stdout for its report. Settles the
 * format again (text when auto and fd is a terminal). */
void mf_log_set_fd(int fd);

/* The static fields written on every line: pod_name (POD_NAME) and namespace (NAMESPACE or
 * POD_NAMESPACE) when set, then spec's "key=value,key=value" (NULL: none). Returns 0, or -1
 * with a message for a key that is not [A-Za-z_][A-Za-z0-9_]*, a key the host writes, or a
 * part without '='. Call once at start-up, before other threads log. */
int mf_log_set_fields(const char *spec, char *err, size_t errlen);

/* 1 when key is written by the host on every line (ts, level, msg, request_id, trace_id,
 * span_id, the static fields): a script's field of that name is renamed field_<key>. */
int mf_log_reserved(const char *key);

/* Begins a line with ts, level, msg and, when not NULL, request_id; add fields with the
 * mf_jsonbuf_* writers, then mf_log_end writes it with one write(2). */
void mf_log_begin(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                  const char *request_id);
/* The same with request_id, trace_id and span_id, written as they are, without escaping (the
 * line of every request pays for none): request_id must be JSON-safe, as an inbound request's
 * ([A-Za-z0-9._:-] given, or hex made) is. */
void mf_log_begin_traced(mf_jsonbuf_t *l, int level, const char *msg, size_t msglen,
                         const char *request_id, const mf_trace_t *trace);
void mf_log_end(mf_jsonbuf_t *l);
/* The same for a line that may wait: a worker's access lines go to its buffer (log_buffer.h),
 * written within MF_LOG_BUFFER_MS or when it fills, in one write with the others. */
void mf_log_end_buffered(mf_jsonbuf_t *l);

/* A line with a printf-style message and no other field. */
void mf_log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
