/* A growable byte buffer: data[0..len) in cap bytes, grown by doubling. It may start in storage
 * the caller owns (a stack array), used until it is full: short contents then never allocate.
 * Allocation failure aborts (alloc.h). */
#ifndef MF_BUF_H
#define MF_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *data; /* NULL while nothing was reserved */
    size_t len, cap;
    /* private */
    char *storage; /* the caller's first storage, never freed; NULL: none */
} mf_buf_t;

/* Starts b empty in storage (cap bytes that outlive b's use; NULL and 0: none, the first
 * append allocates). An all-zero mf_buf_t is the same as mf_buf_init(b, NULL, 0). */
void mf_buf_init(mf_buf_t *b, char *storage, size_t cap);

/* Makes room for n more bytes (the slow path of mf_buf_reserve): the capacity doubles, from
 * 1024 bytes at least, until they fit. */
void mf_buf_grow(mf_buf_t *b, size_t n);

/* Room for n more bytes at data + len. Inline, as mf_buf_append: both run for every piece of a
 * log line, mostly a few literal bytes the compiler then copies without a call. */
static inline void mf_buf_reserve(mf_buf_t *b, size_t n)
{
    if (b->len + n > b->cap)
        mf_buf_grow(b, n);
}

static inline void mf_buf_append(mf_buf_t *b, const void *p, size_t n)
{
    mf_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends a string literal. */
#define mf_buf_lit(b, literal) mf_buf_append((b), "" literal, sizeof(literal) - 1)

/* Returns the contents NUL-terminated in malloc'd memory the caller frees (*len gets their
 * length when not NULL), and leaves b as mf_buf_init(b, NULL, 0) does. */
char *mf_buf_take(mf_buf_t *b, size_t *len);

/* Frees what b allocated; b is then empty, as after mf_buf_init(b, NULL, 0). */
void mf_buf_free(mf_buf_t *b);

#endif
