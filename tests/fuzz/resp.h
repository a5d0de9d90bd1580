/* For the harnesses that feed RESP to hiredis's reader: hiredis allocates a declared array's
 * slots before reading them, and the server is trusted not to declare billions, so inputs that
 * declare an array of more than 9999 elements are skipped. */
#ifndef MF_FUZZ_RESP_H
#define MF_FUZZ_RESP_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>

static inline int fuzz_resp_huge_array(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '*')
            continue;
        size_t j = i + 1, digits = 0;
        if (j < n && d[j] == '-')
            j++;
        while (j < n && isdigit(d[j]))
            j++, digits++;
        if (digits > 4)
            return 1;
    }
    return 0;
}

#endif
