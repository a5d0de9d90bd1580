/* `mayfly serve`: start-up, the signal loop, the drain. */
#ifndef MF_SERVER_H
#define MF_SERVER_H

#include "base/options.h"

/* Exit codes of serve. */
enum {
    MF_EXIT_OK = 0,
    MF_EXIT_START = 1,    /* fatal start-up error: scripts, listening socket, ... */
    MF_EXIT_USAGE = 2,    /* bad flag or value */
    MF_EXIT_TIMEOUT = 3,  /* the drain passed MAYFLY_SHUTDOWN_TIMEOUT */
    MF_EXIT_INTERNAL = 4, /* an internal fatal error */
};

/* Runs until SIGTERM/SIGINT and the drain; returns the exit code. */
int mf_server_run(const mf_options_t *opts);

#endif
