/* Durable state: the journal under the state directory, replayed at start-up and committed
 * in groups (one fdatasync per server pass) before any answer that reports a change leaves
 * the daemon. */
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
/* Whether changes wait in the journal: an answer made now may report them, so it must wait
 * for the commit. */
bool state_dirty(const struct pasidd *d);
/* Makes every pending change durable, then tells the on-durable observers. On failure the
 * daemon stops (the loop breaks, main() exits non-zero) and nothing more is acknowledged. */
int state_commit(struct pasidd *d);
/* fn(ctx) after every successful commit: what waited for durability may go. */
int state_on_durable(struct pasidd *d, void (*fn)(void *ctx), void *ctx);
void state_off_durable(struct pasidd *d, void (*fn)(void *ctx), void *ctx);
/* Room for a change of about `bytes` journal bytes, taken before the change is made; a
 * request that cannot have it is refused (-ENOSPC) with nothing changed. */
int state_reserve(struct pasidd *d, size_t bytes);
/* The "journal" object of daemon.status. */
struct json_object *state_status(const struct pasidd *d);

#endif
