/* Compaction: the live state written as the snapshot of a new generation, which then
 * replaces the old generation's snapshot and journal.
 *
 * COMPACTION from generation g to n = g+1, in numbered steps (the test hook stops after any):
 *    1  snapshot.n.tmp created, header written
 *    2  all records and the trailer written, file fsynced
 *    3  snapshot.n.tmp renamed to snapshot.n
 *    4  directory fsynced
 *    5  journal.n.tmp created with its header, fsynced
 *    6  journal.n.tmp renamed to journal.n
 *    7  directory fsynced: generation n is established, the handle switches to it
 *    8  journal.g removed
 *    9  snapshot.g removed (if any)
 *   10  directory fsynced
 * Until step 3 a restart still sees generation g as newest. From step 3 on it sees a complete
 * snapshot.n, which already contains everything in journal.g because pending records were
 * committed first and nothing is appended during compaction. So an ordinary failure in steps
 * 4-7 must remove snapshot.n (and journal.n) again before more records go to journal.g; if
 * that removal fails the handle is given up, and the restart then picks generation n, with
 * nothing lost. Replay's side of this argument is at the top of journal_replay.c.
 *
 * The steps are in three functions by what a failure in them must undo: nothing but a .tmp
 * (1-2), the visible snapshot.n (3-7), nothing at all (8-10). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Snapshot records are gathered into writes of about this size. */
#define SNAPSHOT_BUF (256u << 10)

struct journal_snapshot {
	int fd;
	int err; /* first failure; sticks so that an ignored error still fails the compaction */
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint64_t records;
	uint64_t payload;
	uint64_t file_bytes;
};

static int
snapshot_flush(struct journal_snapshot *w)
{
	int rc;

	if (w->err)
		return w->err;
	rc = jio_write_all(w->fd, w->buf, w->len, (off_t)w->file_bytes);
	if (rc < 0) {
		w->err = rc;
		return rc;
	}
	w->file_bytes += w->len;
	w->len = 0;
	return 0;
}

int
journal_snapshot_add(struct journal_snapshot *w, const void *rec, size_t len)
{
	size_t need = JF_FRAME_SIZE + len;
	int rc;

	if (!w)
		return -EINVAL;
	if (w->err)
		return w->err;
	if (len > JOURNAL_MAX_RECORD || (!rec && len)) {
		/* Sticky, so that a write_state that ignores it cannot produce a snapshot with
		 * part of the state missing. */
		w->err = len > JOURNAL_MAX_RECORD ? -EMSGSIZE : -EINVAL;
		return w->err;
	}
	if (w->len + need > w->cap) {
		rc = snapshot_flush(w);
		if (rc < 0)
			return rc;
		rc = jio_reserve(&w->buf, &w->cap, need);
		if (rc < 0) {
			w->err = rc;
			return rc;
		}
	}
	jf_put_frame(w->buf + w->len, rec, len);
	w->len += need;
	w->records++;
	w->payload += len;
	return 0;
}

/* The trailer after the records, written out and synced. */
static int
snapshot_finish(struct journal_snapshot *w, int64_t now)
{
	int rc;

	if (w->len + JF_TRAILER_SIZE > w->cap) {
		rc = snapshot_flush(w);
		if (rc < 0)
			return rc;
	}
	jf_put_trailer(w->buf + w->len, w->records, w->payload, now);
	w->len += JF_TRAILER_SIZE;
	rc = snapshot_flush(w);
	if (rc == 0 && fsync(w->fd) < 0)
		rc = -errno;
	return rc;
}

/* The test hook: true if the compaction must stop here, as if the process had died. */
static bool
crash_point(struct journal *j, int step)
{
	if (j->fail_after_step != step)
		return false;
	j->fail_after_step = 0;
	j->phase = PHASE_BROKEN;
	return true;
}

/* Steps 1-2: snapshot.n.tmp, complete and synced; its size in *bytes. A failure removes it
 * again (harmless if that fails too: a .tmp is never read). */
static int
write_snapshot_tmp(struct journal *j, uint64_t gen, int64_t now,
                   int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx,
                   uint64_t *bytes)
{
	struct journal_snapshot w = {.fd = -1};
	char tmp[JF_NAME_LEN];
	int rc;

	jf_name(tmp, JF_SNAPSHOT, gen, true);
	/* Step 1. O_TRUNC: a .tmp left by an earlier failed attempt is simply overwritten. */
	w.fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w.fd < 0)
		return -errno;
	rc = jio_reserve(&w.buf, &w.cap, SNAPSHOT_BUF);
	if (rc < 0)
		goto fail;
	jf_put_header(w.buf, JF_SNAPSHOT, gen, j->format);
	w.len = JF_HDR_SIZE;
	rc = snapshot_flush(&w);
	if (rc < 0)
		goto fail;
	if (crash_point(j, 1)) {
		rc = -EIO;
		goto out;
	}

	/* Step 2. Appends from inside write_state are refused: they would land in journal.g,
	 * which is about to be dropped, after the snapshot has been taken. */
	j->compacting = true;
	rc = write_state(ctx, &w);
	j->compacting = false;
	if (rc >= 0)
		rc = w.err;
	if (rc >= 0)
		rc = snapshot_finish(&w, now);
	if (rc < 0)
		goto fail;
	*bytes = w.file_bytes;
	rc = crash_point(j, 2) ? -EIO : 0;
	goto out;
fail:
	jio_unlink(j->dirfd, tmp);
out:
	close(w.fd);
	free(w.buf);
	return rc;
}

/* Steps 3-7: generation n established and the handle on it. */
static int
establish(struct journal *j, uint64_t gen, uint64_t snapshot_bytes, int64_t now)
{
	char snap_tmp[JF_NAME_LEN], snap[JF_NAME_LEN], jnl_tmp[JF_NAME_LEN], jnl[JF_NAME_LEN];
	int nfd = -1, rc;

	jf_name(snap_tmp, JF_SNAPSHOT, gen, true);
	jf_name(snap, JF_SNAPSHOT, gen, false);
	jf_name(jnl_tmp, JF_JOURNAL, gen, true);
	jf_name(jnl, JF_JOURNAL, gen, false);

	/* Step 3: from here a restart would choose the new generation. */
	if (renameat(j->dirfd, snap_tmp, j->dirfd, snap) < 0) {
		rc = -errno;
		jio_unlink(j->dirfd, snap_tmp);
		return rc;
	}
	if (crash_point(j, 3))
		return -EIO;
	/* Step 4: the rename must be durable before a journal of the new generation exists,
	 * or a crash could leave journal.n without the snapshot it builds on. */
	if (fsync(j->dirfd) < 0) {
		rc = -errno;
		goto fail;
	}
	if (crash_point(j, 4))
		return -EIO;
	rc = jio_create_journal_tmp(j->dirfd, gen, j->format, &nfd); /* step 5 */
	if (rc < 0)
		goto fail;
	if (crash_point(j, 5))
		goto crashed;
	if (renameat(j->dirfd, jnl_tmp, j->dirfd, jnl) < 0) { /* step 6 */
		rc = -errno;
		goto fail;
	}
	if (crash_point(j, 6))
		goto crashed;
	if (fsync(j->dirfd) < 0) { /* step 7 */
		rc = -errno;
		goto fail;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = nfd;
	j->gen = gen;
	j->file_format = j->format; /* the new generation is written in it */
	j->committed = JF_HDR_SIZE;
	j->allocated = 0;
	j->snapshot_bytes = snapshot_bytes;
	j->snapshot_time = now;
	return crash_point(j, 7) ? -EIO : 0;

fail:
	/* snapshot.n is visible: records appended to journal.g from now on would be lost at the
	 * next start unless it goes away again. If it cannot, give up the handle instead; the
	 * restart then picks generation n, which holds everything committed so far. */
	if (nfd >= 0)
		close(nfd);
	if (jio_unlink(j->dirfd, jnl_tmp) < 0 || jio_unlink(j->dirfd, jnl) < 0 ||
	    jio_unlink(j->dirfd, snap) < 0 || fsync(j->dirfd) < 0)
		j->phase = PHASE_BROKEN;
	return rc;
crashed:
	close(nfd);
	return -EIO;
}

/* Steps 8-10. The new generation stands; failures here only leave old files, which the next
 * start removes, so they do not fail the compaction. */
static int
drop_old(struct journal *j, uint64_t old)
{
	char name[JF_NAME_LEN];

	jf_name(name, JF_JOURNAL, old, false);
	jio_unlink(j->dirfd, name);
	if (crash_point(j, 8))
		return -EIO;
	jf_name(name, JF_SNAPSHOT, old, false);
	jio_unlink(j->dirfd, name);
	if (crash_point(j, 9))
		return -EIO;
	fsync(j->dirfd);
	return crash_point(j, 10) ? -EIO : 0;
}

int
journal_compact(struct journal *j, int (*write_state)(void *ctx, struct journal_snapshot *w),
                void *ctx)
{
	int64_t now = (int64_t)time(NULL);
	uint64_t old, bytes = 0;
	int rc;

	rc = journal_check_ready(j);
	if (rc < 0)
		return rc;
	if (!write_state)
		return -EINVAL;
	rc = journal_commit(j);
	if (rc < 0)
		return rc;
	old = j->gen;
	rc = write_snapshot_tmp(j, old + 1, now, write_state, ctx, &bytes);
	if (rc == 0)
		rc = establish(j, old + 1, bytes, now);
	if (rc == 0)
		rc = drop_old(j, old);
	return rc;
}
