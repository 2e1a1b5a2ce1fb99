/* What the journal's files share: the handle, and reading and writing files in the state
 * directory. Internal to the journal; its users see journal.h.
 *
 * The journal in files, one job each (each carries its part of the crash-safety argument
 * at its top):
 *
 *   journal.c          the handle: opening (locked, or read-only for pasidd -n), closing,
 *                      errors, statistics, when to compact
 *   journal_format.c   the bytes: files, headers, frames, trailers, CRCs, versions, and the
 *                      rule that tells a torn tail from damage
 *   journal_io.c       files in the directory: listing, reading whole, writing, creating a
 *                      journal atomically, removing
 *   journal_replay.c   start-up: which generation, its snapshot, its journal, the refusals
 *   journal_commit.c   append, group commit (on the caller's thread or its worker thread)
 *                      and its rollback, reserving room
 *   journal_compact.c  a new snapshot and generation, in numbered crash-safe steps, in the
 *                      foreground or with the snapshot written by another process
 *                      (state/compact_bg.c forks it)
 *   journal_salvage.c  pasidd --salvage: the valid prefix, what follows it, the new
 *                      generation */
#ifndef PASIDD_JOURNAL_INTERNAL_H
#define PASIDD_JOURNAL_INTERNAL_H

#include "journal.h"
#include "journal_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

enum journal_phase {
	PHASE_OPENED, /* locked, not replayed yet */
	PHASE_READY,
	PHASE_BROKEN, /* unusable: failed replay, failed rollback or simulated crash */
};

/* The files found in the directory. */
struct jio_list {
	struct jf_file *v;
	size_t n;
	size_t cap;
};

struct journal {
	int dirfd;
	int lockfd;
	int fd; /* journal.<gen>, open from replay on */
	enum journal_phase phase;
	uint32_t format; /* the records' format version written: journal_set_format() */
	uint32_t oldest; /* the oldest one read: journal_read_formats() */
	/* The version of the file whose records are being delivered, then of the current
	 * generation's files: nothing is appended to them unless it is format. */
	uint32_t file_format;
	bool compacting;
	int fail_after_step;
	/* Generations in use: snapshot.base (if any) and journals base..gen, replayed in that
	 * order; base < gen only while a background compaction runs or after one failed. */
	uint64_t base;
	uint64_t gen;
	struct journal_compaction *bg; /* journal_compact_begin() to _end(): at most one */
	uint64_t committed;            /* journal size known to be on disk */
	uint64_t commits, commit_failures;
	uint64_t sync_buckets[JOURNAL_SYNC_BUCKETS + 1];
	double sync_seconds;
	uint64_t snapshot_bytes;
	int64_t snapshot_time;
	uint64_t replayed;
	uint64_t dropped;
	uint8_t *buf; /* framed records not yet committed */
	size_t len;
	size_t cap;
	/* The commit in flight (journal_commit_start()): its buffer, which the loop leaves
	 * alone until journal_commit_finish() swaps it back as the next append buffer. */
	struct journal_flight {
		uint8_t *buf;
		size_t len, cap;
		int fd; /* the journal's, and the offset written at, as of the start */
		off_t off;
		bool busy;   /* started, not finished */
		bool done;   /* the worker has its result (under lock) */
		int rc;      /* the worker's result */
		double secs; /* its write + sync time */
	} flight;
	/* The worker thread that runs a flight's write + fdatasync, started on the first
	 * journal_commit_start(); it touches only the flight's buffer, fd and result. */
	struct {
		pthread_t thread;
		pthread_mutex_t lock;
		pthread_cond_t cond;
		bool started, go, stop;
		bool paused; /* journal_test_pause_commits() */
		int evfd;    /* written when a flight is done: journal_commit_fd() */
	} worker;
	uint64_t allocated; /* file space reserved with fallocate, from offset 0 */
	bool no_reserve;    /* the file system cannot reserve: commits may hit ENOSPC */
	bool readonly;      /* journal_open_readonly(): replay only, no lock, nothing written */
	bool salvaging;     /* journal_salvage() done: only journal_salvage_commit() may follow */
	struct jio_list *files;    /* what journal_salvage() found, for journal_salvage_commit() */
	char err[JOURNAL_ERR_MAX]; /* why replay or salvage failed; see journal_error() */
};

/* 0 if the journal may be written now; else -EINVAL, -EIO (broken), -EROFS or -EBUSY
 * (compacting). */
int journal_check_ready(const struct journal *j);

/* Ends the commit worker, after the flight it may be writing (journal_close()). */
void journal_worker_stop(struct journal *j);

/* Grows *buf to hold at least need bytes (doubling, from 4 KiB). */
int jio_reserve(uint8_t **buf, size_t *cap, size_t need);
/* pwrite() of all len bytes at off, retried across short writes and EINTR. */
int jio_write_all(int fd, const uint8_t *p, size_t len, off_t off);
/* Removes name; a file already gone counts as removed. */
int jio_unlink(int dirfd, const char *name);
/* Reads the regular file name whole into *data (malloc'd) and *size; keeps its descriptor
 * in *fd_out when that is not NULL. -EUCLEAN when it is not a regular file. */
int jio_read(int dirfd, const char *name, int flags, int *fd_out, uint8_t **data, size_t *size);
/* The message in j->err for a file jio_read() could not read. */
void jio_read_failure(struct journal *j, const char *name, int rc);
/* Lists the snapshot and journal files of the directory, in no order. */
int jio_list(int dirfd, struct jio_list *l);
/* Whether l holds kind.<gen> (not a .tmp). */
bool jio_has(const struct jio_list *l, enum jf_kind kind, uint64_t gen);
/* journal.<gen>.tmp with a synced header; the caller renames it into place. */
int jio_create_journal_tmp(int dirfd, uint64_t gen, uint32_t format, int *fd_out);
/* journal.<gen>, atomically: it appears complete with its header or not at all. */
int jio_create_journal(int dirfd, uint64_t gen, uint32_t format, int *fd_out);

#endif
