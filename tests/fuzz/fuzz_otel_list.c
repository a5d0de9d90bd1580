/* The lists of OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES (observe/otel_config.c),
 * the input as one list up to its first NUL. Every pair yielded has a non-empty key, no control
 * byte but tab, at most as many pairs as members; written again with every byte but
 * [A-Za-z0-9._~-] percent-encoded, the pairs parse back to themselves. The input is then read as
 * both variables: a config that reads has header lines HTTP would take. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/syntax.h"
#include "observe/otel_config.h"

typedef struct {
    char **items; /* key, value, key, value, ... */
    size_t n;
} pairs_t;

static void on_pair(void *ud, const char *key, const char *value)
{
    pairs_t *p = ud;
    p->items = realloc(p->items, (p->n + 2) * sizeof *p->items);
    p->items[p->n++] = strdup(key);
    p->items[p->n++] = strdup(value);
}

static void pairs_free(pairs_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i]);
    free(p->items);
}

static void check_bytes(const char *s)
{
    for (const unsigned char *b = (const unsigned char *)s; *b; b++)
        if ((*b < 0x20 && *b != '\t') || *b == 0x7f)
            abort();
}

static void encode(mf_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("._~-", *c)) {
            mf_buf_append(b, c, 1);
        } else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            mf_buf_append(b, e, 3);
        }
    }
}

static const char *fuzz_list;

static const char *list_getenv(const char *name)
{
    if (!strcmp(name, "OTEL_EXPORTER_OTLP_ENDPOINT"))
        return "http://127.0.0.1:4318";
    if (!strcmp(name, "OTEL_EXPORTER_OTLP_HEADERS") || !strcmp(name, "OTEL_RESOURCE_ATTRIBUTES"))
        return fuzz_list;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *list = malloc(size + 1);
    memcpy(list, data, size);
    list[size] = '\0';
    char err[256];
    pairs_t got = {0};
    int rc = mf_otel_parse_list(list, on_pair, &got, err, sizeof err);
    size_t members = 1;
    for (const char *p = list; *p; p++)
        members += *p == ',';
    if (got.n / 2 > members || (rc && !err[0]))
        abort();
    for (size_t i = 0; i < got.n; i++)
        check_bytes(got.items[i]);
    for (size_t i = 0; i < got.n; i += 2)
        if (!got.items[i][0])
            abort();

    if (rc == 0) {
        mf_buf_t again = {0};
        for (size_t i = 0; i < got.n; i += 2) {
            if (i)
                mf_buf_lit(&again, ",");
            encode(&again, got.items[i]);
            mf_buf_lit(&again, "=");
            encode(&again, got.items[i + 1]);
        }
        mf_buf_append(&again, "", 1);
        pairs_t back = {0};
        if (mf_otel_parse_list(again.data, on_pair, &back, err, sizeof err) || back.n != got.n)
            abort();
        for (size_t i = 0; i < got.n; i++)
            if (strcmp(back.items[i], got.items[i]))
                abort();
        pairs_free(&back);
        mf_buf_free(&again);
    }
    pairs_free(&got);

    mf_otel_config_t c;
    fuzz_list = list;
    if (mf_otel_config_read(&c, list_getenv, err, sizeof err) == 0) {
        if (!c.enabled)
            abort();
        for (char **h = c.headers; *h; h++) {
            const char *colon = strstr(*h, ": ");
            if (!colon || !mf_syntax_http_header(*h, (size_t)(colon - *h), colon + 2,
                                                 strlen(colon + 2)))
                abort();
        }
        mf_otel_config_free(&c);
    } else if (c.enabled || c.resource || c.headers) {
        abort();
    }
    free(list);
    return 0;
}
