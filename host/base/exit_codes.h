/* The exit codes of every mayfly command (serve's are what Kubernetes sees of a pod's end). */
#ifndef MF_EXIT_CODES_H
#define MF_EXIT_CODES_H

enum {
    MF_EXIT_OK = 0,
    MF_EXIT_START = 1,    /* fatal start-up error: scripts, listening socket, ... */
    MF_EXIT_USAGE = 2,    /* bad flag or value */
    MF_EXIT_TIMEOUT = 3,  /* the drain passed MAYFLY_SHUTDOWN_TIMEOUT */
    MF_EXIT_INTERNAL = 4, /* an internal fatal error */
};

#endif
