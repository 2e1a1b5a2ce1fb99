/* The durable state's life: replay, observing the namespace, group commit, compaction. The
 * record layouts are record.h's, the files journal.h's. */
#include "state.h"
#include "compact_bg.h"
#include "image.h"
#include "journal.h"
#include "log.h"
#include "namespace.h"
#include "quota.h"
#include "record.h"

#include <errno.h>
#include <event2/event.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

struct state {
	char *dir;
	struct event_base *base;
	struct image img; /* what the journal's records rebuild */
	struct journal *journal;
	/* Records made outside a request (an owner's exit) are committed by this timer at the
	 * next loop iteration; requests commit at the end of their server pass. */
	struct event *commit_ev;
	/* The compaction start-up found due, run soon after serving begins (at the loop's
	 * lowest priority, compact_after_start): serving begins as soon as the state is
	 * replayed and checked, and the journal (durable already) holds everything until the
	 * snapshot stands. */
	struct event *compact_ev;
	/* Commits run off the loop (journal_commit_start()), one at a time: done_ev hears that
	 * one is done. They are numbered: gen_started is the last one begun (in flight while
	 * above gen_done), gen_done the last one done; records appended meanwhile go in
	 * gen_started + 1, begun as soon as the one in flight is done when again says a pass
	 * asked for it. */
	struct event *done_ev;
	uint64_t gen_started, gen_done;
	bool again;
	struct compact_bg *bg; /* the compaction running in a child, if any */
	struct {
		void (*fn)(void *ctx);
		void *ctx;
	} durable[4];
	unsigned ndurable;
	void (*on_failure)(void *ctx);
	void *failure_ctx;
	bool failed; /* a record could not be written: nothing may be committed any more */
	/* The events of the transaction being recorded (from frame() to its last record()):
	 * mappings added with consecutive numbers are written as one REC_MAP_RUN. */
	const struct ns_event *evs;
	size_t nevs;
	/* ... and the VMs it destroys (the first few): their mappings' REC_UNMAPs are left out,
	 * since REC_UNVM frees whatever the VM still holds. */
	const struct ns_vm *gone[4];
	unsigned ngone;
	bool observing; /* state_start() ran */
	double replay_ms;
	char error[256]; /* why a record did not apply */
};

static const struct timeval commit_soon = {0, 0};
/* How long start-up's compaction waits: the clients that reconnect after a restart (VMMs
 * re-registering) are answered first, and the answer to a request takes a few loop turns
 * (read, commit, write), any of which would otherwise be the one the compaction runs in. */
static const struct timeval compact_after_start = {0, 100000};

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- replay ---- */

struct replay {
	struct image img;
	const struct journal *j; /* which version the record is in */
	char *error;             /* why a record did not apply */
	size_t errlen;
};

static int
replay_one(void *ctx, const void *rec, size_t len)
{
	struct replay *rp = ctx;

	return image_apply(&rp->img, journal_file_format(rp->j), rec, len, rp->error, rp->errlen);
}

/* Replays j, opened and not replayed yet, into ns and q (fresh and empty), each file in its
 * records' format version (record.h's VERSIONS). error gets why a record did not apply, or
 * "". */
static int
replay_into(struct journal *j, struct ns *ns, struct quota *q, char *error, size_t len,
            uint32_t *dropped)
{
	struct image_txn txn = {0};
	struct replay rp = {{ns, q, &txn}, j, error, len};
	int r = journal_set_format(j, REC_FORMAT_VERSION);

	error[0] = '\0';
	*dropped = 0;
	if (r == 0)
		r = journal_read_formats(j, REC_FORMAT_OLDEST);
	if (r < 0)
		return r;
	ns->replaying = true;
	r = journal_replay(j, replay_one, &rp);
	ns->replaying = false;
	/* A transaction the journal ends inside of was never acknowledged: its commit did not
	 * finish writing. */
	*dropped = image_finish(&rp.img);
	return r;
}

/* The one message for a state that replay refused (r from journal_replay() on j): the file,
 * the offset and what is wrong there, and what to do about it, after `lead`. */
static void
replay_problem(const char *dir, const char *applied, const struct journal *j, int r,
               const char *lead, char *why, size_t len)
{
	const char *where = journal_error(j);

	if (r == -EPROTONOSUPPORT)
		/* Not damage: the pasidd that wrote it reads it, and --salvage must not. */
		snprintf(why, len,
		         "%sthe state in %s cannot be replayed: %s; no file was changed (it was "
		         "written by another version of pasidd, which can read it)",
		         lead, dir, where);
	else if (r == -EUCLEAN && applied[0])
		/* A record that does not apply: most often ranges changed under the state. */
		snprintf(why, len,
		         "%sthe state in %s cannot be replayed: %s%s%s; no file was changed (if "
		         "the ranges or the PASID width changed, restore them)",
		         lead, dir, where, where[0] ? ": " : "", applied);
	else if (r == -EUCLEAN && where[0])
		snprintf(why, len,
		         "%sthe state in %s cannot be replayed: %s; no file was changed: run "
		         "pasidd --salvage with the same options to keep what can be kept (see "
		         "SALVAGE in pasidd(8))",
		         lead, dir, where);
	else
		snprintf(why, len, "%sthe state in %s cannot be replayed: %s", lead, dir,
		         where[0] ? where : strerror(-r));
}

/* ---- recording: the journal as an observer of the namespace ---- */

static void
fail(struct state *s)
{
	s->failed = true;
	if (s->on_failure)
		s->on_failure(s->failure_ctx);
}

/* Room for the records of the whole transaction, taken before it stands: a full file system
 * refuses the change rather than fail a commit whose changes are already applied. */
static int
check_room(void *ctx, const struct ns_event *evs, size_t n, struct ns_err *err)
{
	struct state *s = ctx;
	size_t bytes = 0;
	int r;

	if (s->failed)
		return ns_fail(err, NS_E_NOSPACE, NULL,
		               "the state in %s cannot be written any more; nothing was changed",
		               s->dir);
	for (size_t i = 0; i < n; i++)
		bytes += rec_event_max(&evs[i]) + JOURNAL_FRAME_SIZE;
	bytes += REC_TXN_SIZE + JOURNAL_FRAME_SIZE; /* frame() may add one */
	r = journal_reserve(s->journal, bytes);
	if (r < 0)
		return ns_fail(
		    err, NS_E_NOSPACE, NULL,
		    "the state directory %.200s has no room for the change (%s); nothing "
		    "was changed",
		    s->dir, strerror(-r));
	return 0;
}

/* How many records event i of the transaction being recorded stands for the start of: 0
 * when it is a mapping that continues a run the record of an earlier event holds, or the
 * removal of a mapping of a VM the transaction destroys; else the length of the run it
 * begins (1: a record of its own). */
static uint32_t
run_at(const struct state *s, size_t i)
{
	const struct ns_event *evs = s->evs;
	size_t n = s->nevs;
	uint32_t len = 1;

	if (evs[i].kind == NS_EV_MAP_REMOVED) {
		for (unsigned k = 0; k < s->ngone; k++)
			if (s->gone[k] == evs[i].vm)
				return 0;
		return 1;
	}
	if (evs[i].kind != NS_EV_MAP_ADDED)
		return 1;
	if (i > 0 && evs[i - 1].kind == NS_EV_MAP_ADDED &&
	    rec_map_follows(evs[i - 1].map, evs[i].map))
		return 0;
	while (i + len < n && evs[i + len].kind == NS_EV_MAP_ADDED &&
	       rec_map_follows(evs[i + len - 1].map, evs[i + len].map) && len < UINT32_MAX)
		len++;
	return len;
}

/* A transaction of two or more changes besides next-fit positions (a vm.import, a count
 * allocation, ...) is framed by a REC_TXN: a commit is one write, but a crash can still leave
 * a prefix of it (a kill in the middle of a large write, a torn write), and replay must take
 * the transaction whole or not at all. A lone change with its cursor needs no frame: a cursor
 * lost with a torn tail is only a next-fit position. */
static void
frame(void *ctx, const struct ns_event *evs, size_t n)
{
	struct state *s = ctx;
	uint8_t buf[REC_BUF_MAX];
	uint32_t records = 0, changes = 0;
	int r;

	s->evs = evs;
	s->nevs = n;
	s->ngone = 0;
	for (size_t i = 0; i < n; i++)
		if (evs[i].kind == NS_EV_VM_DESTROYED &&
		    s->ngone < sizeof(s->gone) / sizeof(s->gone[0]))
			s->gone[s->ngone++] = evs[i].vm;
	/* A run is one record, and one record is whole or not there at all. */
	for (size_t i = 0; i < n; i++) {
		if (!rec_event_max(&evs[i]) || !run_at(s, i))
			continue;
		records++;
		changes += evs[i].kind != NS_EV_CURSOR && evs[i].kind != NS_EV_LCURSOR;
	}
	if (changes < 2 || s->failed)
		return;
	r = journal_append(s->journal, buf, rec_txn(buf, records));
	if (r < 0) {
		log_err("cannot journal a transaction's frame: %s; stopping before it is "
		        "acknowledged",
		        strerror(-r));
		fail(s);
	}
}

static void
record(void *ctx, const struct ns_event *ev)
{
	struct state *s = ctx;
	uint8_t buf[REC_BUF_MAX];
	uint32_t run = 1;
	size_t len;
	int r;

	if (s->evs && ev >= s->evs && ev < s->evs + s->nevs)
		run = run_at(s, (size_t)(ev - s->evs));
	if (!run)
		return; /* in the run record of an earlier mapping, or its VM's REC_UNVM */
	len = run > 1 ? rec_map_run(buf, ev->map, run) : rec_encode_event(buf, ev);
	if (!len || s->failed)
		return;
	r = journal_append(s->journal, buf, len);
	if (r < 0) {
		/* Only a record over JOURNAL_MAX_RECORD or a broken journal gets here; the
		 * change it describes stands but will never be durable. */
		log_err("cannot journal a change: %s; stopping before it is acknowledged",
		        strerror(-r));
		fail(s);
		return;
	}
	if (!evtimer_pending(s->commit_ev, NULL))
		evtimer_add(s->commit_ev, &commit_soon);
}

/* Whether a compaction is due: the journal's own rule (past 1 MiB and twice the snapshot),
 * and past twice what a REC_MAP per live mapping would take. A snapshot of runs is small,
 * but writing one still walks every mapping (~0.1 s at a million): without the second rule
 * a large state whose journal grows by single changes would be compacted tens of times as
 * often as when snapshots held a record per mapping. */
#define COMPACT_BYTES_PER_MAPPING 34 /* a framed REC_MAP of a short VM name, no WQ */

static bool
compaction_due(const struct state *s)
{
	const struct ns *ns = s->img.ns;
	struct journal_stats js;

	if (!journal_should_compact(s->journal))
		return false;
	journal_get_stats(s->journal, &js);
	return js.journal_bytes >
	       2ull * COMPACT_BYTES_PER_MAPPING * ((uint64_t)ns->shared_maps.count + ns->nlocal);
}

/* The changes up to commit gen are durable: tell those who wait. */
static void
became_durable(struct state *s, uint64_t gen)
{
	s->gen_done = gen;
	for (unsigned i = 0; i < s->ndurable; i++)
		s->durable[i].fn(s->durable[i].ctx);
}

static void
commit_failed(struct state *s, int r)
{
	/* The changes since the last commit stand in memory but not on disk, and every answer
	 * that could report them is still held back. Going on would acknowledge them or serve
	 * a state that a restart forgets; stopping loses nothing that was acknowledged. */
	log_err("cannot make the state durable in %s: %s; stopping so that a restart recovers "
	        "the last committed state",
	        s->dir, strerror(-r));
	fail(s);
}

/* The synchronous commit: the one in flight first, then everything pending, on this thread.
 * *wrote says whether there was anything to write. */
static int
commit_now(struct state *s, bool *wrote)
{
	int r;

	*wrote = false;
	if (s->failed)
		return -EIO;
	*wrote = journal_pending(s->journal) > 0 || journal_commit_busy(s->journal);
	r = *wrote ? journal_commit(s->journal) : 0;
	if (r < 0) {
		commit_failed(s, r);
		return r;
	}
	/* With nothing waiting, whatever happened since the last call (changes a transaction
	 * undid, changes no record describes) is as durable as it will be: the on-durable
	 * list runs all the same. */
	became_durable(s, ++s->gen_started);
	return 0;
}

static void
compacted(void *ctx, int r, const struct compact_bg_times *t)
{
	struct state *s = ctx;

	s->bg = NULL;
	if (r < 0)
		log_warn("compaction failed: %s; the journal keeps growing", strerror(-r));
	else if (t->background)
		log_info("compacted the state in %.1f ms in a child process, serving paused for "
		         "%.2f ms of it (%.2f ms to begin, %.2f ms to fork, %.2f ms to end)",
		         t->total_ms, t->paused_ms, t->begin_ms, t->fork_ms, t->end_ms);
	else
		log_info("compacted the state in %.1f ms", t->total_ms);
}

/* Only right after a commit, with nothing in flight: the child's copy of the state is then
 * exactly what the journals hold (compact_bg.c). */
static void
compact_if_due(struct state *s)
{
	bool wrote;
	int r;

	/* Before the loop runs (start-up's own commits), the deferred one does it. */
	if (s->bg || !compaction_due(s) || evtimer_pending(s->compact_ev, NULL))
		return;
	/* Compaction commits what waits first: done here, so that a failure is the state's
	 * and the commit's number moves on (nothing is in flight during a compaction). */
	if (commit_now(s, &wrote) < 0)
		return;
	r = compact_bg_start(s->base, s->journal, image_write, &s->img, compacted, s, &s->bg);
	if (r < 0)
		log_warn("compaction failed: %s; the journal keeps growing", strerror(-r));
}

int
state_commit(struct state *s)
{
	bool wrote;
	int r;

	if (!s)
		return 0;
	r = commit_now(s, &wrote);
	if (r == 0 && wrote)
		compact_if_due(s);
	return r;
}

int
state_commit_drain(struct state *s)
{
	int r;

	if (!s || !journal_commit_busy(s->journal))
		return 0;
	r = journal_commit_finish(s->journal, true);
	if (r < 0) {
		commit_failed(s, r);
		return r;
	}
	became_durable(s, s->gen_started);
	return 0;
}

int
state_commit_async(struct state *s)
{
	int r;

	if (!s)
		return 0;
	if (s->failed)
		return -EIO;
	/* This takes what the timer was armed for (or has the commit in flight's end take it):
	 * left armed, it would cost a loop turn and an empty commit after every pass. */
	evtimer_del(s->commit_ev);
	if (journal_commit_busy(s->journal)) {
		s->again = true; /* begun when the one in flight is done (done_cb) */
		return 0;
	}
	s->again = false;
	if (!s->done_ev || journal_pending(s->journal) == 0)
		return state_commit(s);
	r = journal_commit_start(s->journal);
	if (r == 1) {
		s->gen_started++;
		return 0;
	}
	/* The worker cannot take it (its thread could not be made): on the loop, as before. */
	return state_commit(s);
}

/* A commit in flight is done (or, when a wait finished it already, a late wake-up). */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *s = arg;
	uint64_t n;
	int r;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing to read; the result is what counts */
	}
	if (!journal_commit_busy(s->journal))
		return;
	r = journal_commit_finish(s->journal, false);
	if (r == -EINPROGRESS)
		return;
	if (r < 0) {
		commit_failed(s, r);
		return;
	}
	/* The next group goes to the disk before this one's answers go out. */
	s->gen_done = s->gen_started;
	/* A compaction due commits the group waiting itself; one already running in a child
	 * does not, so that group starts here. */
	if (!s->bg && compaction_due(s) && !evtimer_pending(s->compact_ev, NULL))
		compact_if_due(s);
	else if (s->again || journal_pending(s->journal) > 0)
		state_commit_async(s);
	if (!s->failed)
		became_durable(s, s->gen_done);
}

static void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
	state_commit_async(arg);
}

/* Start-up's compaction, compact_after_start into serving, in a turn of the loop without
 * requests to run (its lowest priority). With records waiting, their commit (commit_ev)
 * compacts after it. */
static void
compact_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *s = arg;

	if (!s->failed && journal_pending(s->journal) == 0 && !journal_commit_busy(s->journal))
		compact_if_due(s);
}

/* Whether dir is on a file system in memory, where fdatasync costs nothing. */
static bool
state_in_memory(const char *dir)
{
	struct statfs fs;

	return statfs(dir, &fs) == 0 &&
	       ((unsigned long)fs.f_type == TMPFS_MAGIC || (unsigned long)fs.f_type == RAMFS_MAGIC);
}

/* Commits off the loop from here on, through the journal's worker thread. */
static int
start_worker(struct state *s)
{
	int r = journal_commit_fd(s->journal);

	if (r >= 0 && (!(s->done_ev = event_new(s->base, r, EV_READ | EV_PERSIST, done_cb, s)) ||
	               event_add(s->done_ev, NULL) < 0))
		r = -ENOMEM;
	if (r < 0 && s->done_ev) {
		event_free(s->done_ev);
		s->done_ev = NULL;
	}
	return r < 0 ? r : 0;
}

void
state_test_pause_commits(struct state *s, bool paused)
{
	/* Pausing is for testing the worker: one is started where the state is in memory. */
	if (!s->done_ev)
		start_worker(s);
	journal_test_pause_commits(s->journal, paused);
}

bool
state_dirty(const struct state *s)
{
	return s && journal_pending(s->journal) > 0;
}

uint64_t
state_hold_gen(const struct state *s)
{
	if (state_dirty(s))
		return s->gen_started + 1;
	/* DESIGN.md §5: no byte of an answer leaves before the commit that covers what it
	 * reports, and a daemon.status made now reports the changes of the commit in flight. */
	return s && s->gen_started > s->gen_done ? s->gen_started : 0;
}

uint64_t
state_next_gen(const struct state *s)
{
	return s ? s->gen_started + 1 : 1;
}

uint64_t
state_durable_gen(const struct state *s)
{
	return s ? s->gen_done : UINT64_MAX;
}

bool
state_failed(const struct state *s)
{
	return s && s->failed;
}

int
state_on_durable(struct state *s, void (*fn)(void *ctx), void *ctx)
{
	if (s->ndurable == sizeof(s->durable) / sizeof(s->durable[0]))
		return -ENOSPC;
	s->durable[s->ndurable].fn = fn;
	s->durable[s->ndurable++].ctx = ctx;
	return 0;
}

void
state_off_durable(struct state *s, void (*fn)(void *ctx), void *ctx)
{
	for (unsigned i = 0; s && i < s->ndurable; i++) {
		if (s->durable[i].fn == fn && s->durable[i].ctx == ctx) {
			s->durable[i] = s->durable[--s->ndurable];
			return;
		}
	}
}

void
state_on_failure(struct state *s, void (*fn)(void *ctx), void *ctx)
{
	s->on_failure = fn;
	s->failure_ctx = ctx;
}

void
state_get_stats(const struct state *s, struct state_stats *st)
{
	struct journal_stats js;

	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	journal_get_stats(s->journal, &js);
	st->journal_bytes = js.journal_bytes;
	st->snapshot_bytes = js.snapshot_bytes;
	st->generation = js.generation;
	st->replayed_records = js.replayed_records;
	st->dropped_bytes = js.dropped_bytes;
	st->last_compaction_unix = js.last_compaction_unix;
	st->replay_ms = s->replay_ms;
	st->journal = js;
}

/* ---- life ---- */

/* Files of an older record format version, just replayed, become a snapshot of this one
 * before anything is appended (record.h's VERSIONS): no file ever holds records of two
 * versions, and a crash before the snapshot stands leaves the old files as they were. */
static int
upgrade(struct state *s, char *why, size_t len, bool cut)
{
	uint32_t from = journal_file_format(s->journal);
	struct timespec t0;
	int r;

	/* The records of a transaction cut short are still in the journal: the next ones must
	 * not follow them, so the state starts a new generation without them first. */
	if (from == REC_FORMAT_VERSION && cut) {
		r = journal_compact(s->journal, image_write, &s->img);
		if (r < 0) {
			snprintf(why, len,
			         "refusing to serve: cannot write the state in %s without the "
			         "transaction cut short: %s; nothing is lost",
			         s->dir, strerror(-r));
			s->failed = true;
		}
		return r;
	}
	if (from == REC_FORMAT_VERSION)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = journal_compact(s->journal, image_write, &s->img);
	if (r < 0) {
		snprintf(why, len,
		         "refusing to serve: cannot upgrade the state in %s from record format "
		         "version %u to %u: %s; nothing is lost: the next start reads the files "
		         "of version %u again, or the complete snapshot of version %u",
		         s->dir, from, REC_FORMAT_VERSION, strerror(-r), from, REC_FORMAT_VERSION);
		s->failed = true;
		return r;
	}
	log_info("upgraded the state in %s from record format version %u to %u in %.1f ms (a "
	         "pasidd that writes version %u cannot read it any more)",
	         s->dir, from, REC_FORMAT_VERSION, ms_since(&t0), from);
	return 0;
}

int
state_open(const char *dir, struct event_base *base, struct ns *ns, struct quota *q,
           struct state **out, char *why, size_t len)
{
	struct state *s = calloc(1, sizeof(*s));
	struct journal_stats st;
	struct timespec t0;
	uint32_t dropped;
	int r;

	*out = NULL;
	if (!s || !(s->dir = strdup(dir)) || !(s->commit_ev = evtimer_new(base, commit_cb, s)) ||
	    !(s->compact_ev = evtimer_new(base, compact_cb, s))) {
		snprintf(why, len, "out of memory");
		state_close(s);
		return -ENOMEM;
	}
	s->base = base;
	/* The loop's lowest priority (pasidd_open() gives it three): a turn that has requests
	 * to serve serves them first. */
	event_priority_set(s->compact_ev, event_base_get_npriorities(base) - 1);
	s->img = (struct image){ns, q, NULL};
	r = journal_open(dir, &s->journal);
	if (r < 0) {
		snprintf(why, len, "cannot open the state in %s: %s", dir,
		         r == -EBUSY ? "another pasidd is using it" : strerror(-r));
		state_close(s);
		return r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = replay_into(s->journal, ns, q, s->error, sizeof(s->error), &dropped);
	s->replay_ms = ms_since(&t0);
	if (r < 0) {
		replay_problem(dir, s->error, s->journal, r, "refusing to serve: ", why, len);
		s->failed = true; /* nothing may be written to what was refused */
		state_close(s);
		return r;
	}
	journal_get_stats(s->journal, &st);
	if (st.dropped_bytes)
		log_warn("dropped a torn tail of %llu bytes from the journal (changes that were "
		         "never acknowledged)",
		         (unsigned long long)st.dropped_bytes);
	if (dropped)
		log_warn("dropped %u record(s) of a transaction whose commit was cut short "
		         "(changes that were never acknowledged)",
		         dropped);
	r = upgrade(s, why, len, dropped > 0);
	if (r < 0) {
		state_close(s);
		return r;
	}
	*out = s;
	return 0;
}

int
state_start(struct state *s, char *why, size_t len)
{
	int r = ns_observe(
	    s->img.ns,
	    &(struct ns_observer){.check = check_room, .apply = record, .ctx = s, .begin = frame});

	if (r < 0) {
		snprintf(why, len, "cannot observe the namespace: %s", strerror(-r));
		return r;
	}
	s->observing = true;
	/* A fresh snapshot when due, so that the next start replays only the live state however
	 * long the journal had grown; soon after serving begins, not before (up to a third of a
	 * start-up from a long journal). A compaction that fails then leaves the
	 * journal growing, as one while serving does: nothing is lost. */
	r = journal_commit(s->journal);
	if (r == 0 && compaction_due(s))
		evtimer_add(s->compact_ev, &compact_after_start);
	if (r < 0) {
		snprintf(why, len, "cannot write the state in %s: %s", s->dir, strerror(-r));
		return r;
	}
	/* In memory (/run, the usual place) a commit's write is a copy and its fdatasync
	 * nothing: handing it to the worker would cost more (a wake-up there and back, 10 % of a
	 * request's CPU at 16 connections) than it takes off the loop. */
	if (state_in_memory(s->dir)) {
		log_info("state in memory (tmpfs): commits run on the event loop");
		return 0;
	}
	r = start_worker(s);
	if (r < 0)
		log_warn("cannot commit off the event loop (%s): each commit blocks serving while "
		         "it runs",
		         strerror(-r));
	return 0;
}

void
state_close(struct state *s)
{
	if (!s)
		return;
	/* Killed: the next start replays the new journal after the old one. */
	compact_bg_stop(s->bg);
	s->bg = NULL;
	/* Before the journal's worker and its descriptor go. */
	if (s->done_ev)
		event_free(s->done_ev);
	if (s->journal) {
		/* Only a journal that was replayed and recorded to has anything to commit, and
		 * nothing may be committed after a failed commit: its changes were refused. */
		int r = s->observing && !s->failed ? journal_commit(s->journal) : 0;

		if (r < 0)
			log_err("final commit failed: %s", strerror(-r));
		journal_close(s->journal);
	}
	if (s->observing)
		ns_unobserve(s->img.ns, s);
	if (s->commit_ev)
		event_free(s->commit_ev);
	if (s->compact_ev)
		event_free(s->compact_ev);
	free(s->dir);
	free(s);
}

/* ---- the state checked without serving it: pasidd -n and --salvage ---- */

/* The configuration's reservations on the replayed state, as start-up puts them in place. */
static int
check_reserve(struct ns *ns, const struct ns_config *cfg, char *why, size_t len)
{
	struct ns_err err;
	size_t bad = 0;

	if (!cfg->nreserve || ns_resv_set_config(ns, cfg->reserve, cfg->nreserve, &bad, &err) == 0)
		return 0;
	snprintf(why, len, "Reserve=%u-%u cannot be put in place: %s", cfg->reserve[bad].first,
	         cfg->reserve[bad].last, err.message);
	return -EINVAL;
}

int
state_check(const char *dir, const struct ns_config *cfg, struct backend *be,
            struct state_summary *sum, char *why, size_t len)
{
	char error[256], rule[256];
	struct journal *j = NULL;
	uint32_t dropped = 0; /* set whenever read: GCC's -O2 cannot tell */
	struct journal_stats st;
	struct quota *q = NULL;
	struct ns ns;
	int r;

	memset(sum, 0, sizeof(*sum));
	/* A running daemon may compact between our listing and our reading: read again. */
	for (int attempt = 0;; attempt++) {
		if (quota_new(&q) < 0 || ns_init(&ns, cfg, be) < 0) {
			quota_free(q);
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
		r = journal_open_readonly(dir, &j);
		if (r == 0) {
			r = replay_into(j, &ns, q, error, sizeof(error), &dropped);
			if (r < 0)
				replay_problem(dir, error, j, r, "", why, len);
			else if (ns_check(&ns, rule, sizeof(rule)) < 0) {
				snprintf(why, len, "the replayed state in %s breaks a rule: %s",
				         dir, rule);
				r = -EUCLEAN;
			} else if ((r = check_reserve(&ns, cfg, why, len)) < 0) {
				/* said */
			}
		} else if (r == -ENOENT) {
			r = 0; /* no state yet: the first start begins empty */
		} else {
			snprintf(why, len, "cannot open the state in %s: %s", dir, strerror(-r));
		}
		if (r == 0 && j) {
			journal_get_stats(j, &st);
			sum->exists = true;
			sum->records = st.replayed_records;
			sum->torn_bytes = st.dropped_bytes;
			sum->dropped = dropped;
			sum->vms = ns.nvms;
			sum->shared = (unsigned)ns.shared_maps.count;
			sum->local = ns.nlocal;
		}
		journal_close(j);
		j = NULL;
		ns_destroy(&ns);
		quota_free(q);
		q = NULL;
		if (r != -ENOENT || attempt == 4)
			return r;
	}
}
