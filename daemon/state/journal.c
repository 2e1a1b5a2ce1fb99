/* The journal's handle: opening a state directory (locked, or read-only beside a running
 * daemon), the records' format versions, closing, errors and statistics. The files and the
 * crash-safety argument are described part by part where the code is: journal_internal.h
 * lists the files.
 *
 * The lock: the empty file `lock` in the state directory, flock(LOCK_EX) held from
 * journal_open() to journal_close(), so that two daemons never share one directory. A
 * read-only handle takes no lock: it writes, truncates and deletes nothing, so it cannot
 * disturb the daemon that holds it (journal_replay.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME "lock"

/* Below this the journal is not worth compacting however small the snapshot. */
#define COMPACT_MIN_JOURNAL (1u << 20)

/* A handle on dir, not replayed yet: the lock is the caller's to take. */
static int
journal_new(const char *dir, bool readonly, struct journal **out)
{
	struct journal *j = calloc(1, sizeof(*j));
	int rc;

	if (!j)
		return -ENOMEM;
	j->lockfd = -1;
	j->fd = -1;
	j->worker.evfd = -1;
	j->readonly = readonly;
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = -errno;
		journal_close(j);
		return rc;
	}
	j->phase = PHASE_OPENED;
	*out = j;
	return 0;
}

int
journal_open(const char *dir, struct journal **out)
{
	struct journal *j = NULL;
	int rc;

	if (!dir || !out)
		return -EINVAL;
	*out = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	rc = journal_new(dir, false, &j);
	if (rc < 0)
		return rc;
	j->lockfd = openat(j->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->lockfd < 0) {
		rc = -errno;
		goto fail;
	}
	/* flock() belongs to the open file description, so even a second open within this
	 * process is refused, and the kernel drops the lock when a crashed daemon's fds go. */
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	*out = j;
	return 0;
fail:
	journal_close(j);
	return rc;
}

int
journal_open_readonly(const char *dir, struct journal **out)
{
	if (!dir || !out)
		return -EINVAL;
	*out = NULL;
	return journal_new(dir, true, out);
}

int
journal_set_format(struct journal *j, uint32_t version)
{
	if (!j || j->phase != PHASE_OPENED)
		return -EINVAL;
	j->format = j->oldest = j->file_format = version;
	return 0;
}

int
journal_read_formats(struct journal *j, uint32_t oldest)
{
	if (!j || j->phase != PHASE_OPENED || oldest > j->format)
		return -EINVAL;
	j->oldest = oldest;
	return 0;
}

uint32_t
journal_file_format(const struct journal *j)
{
	return j ? j->file_format : 0;
}

const char *
journal_error(const struct journal *j)
{
	return j ? j->err : "";
}

int
journal_check_ready(const struct journal *j)
{
	if (!j)
		return -EINVAL;
	if (j->phase == PHASE_BROKEN)
		return -EIO;
	if (j->phase != PHASE_READY || j->salvaging)
		return -EINVAL;
	if (j->readonly)
		return -EROFS;
	if (j->compacting)
		return -EBUSY;
	return 0;
}

bool
journal_should_compact(const struct journal *j)
{
	uint64_t limit;

	if (!j || j->phase != PHASE_READY || j->readonly || j->bg)
		return false;
	limit = 2 * j->snapshot_bytes;
	if (limit < COMPACT_MIN_JOURNAL)
		limit = COMPACT_MIN_JOURNAL;
	return j->committed > limit;
}

void
journal_get_stats(const struct journal *j, struct journal_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!j)
		return;
	st->replayed_records = j->replayed;
	st->dropped_bytes = j->dropped;
	st->journal_bytes = j->committed;
	st->snapshot_bytes = j->snapshot_bytes;
	st->generation = j->gen;
	st->last_compaction_unix = j->snapshot_time;
	st->commits = j->commits;
	st->commit_failures = j->commit_failures;
	memcpy(st->sync_buckets, j->sync_buckets, sizeof(st->sync_buckets));
	st->sync_seconds = j->sync_seconds;
}

void
journal_test_fail_compaction_after(struct journal *j, int step)
{
	if (j)
		j->fail_after_step = step;
}

void
journal_close(struct journal *j)
{
	if (!j)
		return;
	journal_worker_stop(j);
	journal_compact_abandon(j);
	if (j->fd >= 0)
		close(j->fd);
	if (j->lockfd >= 0)
		close(j->lockfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->files)
		free(j->files->v);
	free(j->files);
	free(j->buf);
	free(j->flight.buf);
	free(j);
}
