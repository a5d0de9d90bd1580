/* `mayfly check [dir]`: compile every script, print the route table, report what cannot run. */
#ifndef MF_CHECK_H
#define MF_CHECK_H

#include "options.h"

/* Returns the exit code: 0 when the folder would serve, 1 when it would not. */
int mf_check_run(const mf_options_t *opts, const char *dir);

#endif
