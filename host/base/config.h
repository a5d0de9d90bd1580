/* A snapshot of the config folder as a ConfigMap mounts it: one file per key (the value is the
 * file's text with one trailing newline dropped) and optionally config.json (its keys under the
 * files'). Immutable once loaded; shared by the workers, reference counted like a script
 * version. */
#ifndef MF_CONFIG_H
#define MF_CONFIG_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct {
    char *key;
    char *value;
    size_t len;
} mf_config_entry_t;

typedef struct mf_config {
    mf_config_entry_t *entries; /* the files, sorted by key */
    int nentries;
    char *json; /* config.json's text, NULL when there is none */
    size_t json_len;
    char version[17];
    atomic_int refs;
} mf_config_t;

/* Loads dir (NULL: an empty config). Through a ConfigMap's ..data link when there is one. Fails,
 * with a message in err, when the folder cannot be read or config.json is not a JSON object.
 * *out holds one reference. */
int mf_config_load(const char *dir, mf_config_t **out, char *err, size_t errlen);
void mf_config_retain(mf_config_t *c);
void mf_config_release(mf_config_t *c);

#endif
