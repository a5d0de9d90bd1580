/* The config folder (config.c): a fuzzed config.json and key files written to a folder, loaded
 * with mf_config_load as a reload would, handed to the vm and read by every accessor of the
 * config module (tests/fuzz/scripts/fuzz_config.lua).
 * Input: config.json's text, then optionally "\n---\n" and lines "key=value" (one file each;
 * a key is what a ConfigMap allows, [-._A-Za-z0-9]; "\n" in a value stands for a newline). */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "fuzz.h"

static char dir[64];

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    char path[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

static void write_file(const char *name, const char *text, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(text, 1, len, f);
    fclose(f);
}

static int key_ok(const char *k, size_t n)
{
    if (n == 0 || n > 64 || k[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k[i]) ||
            !k[i])
            return 0;
    return 1;
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *end = text + size;
    const char *sep = memmem(text, size, "\n---\n", 5);
    char err[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/mayfly-fuzz-config.%d",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        mkdir(dir, 0700);
        atexit(remove_dir);
    }
    clear_dir();
    size_t json_len = sep ? (size_t)(sep - text) : size;
    if (json_len)
        write_file("config.json", text, json_len);
    for (const char *p = sep ? sep + 5 : end; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        const char *stop = e ? e : end, *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && key_ok(p, (size_t)(eq - p))) {
            char name[65], value[4096];
            size_t n = 0;
            memcpy(name, p, (size_t)(eq - p));
            name[eq - p] = '\0';
            for (const char *v = eq + 1; v < stop && n < sizeof value; v++)
                value[n++] = v + 1 < stop && v[0] == '\\' && v[1] == 'n' ? (v++, '\n') : *v;
            if (strcmp(name, "config.json"))
                write_file(name, value, n);
        }
        p = stop + 1;
    }
    mf_config_t *c;
    if (mf_config_load(dir, &c, err, sizeof err) == 0) {
        const char *fields[] = {NULL, NULL};
        mf_vm_set_config(fuzz_vm()->vm, c);
        mf_config_release(c); /* the vm keeps no reference */
        if (fuzz_request("GET", "/config", fields, "", 0) != MF_ROUTER_OK)
            abort();
    }
    return 0;
}
