/* mayfly new NAME: a folder to start an app from. */
#ifndef MF_SCAFFOLD_H
#define MF_SCAFFOLD_H

#include <stddef.h>

/* Creates the folder dir with scripts/app.lua, spec/app_spec.lua, config/greeting and
 * README.md. Refuses a dir that exists (anything at that path, even a dangling link). Returns
 * 0, or -1 with a message in err; on failure nothing it created is left behind. */
int mf_scaffold_new(const char *dir, char *err, size_t errlen);

/* The `mayfly new` command: argv holds what follows "new". Returns the exit code. */
int mf_scaffold_main(int argc, char **argv);

#endif
