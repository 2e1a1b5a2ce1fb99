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

/* Whether changes wait in the journal, not yet in a commit: an answer made now may report
 * them, so it must wait for the next commit. */
bool state_dirty(const struct state *s);

/* Commits are numbered from 1 and end in order; what waits for durability takes a number
 * when it is made and goes out once state_durable_gen() has reached it (the on-durable list
 * is called whenever it moves on):
 *  - state_hold_gen(): the commit an answer made now waits for, since it may report every
 *    change made so far: state_next_gen() while changes wait (state_dirty()), else the
 *    commit in flight, else 0 (nothing to wait for);
 *  - state_next_gen(): the commit that will take the changes made now (a message pushed
 *    from inside a transaction waits for it);
 *  - state_durable_gen(): the last commit done; UINT64_MAX for NULL (nothing ever waits). */
uint64_t state_hold_gen(const struct state *s);
uint64_t state_next_gen(const struct state *s);
uint64_t state_durable_gen(const struct state *s);

/* Makes every pending change durable on the caller's thread (a commit in flight first), then
 * calls the on-durable list (also when nothing was pending), then compacts when due: the
 * synchronous path, for start-up, shutdown and tests. On failure calls the on-failure
 * callback; nothing is committed any more after that, and the list is not called. */
int state_commit(struct state *s);
/* The same off the event loop (the server pass's and the timer's commit): starts a commit of
 * what is pending in the journal's worker thread and returns; when it is done (an event of
 * the loop) the on-durable list is called and what was appended meanwhile is started next.
 * With one in flight, the next is started when it is done. Falls back to state_commit()
 * when nothing is pending or the worker is unavailable. -EIO after a failure. */
int state_commit_async(struct state *s);
/* Waits for the commit in flight, if any, and handles its end (the on-durable list, or the
 * on-failure callback): afterwards nothing is being written to the journal, for whatever
 * must see its files still (a compaction, a fork). Records pending stay pending. 0 or the
 * failed commit's -errno. */
int state_commit_drain(struct state *s);
/* Test hook: journal_test_pause_commits() on the state's journal. */
void state_test_pause_commits(struct state *s, bool paused);
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
