#include "base/intern.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char **slots; /* open addressing, a power of two, at most half full */
static size_t nslots, count;

static size_t slot_of(const char *const *table, size_t size, const char *s, size_t len)
{
    size_t i = (size_t)mf_hash(MF_HASH_INIT, s, len) & (size - 1);
    while (table[i] && strcmp(table[i], s))
        i = (i + 1) & (size - 1);
    return i;
}

const char *mf_intern(const char *s)
{
    size_t len = strlen(s);
    pthread_mutex_lock(&lock);
    if (2 * (count + 1) > nslots) {
        size_t size = nslots ? 2 * nslots : 64;
        const char **table = mf_xcalloc(size, sizeof *table);
        for (size_t i = 0; i < nslots; i++)
            if (slots[i])
                table[slot_of(table, size, slots[i], strlen(slots[i]))] = slots[i];
        free(slots);
        slots = table;
        nslots = size;
    }
    size_t i = slot_of(slots, nslots, s, len);
    if (!slots[i]) {
        slots[i] = mf_xstrndup(s, len);
        count++;
    }
    const char *copy = slots[i];
    pthread_mutex_unlock(&lock);
    return copy;
}
