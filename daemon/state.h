/* Durable state: the journal under the state directory, replayed at start-up and committed
 * once per loop turn (group commit) before any answer of that turn leaves the daemon. */
#ifndef PASIDD_STATE_H
#define PASIDD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

struct pasidd;

/* Opens and replays the state directory into d->ns, checks every invariant, and hooks the
 * namespace's change records to the journal. Refuses (negative errno, reason in why) a
 * state it cannot trust. */
int state_open(struct pasidd *d, char *why, size_t len);
/* Commits what is pending and closes the journal. */
void state_close(struct pasidd *d);
/* Whether answers must wait for a commit scheduled for the end of this loop turn. */
bool state_commit_pending(const struct pasidd *d);
/* The "journal" object of daemon.status. */
struct json_object *state_status(const struct pasidd *d);

#endif
