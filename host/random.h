/* Unpredictable bytes for request ids and per-request PRNG seeds: getrandom(2) read in blocks
 * into a per-thread buffer, so the request path rarely makes the system call. */
#ifndef MF_RANDOM_H
#define MF_RANDOM_H

#include <stddef.h>
#include <stdint.h>

void mf_random_bytes(void *out, size_t n);
uint64_t mf_random_u64(void);
/* Writes 2*n lowercase hex digits of fresh random bytes and a NUL into out. */
void mf_random_hex(char *out, size_t n);

#endif
