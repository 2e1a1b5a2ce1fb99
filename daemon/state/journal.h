/* Durable record log for the daemon's state directory.
 *
 * The journal stores opaque byte records and hands them back, in order, after a crash or
 * restart. It knows nothing about what the records mean. A record is durable once
 * journal_commit() has returned 0 for it; nothing else is. The on-disk format and the
 * crash-safety argument are described part by part at the top of the files that implement
 * them: journal_internal.h lists them.
 *
 * Life cycle: journal_open() -> journal_set_format() [-> journal_read_formats()] ->
 * journal_replay() (exactly once) ->
 * any number of journal_append()/journal_commit()/journal_compact()/journal_compact_begin()..
 * journal_compact_end() -> journal_close().
 *
 * Errors are negative errno values. -EUCLEAN means the state directory is in a shape no
 * crash of this code can produce (a damaged snapshot with a newer journal beside it, a journal
 * with a bad header, a bad record with valid ones after it, ...): the daemon must refuse to
 * start rather than guess, and journal_error() says which file, where and what.
 * -EPROTONOSUPPORT means a file is whole but of another format version (written by another
 * pasidd): not damage, and not to be salvaged; journal_error() names the file and both
 * versions.
 *
 * Not thread-safe: one thread (the event loop) owns a journal. The only other thread is the
 * journal's own commit worker (journal_commit_start()), which touches nothing but the group
 * it was given, the file and its result. */
#ifndef PASIDD_JOURNAL_H
#define PASIDD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The bytes a record takes in a file besides its payload. */
#define JOURNAL_FRAME_SIZE 8

/* Longer records are refused by append (-EMSGSIZE) and treated as corruption by replay. */
#define JOURNAL_MAX_RECORD (16u << 20)

/* Number of steps journal_compact() goes through; see journal_test_fail_compaction_after(). */
#define JOURNAL_COMPACT_STEPS 10

/* Room for journal_error()'s message. */
#define JOURNAL_ERR_MAX 512

struct journal;
struct journal_snapshot;

/* Upper bounds (seconds) of the buckets of commit sync times; one more bucket is +Inf. */
#define JOURNAL_SYNC_BUCKETS 8
extern const double journal_sync_bounds[JOURNAL_SYNC_BUCKETS];

struct journal_stats {
	uint64_t replayed_records; /* records delivered by journal_replay(), snapshot + journal */
	uint64_t dropped_bytes;    /* torn tail cut off the journal by replay */
	uint64_t journal_bytes;    /* size of the current journal file (committed records) */
	uint64_t snapshot_bytes;   /* size of the current snapshot file, 0 if there is none */
	uint64_t generation;
	int64_t last_compaction_unix; /* when the current snapshot was written; 0 if never */
	uint64_t commits;             /* journal_commit()s that wrote something, since opening */
	uint64_t commit_failures;
	/* How long each commit's write + fdatasync took: per bucket (not cumulative), sum. */
	uint64_t sync_buckets[JOURNAL_SYNC_BUCKETS + 1];
	double sync_seconds;
};

/* Creates dir (0700; its parent must exist) if needed and takes an exclusive flock on
 * dir/lock, so two daemons cannot share one state directory: the second gets -EBUSY. Does not
 * read any state yet. */
int journal_open(const char *dir, struct journal **out);

/* The version of the records' format, which the journal keeps in every file's header without
 * interpreting the records (record.h numbers the versions): files are written with it, and
 * replay and salvage refuse a file whose header holds another, or one older than
 * journal_read_formats() allows (-EPROTONOSUPPORT, no file changed). 0 until set; it resets
 * what journal_read_formats() allowed. Only before journal_replay() or journal_salvage():
 * -EINVAL after. */
int journal_set_format(struct journal *j, uint32_t version);

/* Replay and salvage also read files of the record format versions from oldest up to the one
 * set (an upgrade reads what the pasidd before it wrote), each file in its own: the records'
 * user asks journal_file_format() which one, and converts. A generation's snapshot and
 * journal are of one version. After replay, while the current generation's files are of an
 * older version than the one set, journal_append() refuses (-EPROTO): journal_compact() comes
 * first and writes the new generation in the version set, so that no file ever holds records
 * of two versions. Only after journal_set_format() and before replay or salvage: -EINVAL
 * otherwise, or when oldest is above the version set. */
int journal_read_formats(struct journal *j, uint32_t oldest);

/* The record format version of the file whose records replay or salvage is delivering (for
 * their callbacks); after replay, that of the current generation's files. */
uint32_t journal_file_format(const struct journal *j);

/* For a check of the state beside a running daemon (pasidd -n): opens dir without creating
 * it and without the lock. journal_replay() then writes, truncates and deletes nothing (a
 * torn tail is counted, not cut off; a missing journal is not created), and the handle is
 * good for nothing else (-EROFS). A daemon compacting meanwhile can make replay fail with
 * -ENOENT: open and replay again. */
int journal_open_readonly(const char *dir, struct journal **out);

/* Replays the newest complete snapshot's records, then the journal of the same generation
 * and those of the generations above it that a background compaction started (in order,
 * with no gap: journal_replay.c), calling cb for each record in order. rec points into a
 * temporary buffer valid only during the call. A torn tail of the last journal (a bad last
 * frame with no valid frame after it: what a crash in the middle of a commit leaves; in an
 * earlier journal it is damage) ends the replay cleanly: everything before it is
 * delivered, the tail is truncated away (so new appends follow the last good record) and the
 * dropped byte count is reported in the stats. A bad frame with a valid one after it is
 * damage: -EUCLEAN, and no file is changed. Stale temporary files and older generations are
 * deleted after a successful replay. If cb returns <0, replay stops, returns that value and
 * leaves the files alone, and journal_error() says where that record is. After any failure
 * the handle is only good for journal_close(). Must be called exactly once, after open and
 * before anything else. */
int journal_replay(struct journal *j, int (*cb)(void *ctx, const void *rec, size_t len), void *ctx);

/* After a failed journal_replay(), journal_salvage() or journal_salvage_commit(): one line
 * naming the file, the byte offset and what is wrong there ("journal.3: record at offset
 * 1234 fails its checksum (length 52), and valid records follow at offset 1294: the journal
 * is damaged, not torn"), or where the record that cb refused lies ("journal.3, record at
 * offset 1234"). "" when nothing more than the errno is known. */
const char *journal_error(const struct journal *j);

/* Buffers one record in memory; nothing is written until journal_commit(). len may be 0.
 * -EPROTO while the files are of an older version (journal_read_formats()),
 * -EMSGSIZE if len > JOURNAL_MAX_RECORD, -EINVAL before replay, -EBUSY from inside a
 * compaction's write_state callback, -EIO once the handle is broken (see below). */
int journal_append(struct journal *j, const void *rec, size_t len);

/* Writes all buffered records with one write() and one fdatasync(); 0 if nothing is pending.
 * On failure returns -errno, drops the buffered records (they are NOT durable: the caller
 * fails those requests) and truncates the file back to the last committed size. If even that
 * rollback fails, the handle is broken: every later append/commit/compact returns -EIO and
 * the daemon must restart (replay then recovers the last committed state). */
int journal_commit(struct journal *j);

/* The same commit off the caller's thread, for an event loop that keeps serving meanwhile.
 * journal_commit_start() hands the buffered records (the group) to the journal's worker
 * thread, which writes and syncs them as journal_commit() does; appends meanwhile go to a
 * second buffer and form the next group. 1 when a group was started, 0 when nothing was
 * buffered, -EBUSY while one is still in flight (at most one is), or an error of
 * journal_commit_fd(); nothing is started then and the caller may journal_commit().
 *
 * journal_commit_fd() starts the worker if needed and returns a descriptor that becomes
 * readable when a group is done (the caller reads it empty: an eventfd), or -errno.
 *
 * journal_commit_finish() takes the group's result: 0 when it is durable (or none was in
 * flight), -EINPROGRESS when wait is false and the worker is not done (a wake-up of the
 * descriptor may belong to a group already finished by a wait), or the write's -errno:
 * then, as for a failed journal_commit(), the group is not durable, the file is truncated
 * back to the last committed size, and the records appended since it started are dropped
 * too (they may depend on it). Only between requests, never inside a transaction that
 * appended: journal_discard_pending() counts from the start of the new group.
 * journal_commit(), journal_compact() and journal_close() finish a group in flight first
 * (waiting for it), so that nothing else ever sees the file with a write going on. */
int journal_commit_start(struct journal *j);
int journal_commit_fd(struct journal *j);
int journal_commit_finish(struct journal *j, bool wait);
/* Whether a group is in flight (started, not finished). */
bool journal_commit_busy(const struct journal *j);

/* Buffered bytes not yet committed nor in flight (framing included). */
size_t journal_pending(const struct journal *j);

/* Makes sure the file system holds room for `bytes` more than what is committed and
 * pending, so that a commit of that much cannot fail for space. 0, -ENOSPC (or another
 * -errno) when it cannot; on file systems without fallocate() it always succeeds. */
int journal_reserve(struct journal *j, size_t bytes);

/* Drops buffered records beyond `keep`, a value journal_pending() returned earlier with no
 * commit since, so a request that fails half-way can take back the records it appended
 * without disturbing those of other requests in the same group commit. -EINVAL if keep is
 * larger than what is pending. */
int journal_discard_pending(struct journal *j, size_t keep);

/* Compaction: commits pending records, then writes a new snapshot of generation g+1 by
 * calling write_state(ctx, w), which calls journal_snapshot_add(w, rec, len) for every record
 * that rebuilds the live state (a non-negative return means success); then switches
 * atomically to (snapshot g+1, empty journal g+1) and removes generation g's files. A crash
 * at any point recovers to either the old or the new generation with nothing lost. On an
 * ordinary failure the journal stays usable on generation g. */
int journal_snapshot_add(struct journal_snapshot *w, const void *rec, size_t len);
int journal_compact(struct journal *j, int (*write_state)(void *ctx, struct journal_snapshot *w),
                    void *ctx);

/* Compaction in the background: the snapshot written by another process (a forked child)
 * from its copy of the state while this one goes on appending. journal_compact_begin()
 * commits what is pending, starts generation g+1's journal (appends go there from now on)
 * and creates its snapshot's temporary file; *c describes it. In the child, and only there,
 * journal_compact_write(c, write_state, ctx) writes the state as of the begin into that file
 * through journal_compaction_fd(c), the one descriptor it needs (it touches no other file
 * and nothing of the handle), and syncs it. Back in the journal's process
 * journal_compact_end(j, c, result) with the child's result (0 or -errno) puts the snapshot
 * in place and removes the older generations, or on a result < 0 removes the temporary
 * file; c is freed either way. A crash at any point recovers everything committed, before
 * or after the begin (journal_compact.c). While one runs, journal_compact() and another
 * begin return -EBUSY and journal_should_compact() is false. -EPROTO while the files are of
 * an older version (compact in the foreground first). */
struct journal_compaction;
int journal_compact_begin(struct journal *j, struct journal_compaction **c);
int journal_compaction_fd(const struct journal_compaction *c);
/* Every descriptor the child keeps: journal_compaction_fd(c), and the files the end removes,
 * opened, so that their blocks are freed when the child closes the last descriptor rather
 * than by the removal (tens of milliseconds for a large file). journal_compaction_release()
 * closes the latter in the daemon, once the child holds them. */
size_t journal_compaction_fds(const struct journal_compaction *c, const int **fds);
void journal_compaction_release(struct journal_compaction *c);
int journal_compact_write(struct journal_compaction *c,
                          int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx);
int journal_compact_end(struct journal *j, struct journal_compaction *c, int result);
/* A background compaction given up (its child killed): its temporary file removed, c freed.
 * journal_close() does it too. Nothing else changes: the handle stays on the new journal. */
void journal_compact_abandon(struct journal *j);

/* True when the journal has outgrown its snapshot: journal bytes > max(1 MiB, 2 x snapshot
 * bytes), so compaction keeps start-up time and disk use proportional to the live state. */
bool journal_should_compact(const struct journal *j);

void journal_get_stats(const struct journal *j, struct journal_stats *st);

/* What journal_salvage() found. */
struct journal_salvage_info {
	bool damaged;                 /* false: nothing that replay refuses, nothing to salvage */
	char damage[JOURNAL_ERR_MAX]; /* where the valid prefix ends, and why */
	uint64_t prefix_records;      /* records given to keep */
	uint64_t lost_records;        /* CRC-valid records read after the prefix, given to lost */
	uint64_t unreadable_bytes;    /* bytes after the prefix in no CRC-valid frame */
	uint64_t torn_bytes;  /* a torn tail of the newest journal, dropped as replay does */
	bool scan_incomplete; /* the search for valid frames ran out of its budget */
};

/* pasidd --salvage, on a handle from journal_open() (locked, not replayed). The newest
 * generation's snapshot and then its journal give their records to keep up to the first
 * damage: a bad header, a bad frame that is not a torn tail, a missing snapshot, or a record
 * that keep refuses (returns < 0: in this mode that ends the valid prefix instead of failing).
 * Every whole, CRC-valid frame after that point goes to lost, with its file and offset, and
 * so does every one of the older generations' files when the newest has no whole snapshot:
 * what the damaged part can still tell. Nothing is written. On return 0 with info->damaged,
 * the handle is ready for journal_salvage_commit() and nothing else; without, there was
 * nothing to salvage and it is only good for journal_close(). */
int journal_salvage(struct journal *j, int (*keep)(void *ctx, const void *rec, size_t len),
                    void (*lost)(void *ctx, const char *file, uint64_t off, const void *rec,
                                 size_t len),
                    void *ctx, struct journal_salvage_info *info);

/* Makes the salvaged state the state directory's new generation: keeps every snapshot and
 * journal file found under a second name, NAME.damaged-<unixtime>, that replay ignores
 * (calling kept for each, which may be NULL), then writes write_state's records as the
 * snapshot of a generation above all of them with an empty journal (journal_compact()), then
 * removes the old names. A crash at any point leaves either the damaged directory as it was,
 * plus the .damaged links, or the new generation. Afterwards the handle works like a replayed
 * one. */
int journal_salvage_commit(struct journal *j,
                           int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx,
                           void (*kept)(void *ctx, const char *file, const char *aside));

/* Releases the lock and all memory. Records appended but not committed are discarded, never
 * written: only journal_commit() makes anything durable. A group in flight is waited for,
 * its result not looked at. NULL is allowed. */
void journal_close(struct journal *j);

/* Test hook: make the next compaction stop (return -EIO, as if the process died) right after
 * step n (1..JOURNAL_COMPACT_STEPS), leaving the files as they are at that point; the handle
 * is then broken, as after a crash. 0 disables. The steps are listed in journal_compact.c, in
 * the foreground and in the background order (there begin stops after steps 1-4, end after
 * 5-10; 5: end returns at once as if the process had died while its child wrote). */
void journal_test_fail_compaction_after(struct journal *j, int step);

/* Test hook: while paused, the worker starts no write (a group started meanwhile stays in
 * flight: journal_commit_finish() says -EINPROGRESS, and a waiting one would wait until the
 * pause ends, from another thread). Starts the worker if needed. */
void journal_test_pause_commits(struct journal *j, bool paused);

#endif
