/* Appending records and making them durable.
 *
 * WRITING. journal_append() frames a record into a memory buffer; journal_commit() writes the
 * whole buffer with one pwrite() at the committed size and then calls fdatasync(), so N
 * records cost one write and one sync (group commit). On failure the file is truncated back
 * to the committed size; if that fails too the handle refuses all further work, because a
 * later shorter commit could otherwise leave stale, valid-looking frames behind it. That a
 * commit is one write at the end of the file is what lets replay call a bad last frame with
 * nothing valid behind it a torn tail (journal_format.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* After a commit, an append buffer grown beyond this is released rather than kept. */
#define KEEP_BUF_MAX (4u << 20)

/* Reserving the space a commit will write, before the change is made, is what lets the
 * caller refuse a request when the file system is full rather than fail a commit whose
 * changes are already applied. Space is taken in steps so that most calls only compare. */
#define RESERVE_STEP (4u << 20)

int
journal_append(struct journal *j, const void *rec, size_t len)
{
	int rc = journal_check_ready(j);

	if (rc < 0)
		return rc;
	/* Records of this version in a file of an older one would be misread, or refused as
	 * damage, by every later replay: the files are compacted into this version first. */
	if (j->file_format != j->format)
		return -EPROTO;
	if (len > JOURNAL_MAX_RECORD)
		return -EMSGSIZE;
	if (!rec && len)
		return -EINVAL;
	rc = jio_reserve(&j->buf, &j->cap, j->len + JF_FRAME_SIZE + len);
	if (rc < 0)
		return rc;
	jf_put_frame(j->buf + j->len, rec, len);
	j->len += JF_FRAME_SIZE + len;
	return 0;
}

const double journal_sync_bounds[JOURNAL_SYNC_BUCKETS] = {0.0001, 0.0005, 0.001, 0.005,
                                                          0.01,   0.05,   0.1,   1};

/* Counts one commit's write + sync time (daemon.metrics). */
static void
count_sync(struct journal *j, const struct timespec *t0, int rc)
{
	struct timespec t1;
	double s;
	unsigned b = 0;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
	while (b < JOURNAL_SYNC_BUCKETS && s > journal_sync_bounds[b])
		b++;
	j->sync_buckets[b]++;
	j->sync_seconds += s;
	j->commits++;
	j->commit_failures += rc < 0;
}

int
journal_commit(struct journal *j)
{
	int rc = journal_check_ready(j);
	struct timespec t0;

	if (rc < 0)
		return rc;
	if (j->len == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = jio_write_all(j->fd, j->buf, j->len, (off_t)j->committed);
	if (rc == 0 && fdatasync(j->fd) < 0)
		rc = -errno;
	count_sync(j, &t0, rc);
	if (rc == 0)
		j->committed += j->len;
	j->len = 0;
	if (j->cap > KEEP_BUF_MAX) {
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
	if (rc < 0 && (ftruncate(j->fd, (off_t)j->committed) < 0 || fdatasync(j->fd) < 0))
		j->phase = PHASE_BROKEN;
	return rc;
}

size_t
journal_pending(const struct journal *j)
{
	return j ? j->len : 0;
}

int
journal_discard_pending(struct journal *j, size_t keep)
{
	if (!j || keep > j->len)
		return -EINVAL;
	j->len = keep;
	return 0;
}

int
journal_reserve(struct journal *j, size_t bytes)
{
	uint64_t need, want;
	int rc = journal_check_ready(j);

	if (rc < 0)
		return rc;
	need = j->committed + j->len + bytes;
	if (j->no_reserve || need <= j->allocated)
		return 0;
	want = need + RESERVE_STEP;
	if (fallocate(j->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)want) == 0) {
		j->allocated = want;
		return 0;
	}
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		j->no_reserve = true;
		return 0;
	}
	/* Less than the step may still fit what is needed now. */
	if (fallocate(j->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)need) == 0) {
		j->allocated = need;
		return 0;
	}
	return -errno;
}
