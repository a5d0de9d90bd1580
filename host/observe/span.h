/* OpenTelemetry spans: the host records the spans of requests, Redis calls, outbound calls,
 * hooks and jobs and the scripts' own, and hands each one, ended, to the exporter
 * (otlp_export.h) through its bounded queue.
 *
 * Tracing is on once mf_span_setup ran with an OTLP endpoint (mayfly serve); otherwise nothing
 * is recorded: the begin functions return NULL and every other function takes a NULL span and
 * returns at once, so a caller never asks whether tracing is on before it records.
 *
 * A span belongs to one thread at a time (the worker that records it); once ended it is the
 * exporter's. Times are mf_now_ns()'s (CLOCK_MONOTONIC); the encoder turns them into wall time. */
#ifndef MF_SPAN_H
#define MF_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "observe/trace.h"

/* OTLP's SpanKind and Status.StatusCode values. */
enum { MF_SPAN_INTERNAL = 1, MF_SPAN_SERVER = 2, MF_SPAN_CLIENT = 3 };
enum { MF_SPAN_UNSET = 0, MF_SPAN_OK = 1, MF_SPAN_ERROR = 2 };

#define MF_SPAN_NAME_MAX 127 /* longer names are cut (at a UTF-8 boundary) */

/* The samplers of OTEL_TRACES_SAMPLER: a base decision for traces that begin here, and whether a
 * caller's sampled flag decides instead (the parentbased_* ones). */
typedef enum { MF_SAMPLE_ALWAYS_ON, MF_SAMPLE_ALWAYS_OFF, MF_SAMPLE_RATIO } mf_sampler_kind_t;

typedef struct {
    mf_sampler_kind_t kind;
    int parent_based;
    double ratio; /* MF_SAMPLE_RATIO: 0..1 */
} mf_sampler_t;

/* The OTEL_SPAN_* limits: past them attributes and events are dropped (and counted in the span),
 * string values cut at value_len bytes (at a UTF-8 boundary). */
typedef struct {
    int attr_count, event_count, event_attr_count;
    size_t value_len;
} mf_span_limits_t;

typedef struct mf_span {
    struct mf_span *next; /* the exporter's queue */
    uint8_t trace_id[16], span_id[8], parent_id[8]; /* parent_id all zero: a root span */
    uint8_t kind, status;
    uint8_t parent_remote; /* the parent came from a caller's traceparent */
    uint8_t resets; /* set by whoever may set a key twice (scripts): setting a key again then
                       marks the earlier value replaced; host code sets each key once */
    uint8_t event_dropped; /* the last event was dropped: its attributes go with it */
    int64_t start_ns, end_ns;
    uint16_t name_len;
    uint16_t nattrs, nevents, dropped_attrs, dropped_events;
    uint16_t event_attrs; /* the last event's attributes so far */
    uint32_t last_event;  /* where the last event's item is in items */
    uint32_t message_len;
    char *message; /* the status's description (ERROR only), owned; NULL: none */
    mf_buf_t items; /* attributes and events, read with mf_span_next_item */
    char name[MF_SPAN_NAME_MAX + 1];
    /* private: where items start, so that a span is one allocation (a request's fits) */
    char items_storage[512];
} mf_span_t;

/* ---- set-up (mayfly serve, before the workers start) ---- */

/* Turns recording on with the sampler and limits; never turned off in the process. */
void mf_span_setup(const mf_sampler_t *sampler, const mf_span_limits_t *limits);
/* 1 once mf_span_setup ran. */
int mf_span_enabled(void);

/* Whether a trace is sampled: for a trace that begins here (has_parent 0) the sampler's base
 * decision on the trace id (ratio: its last 8 bytes, as OpenTelemetry's TraceIdRatioBased
 * reads them); with a caller's span, its sampled flag for a parent-based sampler. Only
 * meaningful once set up. */
int mf_span_sample(const uint8_t trace_id[16], int has_parent, int parent_sampled);

/* ---- recording ---- */

/* The span of a request the trace context t describes (observe/trace.h: its span id, its
 * caller's span as the remote parent), from start_ns; NULL when tracing is off or t is not
 * sampled. */
mf_span_t *mf_span_begin_server(const mf_trace_t *t, int64_t start_ns, const char *name,
                                size_t len);
/* A child of parent in its trace, from now; NULL when parent is NULL. */
mf_span_t *mf_span_begin_child(const mf_span_t *parent, int kind, const char *name, size_t len);

/* What a child needs of its parent, by value: for a call that may outlast the parent's record
 * (an outbound call whose run ended while it went on). */
typedef struct {
    uint8_t trace_id[16], span_id[8];
} mf_span_context_t;

void mf_span_context(const mf_span_t *s, mf_span_context_t *out);
/* A child of the span parent describes, from now. */
mf_span_t *mf_span_begin_under(const mf_span_context_t *parent, int kind, const char *name,
                               size_t len);
/* The root of a new trace (a hook, a job), from now; NULL when tracing is off or the sampler
 * says no. */
mf_span_t *mf_span_begin_root(int kind, const char *name, size_t len);

void mf_span_rename(mf_span_t *s, const char *name, size_t len);

/* Attributes. key is not checked (host keys are literals; scripts' keys are checked by their
 * binding) and is cut at 64 KiB. A key set twice is kept twice unless s->resets is set. */
void mf_span_set_str(mf_span_t *s, const char *key, const char *value, size_t len);
void mf_span_set_int(mf_span_t *s, const char *key, int64_t value);
void mf_span_set_double(mf_span_t *s, const char *key, double value);
void mf_span_set_bool(mf_span_t *s, const char *key, int value);

/* An event at now; the attributes added next with mf_span_event_* belong to it. */
void mf_span_event(mf_span_t *s, const char *name, size_t len);
void mf_span_event_str(mf_span_t *s, const char *key, const char *value, size_t len);

/* Status ERROR with a description (message may be NULL), or OK. The last call wins. */
void mf_span_error(mf_span_t *s, const char *message, size_t len);
void mf_span_ok(mf_span_t *s);

/* The traceparent a call made inside s carries: version 00, s as the parent, sampled. out gets
 * MF_TRACEPARENT_LEN characters and a NUL. */
void mf_span_traceparent(const mf_span_t *s, char out[MF_TRACEPARENT_LEN + 1]);

/* Ends s now (at end_ns with mf_span_end_at) and hands it to the exporter, which owns it from
 * then on; NULL is ignored. */
void mf_span_end(mf_span_t *s);
void mf_span_end_at(mf_span_t *s, int64_t end_ns);

/* Frees a span that is not to be exported (NULL is ignored). */
void mf_span_free(mf_span_t *s);
/* Frees the spans of a list linked by next (the exporter's sent batch) at once: their records
 * are kept for the spans workers begin next, up to a bound, so that a span's memory is not
 * taken on one thread and given back on another every time. */
void mf_span_free_list(mf_span_t *first);
/* Gives back the records kept (at exit, once no span is recorded any more). */
void mf_span_spares_free(void);

/* ---- reading (the encoders) ---- */

typedef enum {
    MF_SPAN_ITEM_ATTR,       /* an attribute of the span */
    MF_SPAN_ITEM_EVENT,      /* an event: key is its name, time_ns its time */
    MF_SPAN_ITEM_EVENT_ATTR, /* an attribute of the last event */
} mf_span_item_kind_t;

typedef enum { MF_SPAN_STR, MF_SPAN_INT, MF_SPAN_DOUBLE, MF_SPAN_BOOL } mf_span_value_type_t;

typedef struct {
    mf_span_item_kind_t kind;
    mf_span_value_type_t type; /* attributes' */
    const char *key;
    size_t key_len;
    const char *str; /* MF_SPAN_STR */
    size_t str_len;
    int64_t i;     /* MF_SPAN_INT, MF_SPAN_BOOL (0 or 1) */
    double d;      /* MF_SPAN_DOUBLE */
    int64_t time_ns; /* MF_SPAN_ITEM_EVENT */
    int dropped;     /* MF_SPAN_ITEM_EVENT: its attributes dropped by the limit */
    int replaced;  /* an attribute the span sets again later: encoders skip it */
} mf_span_item_t;

/* The span's items in the order they were added: start with *pos = 0; returns 1 and fills it,
 * or 0 after the last. */
int mf_span_next_item(const mf_span_t *s, size_t *pos, mf_span_item_t *it);

#endif
