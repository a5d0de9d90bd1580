/* Allocation that never returns NULL: out of memory is fatal for the host (not for a request;
 * Lua's own memory is capped by the Lua allocator in lua/vm.c). */
#ifndef MF_ALLOC_H
#define MF_ALLOC_H

#include <stddef.h>

void *mf_xmalloc(size_t n);
void *mf_xcalloc(size_t count, size_t size);
void *mf_xrealloc(void *p, size_t n);
char *mf_xstrdup(const char *s);
char *mf_xstrndup(const char *s, size_t n);

#endif
