/* Appending records and making them durable.
 *
 * WRITING. journal_append() frames a record into a memory buffer; journal_commit() writes the
 * whole buffer with one pwrite() at the committed size and then calls fdatasync(), so N
 * records cost one write and one sync (group commit). On failure the file is truncated back
 * to the committed size; if that fails too the handle refuses all further work, because a
 * later shorter commit could otherwise leave stale, valid-looking frames behind it. That a
 * commit is one write at the end of the file is what lets replay call a bad last frame with
 * nothing valid behind it a torn tail (journal_format.c).
 *
 * OFF THE LOOP. journal_commit_start() hands the buffered group to a worker thread, which
 * does the same pwrite() + fdatasync() while appends go on into a second buffer (double
 * buffer); at most one group is in flight, and journal_commit_finish() takes its result on
 * the loop's thread, where the committed size, the statistics and a rollback are done. The
 * worker touches only the flight's buffer, the descriptor and its result; a group written
 * behind one in flight always starts after it has finished, so the file is still written
 * in order, one write at its end at a time, and the torn-tail argument holds as before.
 * journal_commit() is the synchronous path (start-up, shutdown, compaction, tests): it
 * finishes the flight, then writes what is buffered inline with the same commit_io(). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
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

/* The write and sync of one group: the part of a commit that runs on the worker thread for
 * journal_commit_start() and inline for journal_commit(), so it touches nothing but its
 * arguments. */
static int
commit_io(int fd, const uint8_t *buf, size_t len, off_t off, double *secs)
{
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = jio_write_all(fd, buf, len, off);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rc;
}

/* After a group's write + sync (on the loop's thread): counts it (daemon.metrics), and moves
 * the committed size on, or truncates the file back to it. Records appended behind a group
 * that failed describe changes made after the failed ones: replayed without them they could
 * contradict the state, so they are dropped too. */
static int
commit_done(struct journal *j, size_t len, int rc, double secs)
{
	unsigned b = 0;

	while (b < JOURNAL_SYNC_BUCKETS && secs > journal_sync_bounds[b])
		b++;
	j->sync_buckets[b]++;
	j->sync_seconds += secs;
	j->commits++;
	j->commit_failures += rc < 0;
	if (rc == 0) {
		j->committed += len;
		return 0;
	}
	j->len = 0;
	if (ftruncate(j->fd, (off_t)j->committed) < 0 || fdatasync(j->fd) < 0)
		j->phase = PHASE_BROKEN;
	return rc;
}

/* An append buffer grown beyond KEEP_BUF_MAX by one large group is released after it. */
static void
trim(uint8_t **buf, size_t *cap)
{
	if (*cap > KEEP_BUF_MAX) {
		free(*buf);
		*buf = NULL;
		*cap = 0;
	}
}

/* ---- the worker thread ---- */

static void *
worker_main(void *arg)
{
	struct journal *j = arg;
	struct journal_flight *f = &j->flight;
	const uint64_t one = 1;

	pthread_mutex_lock(&j->worker.lock);
	for (;;) {
		double secs;
		int rc;

		while ((!j->worker.go || j->worker.paused) && !j->worker.stop)
			pthread_cond_wait(&j->worker.cond, &j->worker.lock);
		if (j->worker.stop)
			break;
		j->worker.go = false;
		pthread_mutex_unlock(&j->worker.lock);
		/* The flight's fields were set before go, under the lock, and stay as they are
		 * until the loop has seen done. */
		rc = commit_io(f->fd, f->buf, f->len, f->off, &secs);
		pthread_mutex_lock(&j->worker.lock);
		f->rc = rc;
		f->secs = secs;
		f->done = true;
		pthread_cond_broadcast(&j->worker.cond);
		/* After done: whoever the descriptor wakes finds the result. A full counter
		 * (never, at one write a flight) would only mean a wake-up already pending. */
		while (write(j->worker.evfd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&j->worker.lock);
	return NULL;
}

int
journal_commit_fd(struct journal *j)
{
	int rc = journal_check_ready(j);

	if (rc < 0)
		return rc;
	if (j->worker.started)
		return j->worker.evfd;
	j->worker.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->worker.evfd < 0)
		return -errno;
	if ((rc = pthread_mutex_init(&j->worker.lock, NULL)) != 0)
		goto fail_fd;
	if ((rc = pthread_cond_init(&j->worker.cond, NULL)) != 0)
		goto fail_lock;
	if ((rc = pthread_create(&j->worker.thread, NULL, worker_main, j)) != 0)
		goto fail_cond;
	j->worker.started = true;
	return j->worker.evfd;
fail_cond:
	pthread_cond_destroy(&j->worker.cond);
fail_lock:
	pthread_mutex_destroy(&j->worker.lock);
fail_fd:
	close(j->worker.evfd);
	j->worker.evfd = -1;
	return -rc;
}

void
journal_worker_stop(struct journal *j)
{
	if (!j->worker.started)
		return;
	pthread_mutex_lock(&j->worker.lock);
	j->worker.stop = true;
	pthread_cond_broadcast(&j->worker.cond);
	pthread_mutex_unlock(&j->worker.lock);
	pthread_join(j->worker.thread, NULL);
	pthread_cond_destroy(&j->worker.cond);
	pthread_mutex_destroy(&j->worker.lock);
	close(j->worker.evfd);
	j->worker.started = false;
}

void
journal_test_pause_commits(struct journal *j, bool paused)
{
	if (journal_commit_fd(j) < 0)
		return;
	pthread_mutex_lock(&j->worker.lock);
	j->worker.paused = paused;
	pthread_cond_broadcast(&j->worker.cond);
	pthread_mutex_unlock(&j->worker.lock);
}

/* ---- committing ---- */

int
journal_commit_start(struct journal *j)
{
	struct journal_flight *f = &j->flight;
	uint8_t *buf;
	size_t cap;
	int rc = journal_check_ready(j);

	if (rc < 0)
		return rc;
	if (f->busy)
		return -EBUSY;
	if (j->len == 0)
		return 0;
	rc = journal_commit_fd(j);
	if (rc < 0)
		return rc;
	/* Double buffer: the group leaves with its buffer, appends go on into the other. */
	buf = f->buf;
	cap = f->cap;
	f->buf = j->buf;
	f->cap = j->cap;
	f->len = j->len;
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	f->fd = j->fd;
	f->off = (off_t)j->committed;
	f->busy = true;
	pthread_mutex_lock(&j->worker.lock);
	f->done = false;
	j->worker.go = true;
	pthread_mutex_unlock(&j->worker.lock);
	/* After unlocking, so that the worker does not wake only to wait for the lock; only the
	 * worker waits now (the loop is the one thread that waits for a result). */
	pthread_cond_signal(&j->worker.cond);
	return 1;
}

bool
journal_commit_busy(const struct journal *j)
{
	return j && j->flight.busy;
}

int
journal_commit_finish(struct journal *j, bool wait)
{
	struct journal_flight *f = &j->flight;
	double secs;
	int rc;

	if (!f->busy)
		return 0;
	pthread_mutex_lock(&j->worker.lock);
	while (!f->done && wait)
		pthread_cond_wait(&j->worker.cond, &j->worker.lock);
	if (!f->done) {
		pthread_mutex_unlock(&j->worker.lock);
		return -EINPROGRESS;
	}
	f->done = false;
	rc = f->rc;
	secs = f->secs;
	pthread_mutex_unlock(&j->worker.lock);
	f->busy = false;
	rc = commit_done(j, f->len, rc, secs);
	f->len = 0;
	trim(&f->buf, &f->cap);
	return rc;
}

int
journal_commit(struct journal *j)
{
	int rc = journal_check_ready(j);
	double secs;

	if (rc < 0)
		return rc;
	/* Whatever is in flight goes first: the file is written in order. */
	rc = journal_commit_finish(j, true);
	if (rc < 0)
		return rc;
	if (j->len == 0)
		return 0;
	rc = commit_io(j->fd, j->buf, j->len, (off_t)j->committed, &secs);
	rc = commit_done(j, j->len, rc, secs);
	j->len = 0;
	trim(&j->buf, &j->cap);
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
	need = j->committed + j->flight.len + j->len + bytes;
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
