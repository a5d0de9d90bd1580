/* `mayfly serve`: start-up, the signal loop, the drain. */
#ifndef MF_SERVER_H
#define MF_SERVER_H

#include "base/exit_codes.h"
#include "base/options.h"

/* Runs until SIGTERM/SIGINT and the drain; returns the exit code. */
int mf_server_run(const mf_options_t *opts);

#endif
