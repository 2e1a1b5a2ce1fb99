/* The control socket's file when pasidd creates it itself (not socket-activated). */
#ifndef PASIDD_SOCKFILE_H
#define PASIDD_SOCKFILE_H

#include <stddef.h>

struct pasidd_config;

/* Creates, binds and returns the listening-to-be socket at cfg->socket_path with its mode
 * and group; *path gets a copy of the path (to unlink at exit). Negative errno with a reason
 * in why. */
int sockfile_create(const struct pasidd_config *cfg, char **path, char *why, size_t len);

#endif
