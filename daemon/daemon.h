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

/* Gives up for good every capability that what pasidd_open started does not need (privs.h):
 * after pasidd_open, before serving. Logs what it keeps and why; d->caps_* for daemon.status.
 * 0 or a negative errno with the reason in why. */
int pasidd_limit_privileges(struct pasidd *d, char *why, size_t len);

/* pasidd -n: the configuration, and the state directory it would start on, checked as start-up
 * would check them, without a lock and without writing anything. Returns the exit status. */
int pasidd_check(struct pasidd *d);
/* pasidd --salvage. Returns the exit status. */
int pasidd_salvage(struct pasidd *d);

#endif
