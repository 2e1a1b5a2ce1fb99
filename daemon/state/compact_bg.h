/* Compaction in a forked child: the snapshot written from the child's copy-on-write image of
 * the state while the daemon goes on serving and appending to the new journal
 * (journal_compact_begin/_write/_end, journal.h). */
#ifndef PASIDD_COMPACT_BG_H
#define PASIDD_COMPACT_BG_H

#include "journal.h"

struct event_base;
struct compact_bg;

/* What a compaction cost, for the log. */
struct compact_bg_times {
	double total_ms;  /* begin to end */
	double paused_ms; /* of it, on the loop: begin + fork + end, */
	double begin_ms;  /* the new journal and the snapshot's file */
	double fork_ms;
	double end_ms;   /* renames, syncs, removals */
	bool background; /* false: the fallback in the foreground (no child could be made) */
};

/* Starts a compaction of j (ready, nothing in flight) whose snapshot write_state(ctx) writes
 * in a child; done(done_ctx, rc, times) is called from the loop when it has ended (rc 0, or
 * -errno: nothing is lost either way, the journal just keeps growing). When no child can be
 * made (pipe, fork, event) the compaction runs in the foreground instead, as before there
 * were children: then done is called before this returns, and *out is NULL. 0 with *out set
 * while it runs; <0 when it could not begin (done is not called). */
int compact_bg_start(struct event_base *base, struct journal *j,
                     int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx,
                     void (*done)(void *done_ctx, int rc, const struct compact_bg_times *t),
                     void *done_ctx, struct compact_bg **out);

/* Shutdown with a compaction running: the child killed and reaped, its temporary file
 * removed, done not called; the journal stays on the new generation's journal, which the
 * next start replays after the old one. NULL is fine. */
void compact_bg_stop(struct compact_bg *c);

#endif
