/* Compaction: the live state written as the snapshot of a new generation, which then
 * replaces the older generations' snapshot and journals.
 *
 * Two orders of the same files. The handle's generations: snapshot.b (if any) and the chain
 * journal.b .. journal.g, replayed in that order (journal_replay.c); b = g but after a
 * background compaction that failed. n = g+1.
 *
 * IN THE FOREGROUND (journal_compact(): start-up's upgrade, salvage, and the fallback when no
 * child can be forked), nothing is appended meanwhile; in numbered steps (the test hook
 * stops after any):
 *    1  snapshot.n.tmp created, header written
 *    2  all records and the trailer written, file fsynced
 *    3  snapshot.n.tmp renamed to snapshot.n
 *    4  directory fsynced
 *    5  journal.n.tmp created with its header, fsynced
 *    6  journal.n.tmp renamed to journal.n
 *    7  directory fsynced: generation n is established, the handle switches to it
 *    8  journals b..g removed
 *    9  snapshots b..g removed (those there are)
 *   10  directory fsynced
 * Until step 3 a restart still sees generation b as newest. From step 3 on it sees a complete
 * snapshot.n, which already contains everything in journals b..g because pending records
 * were committed first and nothing is appended during compaction. So an ordinary failure in
 * steps 4-7 must remove snapshot.n (and journal.n) again before more records go to journal.g;
 * if that removal fails the handle is given up, and the restart then picks generation n,
 * with nothing lost. The steps are in three functions by what a failure in them must undo:
 * nothing but a .tmp (1-2), the visible snapshot.n (3-7), nothing at all (8-10).
 *
 * IN THE BACKGROUND (journal_compact_begin/_write/_end: a forked child writes the snapshot of
 * the state as of the fork while the daemon goes on appending), the new journal comes first:
 *    1  pending records committed; journal.n.tmp created with its header, fsynced
 *    2  journal.n.tmp renamed to journal.n
 *    3  directory fsynced: appends go to journal.n from now on
 *    4  snapshot.n.tmp created, header written (then the fork)
 *    5  the child: all records as of step 3 and the trailer written, fsynced
 *    6  snapshot.n.tmp renamed to snapshot.n
 *    7  directory fsynced: generation n is established
 *    8  journals b..g removed
 *    9  snapshots b..g removed (those there are)
 *   10  directory fsynced
 * From step 2 a restart replays snapshot.b, journals b..g, then journal.n: the state as of
 * step 3 followed by what came after it. From step 6 it may instead see snapshot.n, which is
 * that same state as of step 3, followed by journal.n: the same records either way, so
 * nothing after step 3 needs undoing, and a failure of the child (4-5) or of the rename only
 * removes snapshot.n.tmp and leaves the handle on journal.n: the chain grows by one, and the
 * next compaction's steps 8-9 remove all of it. A failure in steps 1-3 must remove journal.n
 * again before anything more goes to journal.g (a later torn tail of journal.g with a journal
 * behind it would be refused as damage); if that fails the handle is given up. A failure in
 * step 7 keeps the older files: with snapshot.n not surely durable, journal.g may still be
 * needed. Only the daemon renames and removes; the child writes snapshot.n.tmp through the
 * descriptor it was given, so a child outliving a killed daemon cannot disturb the next one.
 * Replay's side of both orders is at the top of journal_replay.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Snapshot records are gathered into writes of about this size. */
#define SNAPSHOT_BUF (256u << 10)

/* In the background, the snapshot is synced every this many bytes: the daemon's commits
 * (fdatasync of the journal) can wait for the file system's journal to take the child's
 * dirty data with it (ext4's data=ordered), which must then be little at any time, not tens
 * of MB at the final sync. */
#define SNAPSHOT_PACE (4u << 20)

struct journal_snapshot {
	int fd;
	int err; /* first failure; sticks so that an ignored error still fails the compaction */
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint64_t records;
	uint64_t payload;
	uint64_t file_bytes;
	bool pace;       /* sync every SNAPSHOT_PACE bytes */
	uint64_t synced; /* up to here */
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
	if (w->pace && w->file_bytes - w->synced >= SNAPSHOT_PACE) {
		if (fdatasync(w->fd) < 0) {
			w->err = -errno;
			return w->err;
		}
		w->synced = w->file_bytes;
	}
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

/* snapshot.<gen>.tmp created (O_TRUNC: a .tmp left by an earlier failed attempt is simply
 * overwritten) with its header written; its descriptor in *fd. */
static int
snapshot_create(const struct journal *j, uint64_t gen, int *fd)
{
	struct journal_snapshot w = {.fd = -1};
	char tmp[JF_NAME_LEN];
	int rc;

	jf_name(tmp, JF_SNAPSHOT, gen, true);
	w.fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w.fd < 0)
		return -errno;
	rc = jio_reserve(&w.buf, &w.cap, JF_HDR_SIZE);
	if (rc == 0) {
		jf_put_header(w.buf, JF_SNAPSHOT, gen, j->format);
		w.len = JF_HDR_SIZE;
		rc = snapshot_flush(&w);
	}
	free(w.buf);
	if (rc < 0) {
		close(w.fd);
		jio_unlink(j->dirfd, tmp);
		return rc;
	}
	*fd = w.fd;
	return 0;
}

/* The records and the trailer after the header snapshot_create() wrote, synced; the file's
 * size in *bytes. Touches nothing but fd and memory: the background child runs it. */
static int
snapshot_fill(int fd, int64_t now, bool pace,
              int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx, uint64_t *bytes)
{
	struct journal_snapshot w = {.fd = fd, .file_bytes = JF_HDR_SIZE, .pace = pace};
	int rc = jio_reserve(&w.buf, &w.cap, SNAPSHOT_BUF);

	if (rc == 0)
		rc = write_state(ctx, &w);
	if (rc >= 0)
		rc = w.err;
	if (rc >= 0)
		rc = snapshot_finish(&w, now);
	if (rc >= 0)
		*bytes = w.file_bytes;
	free(w.buf);
	return rc < 0 ? rc : 0;
}

/* Foreground steps 1-2: snapshot.n.tmp, complete and synced; its size in *bytes. A failure
 * removes it again (harmless if that fails too: a .tmp is never read). */
static int
write_snapshot_tmp(struct journal *j, uint64_t gen, int64_t now,
                   int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx,
                   uint64_t *bytes)
{
	char tmp[JF_NAME_LEN];
	int fd, rc;

	jf_name(tmp, JF_SNAPSHOT, gen, true);
	rc = snapshot_create(j, gen, &fd); /* step 1 */
	if (rc < 0)
		return rc;
	if (crash_point(j, 1)) {
		close(fd);
		return -EIO;
	}
	/* Step 2. Appends from inside write_state are refused: they would land in journal.g,
	 * which is about to be dropped, after the snapshot has been taken. */
	j->compacting = true;
	rc = snapshot_fill(fd, now, false, write_state, ctx, bytes);
	j->compacting = false;
	close(fd);
	if (rc < 0) {
		jio_unlink(j->dirfd, tmp);
		return rc;
	}
	return crash_point(j, 2) ? -EIO : 0;
}

/* The handle on journal.<gen> (empty, descriptor nfd), the next one to append to. */
static void
switch_journal(struct journal *j, uint64_t gen, int nfd)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = nfd;
	j->gen = gen;
	j->file_format = j->format; /* the new generation is written in it */
	j->committed = JF_HDR_SIZE;
	j->allocated = 0;
}

/* Foreground steps 3-7: generation n established and the handle on it. */
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
	switch_journal(j, gen, nfd);
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

/* Steps 8-10, the same in both orders: the files of generations base..gen-1 removed, the
 * handle's base now gen. The new generation stands; failures here only leave old files,
 * which the next start removes, so they do not fail the compaction. */
static int
drop_old(struct journal *j, uint64_t gen)
{
	uint64_t base = j->base;
	char name[JF_NAME_LEN];

	j->base = gen;
	for (uint64_t g = base; g < gen; g++) {
		jf_name(name, JF_JOURNAL, g, false);
		jio_unlink(j->dirfd, name);
	}
	if (crash_point(j, 8))
		return -EIO;
	for (uint64_t g = base; g < gen; g++) {
		jf_name(name, JF_SNAPSHOT, g, false);
		jio_unlink(j->dirfd, name);
	}
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
	uint64_t n, bytes = 0;
	int rc;

	rc = journal_check_ready(j);
	if (rc < 0)
		return rc;
	if (!write_state)
		return -EINVAL;
	if (j->bg)
		return -EBUSY;
	rc = journal_commit(j);
	if (rc < 0)
		return rc;
	n = j->gen + 1;
	rc = write_snapshot_tmp(j, n, now, write_state, ctx, &bytes);
	if (rc == 0)
		rc = establish(j, n, bytes, now);
	if (rc == 0)
		rc = drop_old(j, n);
	return rc;
}

/* ---- in the background ---- */

/* Old files held open by the child, at most: a longer chain than this is of small journals. */
#define HOLD_MAX 8

struct journal_compaction {
	uint64_t gen; /* n */
	int64_t now;
	/* snapshot.n.tmp, then the files that steps 8-9 remove, opened read-only: removing a
	 * name that a descriptor still holds is quick, and freeing a file of tens of MB (~50 ms
	 * at a million mappings) is then left to whoever closes the last one: the child. */
	int fds[1 + HOLD_MAX];
	size_t nfds;
};

/* The files steps 8-9 will remove, opened (best effort: one that cannot be is just freed by
 * its removal). */
static void
hold_old(const struct journal *j, struct journal_compaction *c)
{
	char name[JF_NAME_LEN];

	for (uint64_t g = j->base; g < c->gen && c->nfds < 1 + HOLD_MAX; g++) {
		for (int k = 0; k < 2 && c->nfds < 1 + HOLD_MAX; k++) {
			int fd;

			jf_name(name, k ? JF_SNAPSHOT : JF_JOURNAL, g, false);
			fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0)
				c->fds[c->nfds++] = fd;
		}
	}
}

static void
compaction_free(struct journal_compaction *c)
{
	for (size_t i = 0; i < c->nfds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	free(c);
}

/* Background steps 1-3: journal.n in place and the handle appending to it. A failure removes
 * journal.n again, or gives the handle up. */
static int
start_journal(struct journal *j, uint64_t gen)
{
	char tmp[JF_NAME_LEN], name[JF_NAME_LEN];
	int nfd = -1, rc;

	jf_name(tmp, JF_JOURNAL, gen, true);
	jf_name(name, JF_JOURNAL, gen, false);
	rc = jio_create_journal_tmp(j->dirfd, gen, j->format, &nfd); /* step 1 */
	if (rc < 0)
		return rc;
	if (crash_point(j, 1))
		goto crashed;
	if (renameat(j->dirfd, tmp, j->dirfd, name) < 0) { /* step 2 */
		rc = -errno;
		goto fail;
	}
	if (crash_point(j, 2))
		goto crashed;
	if (fsync(j->dirfd) < 0) { /* step 3 */
		rc = -errno;
		goto fail;
	}
	switch_journal(j, gen, nfd);
	return crash_point(j, 3) ? -EIO : 0;

fail:
	close(nfd);
	if (jio_unlink(j->dirfd, tmp) < 0 || jio_unlink(j->dirfd, name) < 0 || fsync(j->dirfd) < 0)
		j->phase = PHASE_BROKEN;
	return rc;
crashed:
	close(nfd);
	return -EIO;
}

int
journal_compact_begin(struct journal *j, struct journal_compaction **out)
{
	struct journal_compaction *c;
	int rc = journal_check_ready(j);

	if (rc < 0)
		return rc;
	if (!out)
		return -EINVAL;
	if (j->bg)
		return -EBUSY;
	/* Appends to journal.n are records of this version only. */
	if (j->file_format != j->format)
		return -EPROTO;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fds[0] = -1;
	c->nfds = 1;
	c->now = (int64_t)time(NULL);
	c->gen = j->gen + 1;
	rc = journal_commit(j);
	if (rc == 0)
		rc = start_journal(j, c->gen);
	if (rc == 0) {
		rc = snapshot_create(j, c->gen, &c->fds[0]); /* step 4 */
		if (rc == 0 && crash_point(j, 4))
			rc = -EIO;
	}
	if (rc < 0) {
		compaction_free(c);
		return rc;
	}
	hold_old(j, c);
	j->bg = c;
	*out = c;
	return 0;
}

int
journal_compaction_fd(const struct journal_compaction *c)
{
	return c ? c->fds[0] : -1;
}

size_t
journal_compaction_fds(const struct journal_compaction *c, const int **fds)
{
	*fds = c->fds;
	return c->nfds;
}

void
journal_compaction_release(struct journal_compaction *c)
{
	for (size_t i = 1; i < c->nfds; i++) {
		close(c->fds[i]);
		c->fds[i] = -1;
	}
}

int
journal_compact_write(struct journal_compaction *c,
                      int (*write_state)(void *ctx, struct journal_snapshot *w), void *ctx)
{
	uint64_t bytes;

	if (!c || !write_state || c->fds[0] < 0)
		return -EINVAL;
	return snapshot_fill(c->fds[0], c->now, true, write_state, ctx, &bytes); /* step 5 */
}

/* Background steps 6-7. */
static int
establish_snapshot(struct journal *j, const struct journal_compaction *c)
{
	char tmp[JF_NAME_LEN], name[JF_NAME_LEN];
	struct stat st;
	int rc;

	if (fstat(c->fds[0], &st) < 0)
		return -errno;
	jf_name(tmp, JF_SNAPSHOT, c->gen, true);
	jf_name(name, JF_SNAPSHOT, c->gen, false);
	if (renameat(j->dirfd, tmp, j->dirfd, name) < 0) { /* step 6 */
		rc = -errno;
		jio_unlink(j->dirfd, tmp);
		return rc;
	}
	if (crash_point(j, 6))
		return -EIO;
	if (fsync(j->dirfd) < 0) /* step 7 */
		return -errno;
	j->snapshot_bytes = (uint64_t)st.st_size;
	j->snapshot_time = c->now;
	return crash_point(j, 7) ? -EIO : 0;
}

int
journal_compact_end(struct journal *j, struct journal_compaction *c, int result)
{
	char tmp[JF_NAME_LEN];
	int rc = result;

	if (!j || !c || j->bg != c)
		return -EINVAL;
	j->bg = NULL;
	jf_name(tmp, JF_SNAPSHOT, c->gen, true);
	/* A handle given up meanwhile renames nothing: the restart replays the chain. */
	if (rc == 0 && j->phase != PHASE_READY)
		rc = -EIO;
	if (rc == 0 && crash_point(j, 5))
		rc = -EIO; /* as if the daemon died while the child wrote */
	else if (rc == 0)
		rc = establish_snapshot(j, c);
	else
		jio_unlink(j->dirfd, tmp);
	if (rc == 0)
		rc = drop_old(j, c->gen);
	compaction_free(c);
	return rc;
}

void
journal_compact_abandon(struct journal *j)
{
	char tmp[JF_NAME_LEN];

	if (!j || !j->bg)
		return;
	jf_name(tmp, JF_SNAPSHOT, j->bg->gen, true);
	jio_unlink(j->dirfd, tmp);
	compaction_free(j->bg);
	j->bg = NULL;
}
