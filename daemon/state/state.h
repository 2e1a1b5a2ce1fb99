/* Durable state: the journal under the state directory, replayed into the namespace and the
 * quotas at start-up, then fed by observing the namespace's changes (one record per event)
 * and committed in groups before any answer that reports a change leaves the daemon.
 *
 * The state knows nothing of who waits for durability: it calls the on-durable list after
 * each commit, and the on-failure callback when a commit fails (the caller stops serving:
 * nothing after an unwritten change may be acknowledged). */
#ifndef PASIDD_STATE_H
#define PASIDD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

struct event_base;
struct ns;
struct ns_config;
struct quota;
struct backend;
struct state;

struct state_stats {
	uint64_t journal_bytes, snapshot_bytes, generation, replayed_records, dropped_bytes;
	int64_t last_compaction_unix; /* 0: never */
	double replay_ms;
	struct journal_stats journal; /* commits and their sync times, for daemon.metrics */
};

/* Opens the state directory and replays it into ns and q (both fresh and empty). Refuses,
 * with a negative errno and one message in why, a state it cannot trust; the files are then
 * left as they are. The namespace is not checked here (ns_check, by the caller). */
int state_open(const char *dir, struct event_base *base, struct ns *ns, struct quota *q,
               struct state **out, char *why, size_t len);
/* Starts recording: observes ns from now on, and writes a fresh snapshot when the journal
 * has outgrown the live state. */
int state_start(struct state *s, char *why, size_t len);
/* Commits what is pending (unless a commit failed) and closes the journal. NULL is fine. */
void state_close(struct state *s);

/* Whether changes wait in the journal: an answer made now may report them, so it must wait
 * for the commit. */
bool state_dirty(const struct state *s);
/* Makes every pending change durable, then calls the on-durable list (also when nothing was
 * pending). On failure calls the on-failure callback; nothing is committed any more after
 * that, and the list is not called. */
int state_commit(struct state *s);
int state_on_durable(struct state *s, void (*fn)(void *ctx), void *ctx);
void state_off_durable(struct state *s, void (*fn)(void *ctx), void *ctx);
void state_on_failure(struct state *s, void (*fn)(void *ctx), void *ctx);
bool state_failed(const struct state *s);
void state_get_stats(const struct state *s, struct state_stats *st);

/* What state_check() found. */
struct state_summary {
	bool exists; /* false: no state directory yet */
	unsigned vms, shared, local;
	unsigned long long records, torn_bytes;
	unsigned dropped; /* records of a transaction cut short at the journal's end (REC_TXN) */
};

/* pasidd -n: replays the state directory read-only (no lock, nothing written, beside a
 * running daemon too) as start-up would with this namespace configuration and backend,
 * checks it and throws it away again. 0, or the refusal start-up would give, in why
 * (-EUCLEAN for a state that replay or the rules refuse). */
int state_check(const char *dir, const struct ns_config *cfg, struct backend *be,
                struct state_summary *sum, char *why, size_t len);

#endif
