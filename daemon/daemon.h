/* The composition root: builds the daemon out of its layers (core, host, state, edge) and
 * wires each one's callbacks to the others. main.c and the fuzzers use it, so that what they
 * run is what ships. */
#ifndef PASIDD_DAEMON_H
#define PASIDD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "pasidd.h"

/* pasidd_open flags. */
#define PASIDD_NO_SERVER 1u /* no socket: requests come through rpc_handle() (fuzzing) */
/* Give up, before the socket serves, every capability that what was started does not need
 * (privs.h; pasidd(8), PRIVILEGES): what the daemon does, not the fuzzers or unit tests. */
#define PASIDD_LIMIT_PRIVILEGES 2u

/* The checks that refuse to start with exit status 2, before anything is started: the admin
 * group, the state and socket directories. create: make the state and socket directories if
 * missing (start-up); without, a missing one is fine (pasidd -n). */
int pasidd_preflight(struct pasidd *d, bool create, char *why, size_t len);
/* Builds everything from d->cfg: backend, namespace, quotas, the replayed state, owner
 * watches, and unless PASIDD_NO_SERVER the socket. 0, or a negative errno with one message in
 * why (d is then still to be closed). */
int pasidd_open(struct pasidd *d, unsigned flags, char *why, size_t len);
/* Takes everything down again; what waits for a commit is committed, unless one failed. */
void pasidd_close(struct pasidd *d);

/* pasidd -n: the configuration, and the state directory it would start on, checked as start-up
 * would check them, without a lock and without writing anything. Returns the exit status. */
int pasidd_check(struct pasidd *d);
/* pasidd --salvage. Returns the exit status. */
int pasidd_salvage(struct pasidd *d);

#endif
