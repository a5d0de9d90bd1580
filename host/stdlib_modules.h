/* The Lua modules of stdlib/, embedded into the binary at build time. */
#ifndef MF_STDLIB_MODULES_H
#define MF_STDLIB_MODULES_H

#include <stddef.h>

typedef struct {
    const char *module;    /* "mayfly.config" */
    const char *chunkname; /* "@stdlib/mayfly/config.lua" */
    const char *source;
    size_t len;
} mf_stdlib_module_t;

/* Ends with an entry whose module is NULL. */
extern const mf_stdlib_module_t mf_stdlib_modules[];

#endif
