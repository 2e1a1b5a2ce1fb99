/* The control socket's file when pasidd creates it itself (not socket-activated). */
#ifndef PASIDD_SOCKFILE_H
#define PASIDD_SOCKFILE_H

#include <stdbool.h>
#include <stddef.h>

struct pasidd_config;

/* Creates, binds and returns the listening-to-be socket at cfg->socket_path with its mode
 * and group, in a directory that only root or we can write (fsguard.h), replacing only a
 * stale socket; *path gets a copy of the path (to unlink at exit). Negative errno with a
 * reason in why. */
int sockfile_create(const struct pasidd_config *cfg, char **path, char *why, size_t len);

/* What sockfile_create() would refuse, checked before the daemon starts: a socket directory
 * that others could write to (fsguard), or something other than a socket at the path. With
 * create, missing directories are made (0755); without, a missing one is fine. 0, or a
 * negative errno with the reason in why. */
int sockfile_check(const struct pasidd_config *cfg, bool create, char *why, size_t len);

#endif
