/* libpasid, private: the daemon's socket, below the connection handle (README.md). */
#ifndef LIBPASID_SOCKET_H
#define LIBPASID_SOCKET_H

#include "libpasid.h"

/* Connects a new close-on-exec stream socket to path (NULL: pasid_default_socket()). Returns
 * the descriptor, or a -errno with err saying what path is and what that means. */
int lp_socket_connect(const char *path, struct pasid_error *err);

#endif
