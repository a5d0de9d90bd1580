#ifndef MF_LISTEN_H
#define MF_LISTEN_H

#include <stddef.h>

#include "base/options.h"

/* Opens n listening sockets on l's address (port 0: the first picks one, the rest share it).
 * Unless l->share, an address another process listens on is refused. Returns 0 and fills fds
 * and *port, or -1 with a message (nothing left open). */
int mf_listen_open(const mf_listen_t *l, int n, int *fds, int *port, char *err, size_t errlen);

#endif
