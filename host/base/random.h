/* Unpredictable bytes for request and trace ids, per-request PRNG seeds and crypto.random_hex:
 * a ChaCha20 generator per thread with fast key erasure (the construction of the kernel's and
 * OpenBSD's arc4random), keyed from getrandom(2) on first use and again every ~900 KiB. The
 * system call costs a few ns per byte, and a request's ids take 40 bytes; ChaCha20 costs under
 * one. Each thread has its own state, so no lock; mayfly never forks, which would copy it. */
#ifndef MF_RANDOM_H
#define MF_RANDOM_H

#include <stddef.h>
#include <stdint.h>

void mf_random_bytes(void *out, size_t n);
uint64_t mf_random_u64(void);
/* Writes 2*n random lowercase hex digits (n fresh bytes' worth, n <= 64) and a NUL into out. */
void mf_random_hex(char *out, size_t n);

#endif
