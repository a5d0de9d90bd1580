/* Loading a version of the scripts folder (lua/scripts.h): reading the files, probing each in a
 * state of its own for its routes, hooks and jobs, and what changed between two versions. */
#ifndef MF_APP_SCRIPTS_LOAD_H
#define MF_APP_SCRIPTS_LOAD_H

#include <stddef.h>

#include "base/options.h"
#include "lua/scripts.h"

/* The key of a single hook bit ("on_start", ...). */
const char *mf_scripts_hook_name(int hook);

/* Reads, compiles and probes every *.lua file of dir (not recursive: a ConfigMap volume is flat;
 * when dir holds a ConfigMap's ..data link, the files are read from the one snapshot it points
 * to), builds the route table and checks the middleware (a route file's before and after, the
 * shared middleware file's layers). Returns 0 and *out holding one reference, or -1 with a
 * message naming the file (and line, or both files of a route conflict) in err. */
int mf_scripts_load(const char *dir, const mf_options_t *opts, mf_scripts_t **out, char *err,
                    size_t errlen);
/* What changed from a to b: counts of files added, modified and removed, and their names ("x.lua
 * (added), y.lua (modified)") in names, cut at namelen. */
typedef struct {
    int added, modified, removed;
} mf_scripts_diff_t;
mf_scripts_diff_t mf_scripts_diff(const mf_scripts_t *a, const mf_scripts_t *b, char *names,
                                  size_t namelen);

#endif
