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

struct journal;

/* The one message for a state that replay refused (r from journal_replay() on j): the file,
 * the offset and what is wrong there, and what to do about it, after `lead`. */
void state_replay_problem(const struct pasidd *d, const struct journal *j, int r, const char *lead,
                          char *why, size_t len);

/* What state_check() found. */
struct state_summary {
	bool exists; /* false: no state directory yet */
	unsigned vms, shared, local;
	unsigned long long records, torn_bytes;
};

/* pasidd -n: replays the state directory read-only (no lock, nothing written, beside a
 * running daemon too) into d->ns as start-up would with d->cfg and d->be, checks it and
 * throws it away again. 0, or the refusal start-up would give, in why. */
int state_check(struct pasidd *d, struct state_summary *sum, char *why, size_t len);

#endif
