#include "base/buf.h"

#include <stdlib.h>

#include "base/alloc.h"

void mf_buf_init(mf_buf_t *b, char *storage, size_t cap)
{
    b->data = b->storage = storage;
    b->len = 0;
    b->cap = storage ? cap : 0;
}

void mf_buf_grow(mf_buf_t *b, size_t n)
{
    size_t cap = b->cap * 2 < 1024 ? 1024 : b->cap * 2;
    while (cap < b->len + n)
        cap *= 2;
    if (b->data == b->storage) {
        char *data = mf_xmalloc(cap);
        if (b->len)
            memcpy(data, b->data, b->len);
        b->data = data;
    } else {
        b->data = mf_xrealloc(b->data, cap);
    }
    b->cap = cap;
}

char *mf_buf_take(mf_buf_t *b, size_t *len)
{
    char *out;
    if (b->data == b->storage) {
        out = mf_xstrndup(b->len ? b->data : "", b->len);
    } else {
        mf_buf_reserve(b, 1);
        b->data[b->len] = '\0';
        out = b->data;
    }
    if (len)
        *len = b->len;
    mf_buf_init(b, NULL, 0);
    return out;
}

void mf_buf_free(mf_buf_t *b)
{
    if (b->data != b->storage)
        free(b->data);
    mf_buf_init(b, NULL, 0);
}
