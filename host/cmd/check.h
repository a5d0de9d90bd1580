/* `mayfly check [dir]`: compile every script, print the route table, report what cannot run,
 * and warn about constructs that look like an attempt to keep state in the process. */
#ifndef MF_CHECK_H
#define MF_CHECK_H

#include "base/options.h"

/* Returns the exit code: 0 when the folder would serve (warnings or not), 1 when it would not. */
int mf_check_run(const mf_options_t *opts, const char *dir);

#endif
