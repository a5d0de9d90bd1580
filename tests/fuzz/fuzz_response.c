/* A handler's result turned into a response (response.c): tests/fuzz/scripts/fuzz_value.lua
 * builds the value its handler returns from the fuzzed bytes (strings, odd numbers, nested and
 * cyclic tables, metatables that raise, invalid header names and values), and the host reads it
 * with mf_response_read and builds libmicrohttpd's response from it, as it would for HTTP. */
#include <stdint.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *fields[] = {NULL, NULL};
    if (fuzz_request("POST", "/value", fields, (const char *)data, size) != MF_ROUTER_OK)
        abort();
    return 0;
}
