/* Where a command's first key is (redis/command_keys.c): the input split at spaces into words,
 * each copied into a buffer of exactly its length and the word array sized exactly, so that a
 * read past a word or past argc is a sanitizer report. The answer is a word that is there, or 0,
 * or -1 with a message; and it does not change when the words' ASCII letters change case, since
 * names and keywords match case-insensitively and keys are only ever positions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis/command_keys.h"

#define MAX_WORDS 64

static int first_key(const uint8_t *data, size_t size, int swap_case)
{
    const char *argv_buf[MAX_WORDS];
    size_t lens_buf[MAX_WORDS];
    int argc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAX_WORDS; i++) {
        if (i < size && data[i] != ' ')
            continue;
        size_t len = i - start;
        char *w = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++) {
            unsigned char ch = data[start + j];
            if (swap_case && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
                ch ^= 0x20;
            w[j] = (char)ch;
        }
        argv_buf[argc] = w;
        lens_buf[argc++] = len;
        start = i + 1;
    }
    const char **argv = malloc(sizeof *argv * (size_t)argc);
    size_t *lens = malloc(sizeof *lens * (size_t)argc);
    memcpy(argv, argv_buf, sizeof *argv * (size_t)argc);
    memcpy(lens, lens_buf, sizeof *lens * (size_t)argc);

    mf_redis_cmd_t c = {argc, argv, lens};
    const char *why = NULL;
    int r = mf_redis_command_first_key(&c, &why);
    if (r < -1 || r >= argc || (r == -1) != (why != NULL) || (r == -1 && !why[0]))
        abort();

    for (int i = 0; i < argc; i++)
        free((char *)argv[i]);
    free(argv);
    free(lens);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (first_key(data, size, 0) != first_key(data, size, 1))
        abort();
    return 0;
}
